package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

const execARN = "arn:aws:states:us-east-1:999988887777:execution:guardbots-remediation:6e1f0c2a-run"

func instanceFinding() *finding.Finding {
	return &finding.Finding{
		ID: "60baffd3f9042e38640f2300d5c5a631", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		Severity: 8, SeverityLabel: finding.SeverityHigh,
		AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		ResourceKind: finding.KindInstance, ResourceType: "Instance",
		Instance: &finding.Instance{ID: "i-0abc1234def567890", Tags: map[string]string{"Name": "web-1"}},
	}
}

func remediated() Input {
	return Input{
		Finding: instanceFinding(),
		Decision: &mapping.Decision{Outcome: mapping.Remediate, Reason: "matched", Key: "UnauthorizedAccess:EC2/*", Actions: []mapping.Action{{Bot: "ec2_stop_instance", Mode: "AUTO"}},
			Verified: true, Verification: "confirmed by GuardDuty (detector d in us-east-1)"},
		Results: []bots.Result{{
			Bot: "ec2_stop_instance", Status: bots.StatusRemediated, Account: "111122223333", Region: "us-east-1",
			Changes: []string{"stopped i-0abc1234def567890 (running -> stopped)"},
			Before:  map[string]string{"state": "running"}, After: map[string]string{"state": "stopped"},
		}},
		Execution: Execution{ID: execARN, Name: "6e1f0c2a-run"},
	}
}

func build(t *testing.T, in Input) (Message, Body) {
	t.Helper()
	m, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var b Body
	if err := json.Unmarshal(m.Body, &b); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	assertSubjectSafe(t, m.Subject)
	return m, b
}

// assertSubjectSafe checks SNS's subject rules, kept to the strict form: printable ASCII, under 100
// characters, starting with a letter, digit or punctuation mark.
func assertSubjectSafe(t *testing.T, s string) {
	t.Helper()
	if len(s) == 0 || len(s) >= 100 {
		t.Errorf("subject is %d characters: %q", len(s), s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Errorf("subject has byte %#x at %d: %q", s[i], i, s)
		}
	}
	if strings.Contains(s, "  ") || strings.HasPrefix(s, " ") {
		t.Errorf("subject has uncollapsed spaces: %q", s)
	}
}

func TestSubject_NamesSeverityTypeResourceWhereOutcomeAndBot(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Recon:EC2/Portscan"
	in.Finding.Instance.ID = "i-0abc1234"
	in.Results[0].Bot = "stop_bot"
	m, _ := build(t, in)
	want := "[guardbots] HIGH Recon:EC2/Portscan i-0abc1234 111122223333/us-east-1: remediated (stop_bot)"
	if m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
}

func TestSubject_TooLongShortensBotsThenDropsThemThenTheRegion(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Recon:EC2/Portscan"
	in.Finding.Instance.ID = "i-0abc1234"
	in.Results = []bots.Result{{Bot: "a_bot", Status: bots.StatusRemediated}, {Bot: "b_bot", Status: bots.StatusRemediated}, {Bot: "c_bot", Status: bots.StatusDryRun}}
	steps := []struct {
		typ, want string
	}{
		{"Recon:EC2/Portscan", "[guardbots] HIGH Recon:EC2/Portscan i-0abc1234 111122223333/us-east-1: remediated (a_bot +2)"},
		{"Recon:EC2/PortProbeUnprotectedPort", "[guardbots] HIGH Recon:EC2/PortProbeUnprotectedPort i-0abc1234 111122223333/us-east-1: remediated"},
		{"Recon:EC2/PortProbeEMRUnprotectedPort", "[guardbots] HIGH Recon:EC2/PortProbeEMRUnprotectedPort i-0abc1234 111122223333: remediated"},
	}
	for _, s := range steps {
		in.Finding.Type = s.typ
		if m, _ := build(t, in); m.Subject != s.want {
			t.Errorf("subject = %q, want %q", m.Subject, s.want)
		}
	}
}

func TestSubject_LongTypeLosesSuffixThenTail(t *testing.T) {
	in := remediated() // UnauthorizedAccess:EC2/MaliciousIPCaller.Custom with a 19-character instance id
	m, _ := build(t, in)
	want := "[guardbots] HIGH UnauthorizedAccess:EC2/MaliciousIP... i-0abc1234def567890 111122223333: remediated"
	if m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	in.Finding.Instance.ID = "i-0abc1234"
	m, _ = build(t, in)
	if want := "[guardbots] HIGH UnauthorizedAccess:EC2/MaliciousIPCaller i-0abc1234 111122223333: remediated"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
}

func TestSubject_HostileValuesAreSanitized(t *testing.T) {
	hostile := []struct{ name, typ, id, account string }{
		{"newlines", "Backdoor:EC2/C&CActivity.B!DNS\r\nBcc: attacker@example.com", "i-0abc\n\nX-Injected: 1", "111122223333"},
		{"bidi overrides", "Trojan:EC2/\u202eSNDkcalB\u202c.B", "i-\u2066evil\u2069", "1111\u200b22223333"},
		{"huge tag-sized values", strings.Repeat("UnauthorizedAccess:EC2/", 500), strings.Repeat("A", 10*1024), "111122223333"},
		{"non-ASCII", "Impact:EC2/Bitcoin\u00e9\u00e8\u4e2d\u6587", "i-\u0430bc", "111122223333"},
		{"controls", "\x00\x07\x1b[31mRecon\x7f:EC2/X", "i-\t0abc", "\x1b111122223333"},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			in := remediated()
			in.Finding.Type, in.Finding.Instance.ID, in.Finding.AccountID = h.typ, h.id, h.account
			m, _ := build(t, in)
			for _, bad := range []string{"\r", "\n", "\u202e", "\u2066", "\x1b", "\x00", "\x7f"} {
				if strings.Contains(m.Subject, bad) {
					t.Errorf("subject %q contains %q", m.Subject, bad)
				}
			}
			if !strings.HasSuffix(m.Subject, ": remediated") && !strings.Contains(m.Subject, ": remediated (") {
				t.Errorf("subject %q lost the outcome", m.Subject)
			}
			if !strings.HasPrefix(m.Subject, "[guardbots] HIGH ") {
				t.Errorf("subject %q lost the severity", m.Subject)
			}
		})
	}
}

func TestSubject_BidiOverrideIsRemovedNotReplaced(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Trojan:EC2/\u202eabc"
	m, _ := build(t, in)
	if !strings.Contains(m.Subject, "Trojan:EC2/abc ") {
		t.Errorf("subject = %q, want the override dropped", m.Subject)
	}
}

func TestSubject_LongTypeIsEllipsizedAndKeepsItsStart(t *testing.T) {
	in := remediated()
	in.Finding.Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS" + strings.Repeat("X", 80)
	m, _ := build(t, in)
	if !strings.Contains(m.Subject, "UnauthorizedAccess:IAMUser/") || !strings.Contains(m.Subject, "...") {
		t.Errorf("subject = %q, want the type's start and an ellipsis", m.Subject)
	}
	if !strings.Contains(m.Subject, "111122223333") {
		t.Errorf("subject = %q, want the account kept", m.Subject)
	}
}

func TestSubject_WithoutFindingNamesStepAndError(t *testing.T) {
	m, b := build(t, Input{
		Error:     &StepError{Step: "parse", Error: "Guardbots.Rejected", Cause: "not a GuardDuty finding"},
		Execution: Execution{ID: execARN},
	})
	if m.Outcome != OutcomeRejected || m.Subject != "[guardbots] rejected at parse: Guardbots.Rejected" {
		t.Errorf("outcome %q subject %q", m.Outcome, m.Subject)
	}
	if b.Error == nil || b.Error.Cause != "not a GuardDuty finding" || b.Finding != nil {
		t.Errorf("body error %+v finding %v", b.Error, b.Finding)
	}
}

func TestOutcome_PerInput(t *testing.T) {
	res := func(ss ...bots.Status) []bots.Result {
		var out []bots.Result
		for _, s := range ss {
			out = append(out, bots.Result{Bot: "b", Status: s})
		}
		return out
	}
	f := instanceFinding()
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"remediated", Input{Finding: f, Results: res(bots.StatusRemediated, bots.StatusAlreadyDone)}, OutcomeRemediated},
		{"action failed after another remediated", Input{Finding: f, Results: res(bots.StatusRemediated, bots.StatusFailed)}, OutcomePartial},
		{"action failed", Input{Finding: f, Results: res(bots.StatusSkipped, bots.StatusFailed)}, OutcomeFailed},
		{"caught step error", Input{Finding: f, Error: &StepError{Step: "match", Error: "Guardbots.Failed"}}, OutcomeFailed},
		{"timeout", Input{Finding: f, Error: &StepError{Step: "remediate", Error: "States.Timeout"}}, OutcomeFailed},
		{"rejected", Input{Error: &StepError{Step: "parse", Error: "Guardbots.Rejected"}}, OutcomeRejected},
		{"dry run", Input{Finding: f, Results: res(bots.StatusDryRun)}, OutcomeDryRun},
		{"already done", Input{Finding: f, Results: res(bots.StatusAlreadyDone, bots.StatusSkipped)}, OutcomeAlreadyDone},
		{"notify only bot", Input{Finding: f, Results: res(bots.StatusNotified)}, OutcomeNotifyOnly},
		{"notify decision", Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.NotifyOnly}}, OutcomeNotifyOnly},
		{"skip decision", Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "sample finding"}}, OutcomeSkipped},
		{"all skipped", Input{Finding: f, Results: res(bots.StatusSkipped)}, OutcomeSkipped},
	}
	for _, c := range cases {
		if got := OutcomeOf(c.in); got != c.want {
			t.Errorf("%s: outcome = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestBody_RemediatedCarriesFindingDecisionActionsAndLink(t *testing.T) {
	m, b := build(t, remediated())
	if m.Outcome != OutcomeRemediated || b.Outcome != OutcomeRemediated || m.Severity != "HIGH" {
		t.Errorf("outcome %q/%q severity %q", m.Outcome, b.Outcome, m.Severity)
	}
	if b.Finding == nil || b.Finding.Instance.ID != "i-0abc1234def567890" || b.Decision == nil || b.Decision.Key != "UnauthorizedAccess:EC2/*" {
		t.Errorf("finding/decision missing: %+v %+v", b.Finding, b.Decision)
	}
	if len(b.Actions) != 1 || b.Actions[0].After["state"] != "stopped" || len(b.Actions[0].Changes) != 1 {
		t.Errorf("actions = %+v", b.Actions)
	}
	if b.Execution.ARN != execARN || b.Execution.ConsoleURL != "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"+execARN {
		t.Errorf("execution = %+v", b.Execution)
	}
	if !strings.HasPrefix(b.Summary, "remediated: HIGH UnauthorizedAccess:EC2/MaliciousIPCaller.Custom on i-0abc1234def567890 in 111122223333/us-east-1; actions: ec2_stop_instance remediated") {
		t.Errorf("summary = %q", b.Summary)
	}
	if b.Truncated {
		t.Error("a small body must not be truncated")
	}
	if b.FindingFrom != "guardduty" {
		t.Errorf("findingFrom %q for a verified finding", b.FindingFrom)
	}
}

func TestBody_FailedActionCarriesErrorAndCause(t *testing.T) {
	in := remediated()
	in.Results = append(in.Results, bots.Result{Bot: "ec2_create_snapshot", Status: bots.StatusFailed, Error: "Guardbots.Failed", Cause: "ec2_create_snapshot: UnauthorizedOperation"})
	in.Error = nil
	m, b := build(t, in)
	if m.Outcome != OutcomePartial {
		t.Errorf("outcome = %q", m.Outcome)
	}
	if b.Actions[1].Error != "Guardbots.Failed" || !strings.Contains(b.Actions[1].Cause, "UnauthorizedOperation") {
		t.Errorf("failed action = %+v", b.Actions[1])
	}
	if !strings.Contains(m.Subject, "partially-remediated") {
		t.Errorf("subject = %q", m.Subject)
	}
}

func TestBody_SkipCarriesDecisionReasonAndEmptyActions(t *testing.T) {
	in := Input{Finding: instanceFinding(), Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "no mapping entry for this finding type"}, Execution: Execution{ID: execARN}}
	m, b := build(t, in)
	if m.Outcome != OutcomeSkipped || !strings.Contains(b.Summary, "no mapping entry") {
		t.Errorf("outcome %q summary %q", m.Outcome, b.Summary)
	}
	// Match decided on the input, which was never read back: the reader is told whose word it is.
	if b.FindingFrom != "event" || !strings.Contains(b.Summary, "(as the event says; not read back from GuardDuty)") {
		t.Errorf("findingFrom %q summary %q", b.FindingFrom, b.Summary)
	}
	if b.Actions == nil || len(b.Actions) != 0 {
		t.Errorf("actions = %v, want an empty list", b.Actions)
	}
	raw := map[string]any{}
	_ = json.Unmarshal(m.Body, &raw)
	if _, ok := raw["actions"].([]any); !ok {
		t.Errorf("actions must be a JSON list, got %v", raw["actions"])
	}
}

func TestConsoleURL_PerPartition(t *testing.T) {
	cases := map[string]string{
		"arn:aws:states:eu-west-1:123456789012:execution:sm:run-1":        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:sm:run-1",
		"arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run-1":    "https://console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run-1",
		"arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:r": "https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:r",
		"local-run-42": "",
		"arn:aws:lambda:us-east-1:123456789012:function:f":                "",
		"arn:aws:states:us-east-1:123456789012:execution:sm:x\"><script>": "",
		"arn:aws-iso:states:us-iso-east-1:123456789012:execution:sm:r":    "",
	}
	for in, want := range cases {
		if got := ConsoleURL(in); got != want {
			t.Errorf("ConsoleURL(%q) = %q, want %q", in, got, want)
		}
	}
}

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

func TestHeldAction_OutcomeIsHeldAndTheSummarySaysWhyAndWarns(t *testing.T) {
	in := remediated()
	in.Results = append(in.Results, bots.Result{Bot: "ec2_quarantine_instance", Status: bots.StatusSkipped, Held: true,
		Reason:   "blast-radius limit reached (10 disruptive actions in account 111122223333 this hour): approve it by hand",
		Warnings: []string{"audit record not written: throttled"}})
	m, b := build(t, in)
	if m.Outcome != OutcomeHeld || b.Outcome != OutcomeHeld {
		t.Fatalf("outcome = %q / %q, want %q", m.Outcome, b.Outcome, OutcomeHeld)
	}
	for _, want := range []string{"ec2_quarantine_instance held (blast-radius limit reached", "warnings: audit record not written"} {
		if !strings.Contains(b.Summary, want) {
			t.Errorf("summary %q does not contain %q", b.Summary, want)
		}
	}
	if !strings.HasSuffix(m.Subject, ": held") && !strings.Contains(m.Subject, ": held (") {
		t.Errorf("subject %q does not end with the held outcome", m.Subject)
	}
}
