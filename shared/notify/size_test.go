package notify

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

func TestBody_OversizedIsTruncatedUnderSNSLimit(t *testing.T) {
	in := remediated()
	tags := map[string]string{}
	for i := range 200 {
		tags[strings.Repeat("k", 10)+string(rune('a'+i%26))+strings.Repeat("x", i)] = strings.Repeat("v", 2000)
	}
	in.Finding.Instance.Tags = tags
	for range 40 {
		in.Finding.Instance.NetworkInterfaces = append(in.Finding.Instance.NetworkInterfaces, finding.NetworkInterface{ID: "eni-" + strings.Repeat("0", 17), SecurityGroupIDs: []string{strings.Repeat("sg-1", 500)}})
	}
	in.Error = &StepError{Step: "remediate", Error: "Guardbots.Failed", Cause: strings.Repeat("stack trace line\n", 20000)}
	m, b := build(t, in)
	if len(m.Body) > MaxBody {
		t.Fatalf("body is %d bytes, limit %d", len(m.Body), MaxBody)
	}
	if !b.Truncated || len(b.Omitted) == 0 {
		t.Errorf("truncated %t omitted %v, want it said", b.Truncated, b.Omitted)
	}
	if b.Finding == nil || b.Finding.ID != in.Finding.ID || b.Finding.Instance.ID != "i-0abc1234def567890" {
		t.Errorf("truncation lost the finding's identity: %+v", b.Finding)
	}
	if b.Execution.ConsoleURL == "" || len(b.Actions) != 1 {
		t.Errorf("truncation lost the link or the actions: %+v %+v", b.Execution, b.Actions)
	}
	if len(in.Finding.Instance.Tags) != 200 {
		t.Error("Build modified its input")
	}
}

func TestBody_ThousandsOfActionsStillFit(t *testing.T) {
	in := remediated()
	for range 5000 {
		in.Results = append(in.Results, bots.Result{Bot: "notify_only", Status: bots.StatusNotified, Reason: strings.Repeat("r", 300)})
	}
	m, b := build(t, in)
	if len(m.Body) > MaxBody || !b.Truncated {
		t.Errorf("body %d bytes, truncated %t", len(m.Body), b.Truncated)
	}
}
