package statemachine_test

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// The approval Task (lambda:invoke.waitForTaskToken) cannot run locally: its override stands for what
// the approver sends — the task output of send-task-success, or the error of send-task-failure, or
// States.Timeout when nobody answers.

// taskToken stands for $$.Task.Token, which aws-local-stepfunctions does not generate.
const taskToken = "AQCEAAAAKgAAAAMAAAAAtesttoken=="

// executeWithToken is execute with a task token in the context object.
func executeWithToken(t *testing.T, overrides map[string][]aslrun.Response) *aslrun.Execution {
	t.Helper()
	return executeIn(t, overrides, obj{"Task": obj{"Token": taskToken}})
}

func approveAction(bot string) obj {
	a := action(bot)
	a["mode"] = "APPROVE"
	a["approvalTimeoutSeconds"] = 900
	return a
}

func approvalRun(t *testing.T, answer aslrun.Response) *aslrun.Execution {
	t.Helper()
	o := pipeline(matched("remediate", approveAction("ec2_stop_instance")))
	o[statemachine.StateWaitForApproval] = []aslrun.Response{answer}
	return executeWithToken(t, o)
}

func onlyResult(t *testing.T, ex *aslrun.Execution) obj {
	t.Helper()
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 1 {
		t.Fatalf("results = %v", rs)
	}
	return rs[0]
}

func TestExecute_ApprovedActionRunsTheBotWithTheApprovalRecorded(t *testing.T) {
	t.Parallel()
	ex := approvalRun(t, aslrun.Returns(obj{"approved": true, "approver": "alice", "comment": "go"}))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "ec2_stop_instance", "Notify")

	// The approval request carries the iteration and the task token.
	req := input(t, ex, statemachine.StateWaitForApproval, 0)
	if p, _ := req["Payload"].(obj); p == nil {
		// aws-local-stepfunctions hands the override the Task's effective input (its Parameters).
		t.Fatalf("Wait for approval input = %v", req)
	} else {
		wantKeys(t, "approval payload", p, "finding", "action", "index", "execution", "account", "taskToken")
		if !equalJSON(p["action"], signedAs(approveAction("ec2_stop_instance"), 0)) || p["execution"] != execID || p["taskToken"] != taskToken {
			t.Errorf("approval payload = %v", p)
		}
	}
	in := input(t, ex, "ec2_stop_instance", 0)
	wantKeys(t, "bot input", in, "finding", "action", "index", "execution", "mappingKey", "account", "approvalRequestedAt", "approvedAt")
	wantApprovalTimes(t, in)
	act, _ := in["action"].(obj)
	if ap, _ := act["approval"].(obj); ap["approver"] != "alice" || ap["approved"] != true || act["mode"] != "APPROVE" || act["bot"] != "ec2_stop_instance" {
		t.Errorf("bot action = %v", act)
	}
	if r := onlyResult(t, ex); r["status"] != "remediated" {
		t.Errorf("result = %v", r)
	}
}

func TestExecute_DeniedActionRunsNothingAndIsSkippedNamingTheApprover(t *testing.T) {
	t.Parallel()
	ex := approvalRun(t, aslrun.Fails("Guardbots.Denied", "bob: that is the payment server"))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "Notify")
	want := obj{"bot": "ec2_stop_instance", "status": "skipped", "reason": "denied by bob: that is the payment server"}
	if r := onlyResult(t, ex); !equalJSON(r, want) {
		t.Errorf("result = %v, want %v", r, want)
	}
}

func TestExecute_ApprovedFalseRunsNothing(t *testing.T) {
	t.Parallel()
	ex := approvalRun(t, aslrun.Returns(obj{"approved": false, "approver": "carol"}))
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "Notify")
	if r := onlyResult(t, ex); r["status"] != "skipped" || r["reason"] != "denied by carol" {
		t.Errorf("result = %v", r)
	}
}

func TestExecute_AnswerThatIsNotAnApprovalRunsNothing(t *testing.T) {
	t.Parallel()
	for _, answer := range []any{obj{"approved": true}, obj{"approved": "true", "approver": 7}, "yes"} {
		ex := approvalRun(t, aslrun.Returns(answer))
		wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "Notify")
		if r := onlyResult(t, ex); r["status"] != "skipped" || !strings.HasPrefix(r["reason"].(string), "not approved") {
			t.Errorf("answer %v: result = %v", answer, r)
		}
	}
}

func TestExecute_ApprovalTimeoutRunsNothing(t *testing.T) {
	t.Parallel()
	ex := approvalRun(t, aslrun.Fails("States.Timeout", "Task timed out"))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "Notify")
	want := obj{"bot": "ec2_stop_instance", "status": "skipped", "reason": "approval timed out after 900 seconds: no action"}
	if r := onlyResult(t, ex); !equalJSON(r, want) {
		t.Errorf("result = %v, want %v", r, want)
	}
}

func TestExecute_ApprovalRequestThatCannotBeSentFailsTheAction(t *testing.T) {
	t.Parallel()
	ex := approvalRun(t, aslrun.Fails("Guardbots.Failed", "request_approval: publish: AuthorizationError"))
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "Notify")
	if r := onlyResult(t, ex); r["status"] != "failed" || r["error"] != "Guardbots.Failed" {
		t.Errorf("result = %v", r)
	}
}

func TestExecute_OnlyAPPROVEActionsWaitForApproval(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_create_snapshot"), approveAction("ec2_stop_instance")))
	o[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	ex := executeWithToken(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_create_snapshot", "Wait for approval", "ec2_stop_instance", "Notify")
}

func TestExecute_ForgedFindingRunsNoBotAndIsNotifiedAsRejected(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o[statemachine.StateVerify] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected",
		`verify: finding gd-1 disagrees with GuardDuty (detector d in us-east-1): account: input "111122223333", GuardDuty "999988887777"`)}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	// Not retried, no bot, one notification.
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Notify")
	n := input(t, ex, statemachine.StateNotify, 0)
	wantKeys(t, "notify input", n, "finding", "decision", "error", "execution")
	if e, _ := n["error"].(obj); e["step"] != "verify" || e["Error"] != "Guardbots.Rejected" || !strings.Contains(e["Cause"].(string), "disagrees with GuardDuty") {
		t.Errorf("notify error = %v", n["error"])
	}
}

func TestExecute_ThrottledVerifyIsRetried(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o[statemachine.StateVerify] = []aslrun.Response{aslrun.Fails("Guardbots.Throttled", "GetFindings: ThrottlingException"), {JS: verifyJS}}
	ex := execute(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Verify finding", "ec2_stop_instance", "Notify")
}

func TestExecute_FindingArchivedInGuardDutyIsSkipped(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o[statemachine.StateVerify] = []aslrun.Response{aslrun.Returns(obj{"finding": theFinding,
		"decision": obj{"decision": "skip", "reason": "finding is archived in GuardDuty", "mappingKey": "UnauthorizedAccess:EC2/*", "actions": []obj{}}})}
	ex := execute(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Notify")
	if rs := results(t, input(t, ex, statemachine.StateNotify, 0)); len(rs) != 0 {
		t.Errorf("results = %v", rs)
	}
}

func TestExecute_SkipAndNotifyDecisionsAreNotVerified(t *testing.T) {
	t.Parallel()
	for _, outcome := range []string{"skip", "notify"} {
		ex := execute(t, pipeline(matched(outcome)))
		wantCalls(t, ex, "Parse", "Transform", "Match", "Notify")
	}
}

// GuardDuty's copy, as verify returns it, replaces the input for every later state: the bots, the
// approval request and notify never see the input's finding or match's decision again.
func TestExecute_VerifiedCopyReplacesTheInputForEveryLaterState(t *testing.T) {
	t.Parallel()
	copyOf := obj{"id": "gd-1", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "severity": 5.0, "resourceRole": "ACTOR",
		"accountId": "111122223333", "region": "us-east-1", "resourceKind": "Instance", "instance": obj{"id": "i-0123456789abcdef0"}}
	o := pipeline(matched("remediate", action("ec2_stop_instance"), obj{"bot": "ec2_tag_instance", "params": obj{}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 900}))
	o[statemachine.StateVerify] = []aslrun.Response{aslrun.Returns(obj{"finding": copyOf,
		"decision": obj{"decision": "remediate", "reason": "decided on GuardDuty's copy", "mappingKey": "UnauthorizedAccess:EC2/*", "verified": true,
			"account": verifiedAccount,
			"actions": []obj{action("ec2_stop_instance"), {"bot": "ec2_tag_instance", "params": obj{}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 900}}}})}
	o[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	ex := executeIn(t, o, obj{"Task": obj{"Token": "token"}})
	wantStatus(t, ex, "SUCCEEDED", "")
	for _, state := range []string{"ec2_stop_instance", statemachine.StateWaitForApproval, "ec2_tag_instance"} {
		in := input(t, ex, state, 0)
		f := in["finding"]
		if p, ok := in["Payload"].(obj); ok {
			f = p["finding"]
		}
		if !equalJSON(f, copyOf) {
			t.Errorf("%s got finding %v, want GuardDuty's copy", state, f)
		}
	}
	n := input(t, ex, statemachine.StateNotify, 0)
	if !equalJSON(n["finding"], copyOf) || n["decision"].(obj)["verified"] != true || n["decision"].(obj)["reason"] != "decided on GuardDuty's copy" {
		t.Errorf("notify got finding %v decision %v", n["finding"], n["decision"])
	}
}

// Decided again on GuardDuty's copy, a remediate decision can become notify: no bot runs, the
// notification goes out.
func TestExecute_VerifyTurningTheDecisionIntoNotifyRunsNoBot(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o[statemachine.StateVerify] = []aslrun.Response{aslrun.Returns(obj{"finding": theFinding,
		"decision": obj{"decision": "notify", "reason": "mapping entry Recon:EC2/* is NOTIFY: notify only", "mappingKey": "Recon:EC2/*", "actions": []obj{}, "verified": true}})}
	ex := execute(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Notify")
	if rs := results(t, input(t, ex, statemachine.StateNotify, 0)); len(rs) != 0 {
		t.Errorf("results = %v", rs)
	}
}

// The approval request is routed by the account's owner and OU path, so the account it carries must be
// verify's lookup: an execution input (or match) naming another owner and OU is not what reaches the
// request, nor the bot.
func TestExecute_TheApprovalRequestCarriesVerifysAccountNeverTheInputs(t *testing.T) {
	t.Parallel()
	m := matched("remediate", approveAction("ec2_stop_instance"))
	m["decision"].(obj)["account"] = obj{"id": "111122223333", "name": "sandbox", "ouPath": []any{"r-ab12", "ou-ab12-sandbox0"}, "owner": "attacker-team"}
	o := pipeline(m)
	o[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	ex := executeWithToken(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	p, _ := input(t, ex, statemachine.StateWaitForApproval, 0)["Payload"].(obj)
	if p == nil || !equalJSON(p["account"], verifiedAccount) {
		t.Errorf("approval payload account = %v, want verify's %v", p, verifiedAccount)
	}
	if in := input(t, ex, "ec2_stop_instance", 0); !equalJSON(in["account"], verifiedAccount) {
		t.Errorf("bot input account = %v", in["account"])
	}
}

// wantApprovalTimes: the bot of an approved action gets when the approval was asked for and given, both
// $$.State.EnteredTime (one static time locally: aslrun.StaticState).
func wantApprovalTimes(t *testing.T, botInput obj) {
	t.Helper()
	want := enteredTime.Format("2006-01-02T15:04:05.000Z07:00")
	if botInput[statemachine.ApprovalRequestedAt] != want || botInput[statemachine.ApprovedAt] != want {
		t.Errorf("bot input's approval times = %v, %v, want %s (the context object's State.EnteredTime)",
			botInput[statemachine.ApprovalRequestedAt], botInput[statemachine.ApprovedAt], want)
	}
}

// The approval's times come from the context object only: times of the same names in the execution's
// input, in match's or verify's output (the finding, the decision, the action) or in the approver's
// answer never reach a bot, and an action nobody approved carries none.
func TestExecute_ApprovalTimesComeOnlyFromStepFunctions(t *testing.T) {
	t.Parallel()
	forged := obj{statemachine.ApprovalRequestedAt: "2000-01-01T00:00:00.000Z", statemachine.ApprovedAt: "2000-01-08T00:00:00.000Z"}
	with := func(o obj) obj {
		out := obj{}
		for k, v := range o {
			out[k] = v
		}
		for k, v := range forged {
			out[k] = v
		}
		return out
	}
	auto, approve := with(action("ec2_create_snapshot")), with(approveAction("ec2_stop_instance"))
	m := matched("remediate", auto, approve)
	m["finding"] = with(theFinding)
	m["decision"] = with(m["decision"].(obj))
	m = with(m)
	o := pipeline(m)
	o[statemachine.StateParse] = []aslrun.Response{aslrun.Returns(with(obj{"finding": with(parsed["finding"].(obj))}))}
	o[statemachine.StateTransform] = []aslrun.Response{aslrun.Returns(with(obj{"finding": with(theFinding)}))}
	// Verify (the stand-in) passes on whatever it was given, extra keys included.
	o[statemachine.StateVerify] = []aslrun.Response{{JS: `(x) => ({...x, ...(` + verifyJS + `)(x), approvalRequestedAt: '2000-01-01T00:00:00.000Z'})`}}
	o[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(with(obj{"approved": true, "approver": "alice"}))}
	ex := executeIn(t, o, obj{"Task": obj{"Token": taskToken}})
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_create_snapshot", "Wait for approval", "ec2_stop_instance", "Notify")

	in := input(t, ex, "ec2_create_snapshot", 0)
	if _, ok := in[statemachine.ApprovalRequestedAt]; ok {
		t.Errorf("the AUTO action's bot input carries approval times: %v", in)
	}
	if _, ok := in[statemachine.ApprovedAt]; ok {
		t.Errorf("the AUTO action's bot input carries approval times: %v", in)
	}
	in = input(t, ex, "ec2_stop_instance", 0)
	wantApprovalTimes(t, in)
}
