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

// The state machine's "Bot not deployed" result (a bot the deployment does not run): the summary says
// why beside the failure, and the body keeps how to enable it.
func TestBody_ABotNotDeployedIsReportedWithItsReason(t *testing.T) {
	in := remediated()
	in.Results = []bots.Result{{Bot: "ec2_terminate_instance", Status: bots.StatusFailed, Error: "Guardbots.Rejected",
		Reason: "not deployed: enabling it needs a deploy (CDK context enabledBots)",
		Cause:  "bot ec2_terminate_instance is not deployed: this deployment has no Lambda and no role for it."}}
	m, b := build(t, in)
	if m.Outcome != OutcomeFailed || !strings.Contains(b.Summary, "actions: ec2_terminate_instance failed (not deployed: enabling it needs a deploy (CDK context enabledBots))") {
		t.Errorf("outcome %q summary %q", m.Outcome, b.Summary)
	}
	if b.Actions[0].Cause == "" || b.Actions[0].Reason == "" {
		t.Errorf("action = %+v", b.Actions[0])
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
