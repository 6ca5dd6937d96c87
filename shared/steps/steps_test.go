package steps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
)

// fixture reads one of the project's own finding events (written for the project; present in every clone).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func defaultMapping(t testing.TB) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse(mapping.Default())
	if err != nil {
		t.Fatalf("default mapping: %v", err)
	}
	return m
}

func TestDecide_SNSWrappedEC2FindingIsRemediatedByStopInstance(t *testing.T) {
	f, d, err := Decide(context.Background(), fixture(t, "envelope_sns_string.json"), defaultMapping(t), mapping.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != "sns" || f.AccountID != "111122223333" {
		t.Errorf("finding source/account = %q/%q", f.Source, f.AccountID)
	}
	if d.Outcome != mapping.Remediate || len(d.Actions) != 2 || d.Actions[1].Bot != "ec2_stop_instance" {
		t.Fatalf("decision = %+v, want remediate with ec2_tag_instance, ec2_stop_instance", d)
	}
}

func TestDecide_RejectsMalformedEventWithRejectedKind(t *testing.T) {
	_, _, err := Decide(context.Background(), []byte(`{"source":"aws.guardduty"`), defaultMapping(t), mapping.MatchOptions{})
	if faults.Classify(err) != faults.Rejected {
		t.Fatalf("error %v classified %q, want %q", err, faults.Classify(err), faults.Rejected)
	}
}

// BenchmarkPipeline is parse → transform → match in one process on a ~9 KB SNS-wrapped EC2 finding:
// the figure compared with CloudBots' 27 µs parse + transform.
func BenchmarkPipeline(b *testing.B) {
	raw := fixture(b, "envelope_sns_string.json")
	m := defaultMapping(b)
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, d, err := Decide(ctx, raw, m, mapping.MatchOptions{}); err != nil || d.Outcome != mapping.Remediate {
			b.Fatal(err, d)
		}
	}
}

func invokeErr(t *testing.T, err error) messages.InvokeResponse_Error {
	t.Helper()
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v is not an InvokeResponse_Error", err, err)
	}
	return ie
}

func TestLambda_NamesErrorsForTheStateMachine(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "slow down"}
	denied := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no"}
	cases := []struct {
		name string
		err  error
		want faults.Kind
	}{
		{"throttled", throttle, faults.Throttled},
		{"wrapped throttle", errors.Join(errors.New("stop i-1"), throttle), faults.Throttled},
		{"access denied", denied, faults.Failed},
		{"rejection", faults.Rejectf("bad input"), faults.Rejected},
		{"timeout", context.DeadlineExceeded, faults.Retryable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Lambda("test", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, c.err })
			_, err := h.Invoke(context.Background(), []byte(`{}`))
			ie := invokeErr(t, err)
			if ie.Type != string(c.want) {
				t.Errorf("errorType = %q, want %q", ie.Type, c.want)
			}
			if ie.Message != c.err.Error() {
				t.Errorf("errorMessage = %q, want %q", ie.Message, c.err.Error())
			}
		})
	}
}

func TestLambda_UndecodableInputIsRejected(t *testing.T) {
	h := Lambda("transform", Transform)
	_, err := h.Invoke(context.Background(), []byte(`[1,2]`))
	if ie := invokeErr(t, err); ie.Type != string(faults.Rejected) || !strings.Contains(ie.Message, "transform") {
		t.Fatalf("got %+v", ie)
	}
}

func TestLambda_WarmupDoesNotRunTheStep(t *testing.T) {
	ran := false
	for _, h := range []interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}{
		Lambda("x", func(context.Context, struct{}) (struct{}, error) { ran = true; return struct{}{}, nil }),
		Raw("y", func(context.Context, []byte) (struct{}, error) { ran = true; return struct{}{}, nil }),
	} {
		out, err := h.Invoke(context.Background(), Warmup)
		if err != nil || string(out) != `{"warm":true}` {
			t.Fatalf("warm-up = %s, %v", out, err)
		}
	}
	if ran {
		t.Fatal("warm-up ran the step")
	}
}

func TestParseLambda_OutputFeedsTransform(t *testing.T) {
	out, err := ParseLambda().Invoke(context.Background(), fixture(t, "ec2_malicious_ip_caller_custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	var event struct {
		Detail json.RawMessage `json:"detail"`
	}
	if len(keys["event"]) > 0 {
		if err := json.Unmarshal(keys["event"], &event); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := keys["detail"]; ok || (len(event.Detail) > 0 && string(event.Detail) != "null") {
		t.Errorf("parse output carries the raw event: %s", out)
	}
	tr, err := TransformLambda().Invoke(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var got Transformed
	if err := json.Unmarshal(tr, &got); err != nil {
		t.Fatal(err)
	}
	if got.Finding.Instance == nil || got.Finding.Instance.ID != "i-0abc1234def567890" {
		t.Fatalf("transformed finding = %+v", got.Finding)
	}
}

// What the AWS CLI prints for get-findings (PascalCase, the whole response) decides as the finding's own
// event does: make explain and make replay work on it.
func TestDecide_AWSCLIGetFindingsOutputDecidesAsTheEvent(t *testing.T) {
	cli, d1, err := Decide(context.Background(), fixture(t, "envelope_cli_get_findings_pascal.json"), defaultMapping(t), mapping.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, d2, err := Decide(context.Background(), fixture(t, "ec2_malicious_ip_caller_custom.json"), defaultMapping(t), mapping.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cli.Source != "direct" || cli.ID != ev.ID || cli.Instance.InstanceProfileArn != ev.Instance.InstanceProfileArn ||
		d1.Outcome != d2.Outcome || d1.Key != d2.Key || len(d1.Actions) != len(d2.Actions) {
		t.Errorf("CLI output: %+v %+v\nevent: %+v %+v", cli, d1, ev, d2)
	}
}
