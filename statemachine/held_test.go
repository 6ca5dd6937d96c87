package statemachine_test

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

const heldReason = "held by the blast-radius limit: 10 disruptive actions in account 111122223333 this hour"

// heldRun: the bot is held by the blast-radius limit on its first run and remediates on its second
// (the runner lets an approved held action through); answer is what the approver sends.
func heldRun(t *testing.T, answer aslrun.Response) *aslrun.Execution {
	t.Helper()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o["ec2_stop_instance"] = []aslrun.Response{
		aslrun.Returns(obj{"bot": "ec2_stop_instance", "status": "skipped", "held": true, "reason": heldReason}),
		{JS: botJS},
	}
	o[statemachine.StateWaitForApproval] = []aslrun.Response{answer}
	return executeWithToken(t, o)
}

func TestExecute_HeldActionIsApprovedAndTheBotRunsAgainWithTheReasonAndApproval(t *testing.T) {
	t.Parallel()
	ex := heldRun(t, aslrun.Returns(obj{"approved": true, "approver": "alice"}))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Wait for approval", "ec2_stop_instance", "Notify")

	req := input(t, ex, statemachine.StateWaitForApproval, 0)
	p, _ := req["Payload"].(obj)
	act, _ := p["action"].(obj)
	if act["held"] != heldReason || act["approvalTimeoutSeconds"] != float64(3600) || p["taskToken"] != taskToken {
		t.Errorf("approval payload = %v, want the held reason and the default timeout", p)
	}
	in := input(t, ex, "ec2_stop_instance", 1)
	wantKeys(t, "second bot input", in, "finding", "action", "index", "execution", "mappingKey", "account", "approvalRequestedAt", "approvedAt")
	wantApprovalTimes(t, in)
	if first := input(t, ex, "ec2_stop_instance", 0); first[statemachine.ApprovedAt] != nil {
		t.Errorf("the held first run carries approval times: %v", first)
	}
	act, _ = in["action"].(obj)
	if ap, _ := act["approval"].(obj); ap["approver"] != "alice" || act["held"] != heldReason || act["mode"] != "AUTO" {
		t.Errorf("second bot action = %v", act)
	}
	// The rebuilt action keeps verify's signature (held and approval stay outside it), and so does the
	// approval request.
	want := obj{"v": float64(1), "signedAt": "2026-01-01T00:00:00Z", "sig": execID + "#0"}
	if !equalJSON(act["signature"], want) || !equalJSON(input(t, ex, "ec2_stop_instance", 0)["action"].(obj)["signature"], want) {
		t.Errorf("second bot action's signature = %v, want %v", act["signature"], want)
	}
	if r := onlyResult(t, ex); r["status"] != "remediated" || r["held"] != nil {
		t.Errorf("result = %v, want the second run's", r)
	}
}

func TestExecute_DeniedHeldActionIsSkippedAndTheBotIsNotRunAgain(t *testing.T) {
	t.Parallel()
	ex := heldRun(t, aslrun.Fails("Guardbots.Denied", "bob: not now"))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Wait for approval", "Notify")
	want := obj{"bot": "ec2_stop_instance", "status": "skipped", "reason": "denied by bob: not now"}
	if r := onlyResult(t, ex); !equalJSON(r, want) {
		t.Errorf("result = %v, want %v", r, want)
	}
}

func TestExecute_HeldActionTimeoutIsSkipped(t *testing.T) {
	t.Parallel()
	ex := heldRun(t, aslrun.Fails("States.Timeout", "Task timed out"))
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Wait for approval", "Notify")
	if r := onlyResult(t, ex); r["status"] != "skipped" || !strings.HasPrefix(r["reason"].(string), "approval timed out after 3600 seconds") {
		t.Errorf("result = %v", r)
	}
}

func TestExecute_ActionHeldAgainAfterApprovalIsRecordedNotAskedAgain(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o["ec2_stop_instance"] = []aslrun.Response{aslrun.Returns(obj{"bot": "ec2_stop_instance", "status": "skipped", "held": true, "reason": heldReason})}
	o[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	ex := executeWithToken(t, o)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Wait for approval", "ec2_stop_instance", "Notify")
	if r := onlyResult(t, ex); r["held"] != true || r["status"] != "skipped" {
		t.Errorf("result = %v", r)
	}
}
