package statemachine_test

import (
	"testing"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// The scheduled clean-up of expired IAM denies through the committed definition: the schedule's request
// passes parse, transform and match as itself; verify ("Plan clean-up") is given only the decision and
// the execution, and its plan — not the input — drives the clean-up Map, one deny bot per item.

// cleanupItem is one action of verify's plan: a deny bot's pruneOnly action with its own finding.
func cleanupItem(bot, role string) obj {
	return obj{
		"finding":    obj{"id": "c-" + role, "source": "schedule", "accountId": "111122223333", "region": "us-east-1", "resourceKind": "AccessKey"},
		"action":     obj{"bot": bot, "params": obj{"pruneOnly": true}, "onError": "continue", "mode": "AUTO", "signature": obj{"v": 1, "sig": "signed"}},
		"index":      0,
		"mappingKey": "scheduled clean-up of expired IAM denies",
	}
}

func cleanupPipeline(plan ...obj) map[string][]aslrun.Response {
	decision := obj{"decision": "expire-denies", "reason": "the schedule asks", "mappingKey": "scheduled clean-up of expired IAM denies", "actions": []obj{}}
	o := pipeline(obj{"finding": nil, "decision": decision})
	o[statemachine.StateParse] = []aslrun.Response{aslrun.Returns(obj{"source": "schedule"})}
	o[statemachine.StateTransform] = []aslrun.Response{aslrun.Returns(obj{"finding": nil, "scheduled": "expire-denies"})}
	out := obj{"finding": nil, "decision": decision}
	if plan != nil {
		out["cleanup"] = plan
	}
	o[statemachine.StateCleanupPlan] = []aslrun.Response{aslrun.Returns(out)}
	for _, b := range []string{"iam_deny_session", "iam_deny_source_ip"} {
		o[statemachine.CleanupState(b)] = []aslrun.Response{{JS: botJS}}
	}
	return o
}

func TestExecute_TheScheduleRunsVerifysCleanupPlanAndNotifies(t *testing.T) {
	t.Parallel()
	ex := execute(t, cleanupPipeline(cleanupItem("iam_deny_session", "web"), cleanupItem("iam_deny_source_ip", "ci")))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, statemachine.StateParse, statemachine.StateTransform, statemachine.StateMatch, statemachine.StateCleanupPlan,
		statemachine.CleanupState("iam_deny_session"), statemachine.CleanupState("iam_deny_source_ip"), statemachine.StateNotify)
	wantKeys(t, "the clean-up plan's input", input(t, ex, statemachine.StateCleanupPlan, 0), "decision", "execution")
	if in := input(t, ex, statemachine.StateCleanupPlan, 0); in["execution"] != execID {
		t.Errorf("verify was given execution %v", in["execution"])
	}
	for _, b := range []string{"iam_deny_session", "iam_deny_source_ip"} {
		in := input(t, ex, statemachine.CleanupState(b), 0)
		wantKeys(t, b+"'s input", in, "finding", "action", "index", "mappingKey", "execution")
		if act, _ := in["action"].(obj); act["bot"] != b || in["execution"] != execID {
			t.Errorf("%s was given %v", b, in)
		}
		if f, _ := in["finding"].(obj); f["source"] != "schedule" {
			t.Errorf("%s was given finding %v", b, in["finding"])
		}
	}
	n := input(t, ex, statemachine.StateNotify, 0)
	// The plan goes no further than the Map: notify gets the decision and the results.
	wantKeys(t, "notify's input", n, "decision", "results", "execution")
	if rs := results(t, n); len(rs) != 2 || rs[0]["bot"] != "iam_deny_session" || rs[1]["bot"] != "iam_deny_source_ip" {
		t.Errorf("notify results %v", rs)
	}
	wantExecution(t, n)
}

// Nothing expired: the hourly run ends quietly, nobody is told (it would be a message an hour).
func TestExecute_TheScheduleWithNothingExpiredEndsWithoutANotification(t *testing.T) {
	t.Parallel()
	ex := execute(t, cleanupPipeline())
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, statemachine.StateParse, statemachine.StateTransform, statemachine.StateMatch, statemachine.StateCleanupPlan)
}

// A failed clean-up is recorded and fails the execution (alarmed); a plan naming a bot that cannot
// clean up runs nothing of it.
func TestExecute_AFailedCleanupFailsTheExecutionAndOnlyDenyBotsRun(t *testing.T) {
	t.Parallel()
	o := cleanupPipeline(cleanupItem("iam_deny_session", "web"), cleanupItem("ec2_stop_instance", "i"))
	o[statemachine.CleanupState("iam_deny_session")] = []aslrun.Response{aslrun.Fails("Guardbots.Failed", "AccessDenied: iam:DeleteRolePolicy")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, statemachine.StateParse, statemachine.StateTransform, statemachine.StateMatch, statemachine.StateCleanupPlan,
		statemachine.CleanupState("iam_deny_session"), statemachine.StateNotify)
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 2 || rs[0]["status"] != "failed" || rs[0]["error"] != "Guardbots.Failed" || rs[1]["bot"] != "ec2_stop_instance" || rs[1]["status"] != "failed" || rs[1]["error"] != "Guardbots.Rejected" {
		t.Errorf("results %v", rs)
	}
}

// A failed plan (no state table to read, no key to sign with) is notified as verify's error.
func TestExecute_AFailedCleanupPlanIsNotifiedAndFails(t *testing.T) {
	t.Parallel()
	o := cleanupPipeline()
	o[statemachine.StateCleanupPlan] = []aslrun.Response{aslrun.Fails("Guardbots.Failed", "no state table")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, statemachine.StateParse, statemachine.StateTransform, statemachine.StateMatch, statemachine.StateCleanupPlan, statemachine.StateNotify)
	if e, _ := input(t, ex, statemachine.StateNotify, 0)["error"].(obj); e["step"] != "verify" || e["Error"] != "Guardbots.Failed" {
		t.Errorf("notify error %v", e)
	}
}

// A deployment's definition (Deployed) keeps the clean-up path for its enabled deny bot and answers an
// item for one it does not run with "Deny bot not deployed", running nothing of it.
func TestExecute_TheScheduleThroughADeploymentsDefinition(t *testing.T) {
	t.Parallel()
	o := cleanupPipeline(cleanupItem("iam_deny_session", "web"), cleanupItem("iam_deny_source_ip", "ci"))
	delete(o, statemachine.CleanupState("iam_deny_source_ip")) // no Lambda to stand in for
	ex := executeDefinition(t, deployed(t, append(append([]string{}, someBots...), "iam_deny_session")), o, obj{})
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, statemachine.StateParse, statemachine.StateTransform, statemachine.StateMatch, statemachine.StateCleanupPlan,
		statemachine.CleanupState("iam_deny_session"), statemachine.StateNotify)
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 2 || rs[0]["bot"] != "iam_deny_session" || rs[0]["status"] != "remediated" ||
		rs[1]["bot"] != "iam_deny_source_ip" || rs[1]["status"] != "failed" || rs[1]["error"] != "Guardbots.Rejected" {
		t.Errorf("results %v", rs)
	}
}
