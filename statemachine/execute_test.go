package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// These tests execute the generated definition with aws-local-stepfunctions, every Lambda replaced by
// a canned response, so the ASL's data flow, Retry, Catch and Map are checked without any Lambda.

const (
	execID   = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:test-run"
	execName = "test-run"
	execTime = "2026-01-02T03:04:05.000Z"
)

// enteredTime is $$.State.EnteredTime of every state of a local run (aslrun.StaticState).
var enteredTime = time.Date(2026, 1, 2, 3, 9, 17, 250e6, time.UTC)

// rawEvent is what EventBridge would start the execution with; nothing past Parse may carry it.
var rawEvent = obj{"version": "0", "source": "aws.guardduty", "detail-type": "GuardDuty Finding",
	"detail": obj{"id": "gd-1", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"}}

var (
	parsed     = obj{"finding": obj{"id": "gd-1", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"}}
	theFinding = obj{"id": "gd-1", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		"accountId": "111122223333", "region": "us-east-1", "resourceKind": "Instance"}
)

// Notify's override mimics notifystep.Notifier: failed when the event was rejected or any action failed.
const notifyJS = `(x) => {
  const failed = !!x.error || (x.results ?? []).some(r => r.status === 'failed');
  return {outcome: failed ? 'failed' : 'ok', messageId: 'msg-1', failed};
}`

// botJS reports success for whichever bot it stands in for.
const botJS = `(x) => ({bot: x.action.bot, status: 'remediated', resources: ['i-0123']})`

// verifyJS stands in for verify: it passes the finding and decision on and signs each action, the
// "signature" naming the execution and index it was given, so a test can see which one a bot received.
// Like verify, it sets the decision's account from its own lookup (verifiedAccount), whatever the input's
// decision carried.
const verifyJS = `(x) => ({finding: x.finding, decision: {...x.decision,
  account: {id: x.finding.accountId, name: 'payments-prod', ouPath: ['r-ab12', 'ou-ab12-prod0000'], owner: 'team-payments', ownerTag: 'owner'},
  actions: x.decision.actions.map((a, i) => ({...a, signature: {v: 1, signedAt: '2026-01-01T00:00:00Z', sig: x.execution + '#' + i}}))}})`

// verifiedAccount is the account verifyJS looks up for theFinding.
var verifiedAccount = obj{"id": "111122223333", "name": "payments-prod", "ouPath": []any{"r-ab12", "ou-ab12-prod0000"}, "owner": "team-payments", "ownerTag": "owner"}

// signedAs is a with the signature verifyJS gives the action at index.
func signedAs(a obj, index int) obj {
	out := obj{"signature": obj{"v": 1, "signedAt": "2026-01-01T00:00:00Z", "sig": fmt.Sprintf("%s#%d", execID, index)}}
	for k, v := range a {
		out[k] = v
	}
	return out
}

func action(bot string) obj {
	return obj{"bot": bot, "params": obj{}, "onError": "continue", "mode": "AUTO"}
}

func matched(outcome string, actions ...obj) obj {
	if actions == nil {
		actions = []obj{}
	}
	return obj{"finding": theFinding, "decision": obj{"decision": outcome, "reason": "test", "mappingKey": "UnauthorizedAccess:EC2/*", "actions": actions}}
}

// pipeline gives parse, transform and match canned successes, bots botJS and notify notifyJS; each
// test replaces what it is about.
func pipeline(m obj) map[string][]aslrun.Response {
	o := map[string][]aslrun.Response{
		statemachine.StateParse:     {aslrun.Returns(parsed)},
		statemachine.StateTransform: {aslrun.Returns(obj{"finding": theFinding})},
		statemachine.StateMatch:     {aslrun.Returns(m)},
		statemachine.StateNotify:    {{JS: notifyJS}},
		// GuardDuty confirms the finding: the decision passes unchanged, each action signed for the
		// execution it was given (what the verify Lambda does with KMS).
		statemachine.StateVerify: {{JS: verifyJS}},
	}
	for bot := range botStates() {
		o[bot] = []aslrun.Response{{JS: botJS}}
	}
	return o
}

func botStates() map[string]bool {
	out := map[string]bool{}
	for _, fn := range statemachine.Placeholders() {
		switch fn {
		case "parse", "transform", "match", "notify", "verify", "request_approval":
		default:
			out[fn] = true
		}
	}
	return out
}

func execute(t *testing.T, overrides map[string][]aslrun.Response) *aslrun.Execution {
	t.Helper()
	return executeIn(t, overrides, obj{})
}

// executeIn runs the committed definition on rawEvent with the overrides; the context object holds the
// execution and state machine, plus extra (the approval tests' task token).
func executeIn(t *testing.T, overrides map[string][]aslrun.Response, extra obj) *aslrun.Execution {
	t.Helper()
	def, err := statemachine.Definition()
	if err != nil {
		t.Fatal(err)
	}
	return executeDefinition(t, def, overrides, extra)
}

// executeDefinition runs def (the committed definition, or a deployment's) on rawEvent with the
// overrides.
func executeDefinition(t *testing.T, def []byte, overrides map[string][]aslrun.Response, extra obj) *aslrun.Execution {
	t.Helper()
	tl := tools(t)
	rendered, err := statemachine.Render(def, statemachine.LambdaARNs("aws", "us-east-1", "111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	contextObject := obj{"Execution": obj{"Id": execID, "Name": execName, "StartTime": execTime, "Input": rawEvent},
		"StateMachine": obj{"Id": "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation", "Name": "guardbots-remediation"},
		"State":        aslrun.StaticState(enteredTime)}
	for k, v := range extra {
		contextObject[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := tl.Run(ctx, aslrun.Job{
		Definition:     rendered,
		Input:          rawEvent,
		Context:        contextObject,
		Overrides:      overrides,
		InstantRetries: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status %s %s %s; calls %v", ex.Status, ex.Error, ex.Cause, ex.Calls())
	return ex
}

// input decodes the n-th invocation of state (0-based).
func input(t *testing.T, ex *aslrun.Execution, state string, n int) obj {
	t.Helper()
	for _, c := range ex.Invocations {
		if c.State != state {
			continue
		}
		if n == 0 {
			var m obj
			if err := json.Unmarshal(c.Input, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		n--
	}
	t.Fatalf("%s was not invoked that often; calls %v", state, ex.Calls())
	return nil
}

func wantCalls(t *testing.T, ex *aslrun.Execution, want ...string) {
	t.Helper()
	if got := ex.Calls(); !slices.Equal(got, want) {
		t.Fatalf("Task invocations\n got %v\nwant %v", got, want)
	}
}

func wantStatus(t *testing.T, ex *aslrun.Execution, status, errName string) {
	t.Helper()
	if ex.Status != status || ex.Error != errName {
		t.Fatalf("execution %s (%s: %s), want %s %s", ex.Status, ex.Error, ex.Cause, status, errName)
	}
}

func wantKeys(t *testing.T, what string, m obj, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s has keys %v, want %v", what, got, keys)
	}
}

func wantExecution(t *testing.T, notifyIn obj) {
	t.Helper()
	e, _ := notifyIn["execution"].(obj)
	wantKeys(t, "notify execution", e, "id", "name", "startTime")
	if e["id"] != execID || e["name"] != execName {
		t.Errorf("notify execution = %v, want id %s and name %s", e, execID, execName)
	}
	// aws-local-stepfunctions sets StartTime itself (the supplied one is overwritten), as AWS does.
	if st, _ := e["startTime"].(string); st == "" {
		t.Errorf("notify execution has no startTime: %v", e)
	} else if _, err := time.Parse(time.RFC3339, st); err != nil {
		t.Errorf("startTime %q: %v", st, err)
	}
}

func results(t *testing.T, notifyIn obj) []obj {
	t.Helper()
	rs, ok := notifyIn["results"].([]any)
	if !ok {
		t.Fatalf("notify input has no results array: %v", notifyIn["results"])
	}
	out := make([]obj, len(rs))
	for i, r := range rs {
		out[i] = r.(obj)
	}
	return out
}

func TestExecute_RemediateRunsActionsInDeclaredOrderAndNotifiesBothResults(t *testing.T) {
	t.Parallel()
	// Declared order is the reverse of the registry's alphabetical order, so order comes from the mapping.
	ex := execute(t, pipeline(matched("remediate", action("notify_only"), action("ec2_stop_instance"))))
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "notify_only", "ec2_stop_instance", "Notify")

	if in := input(t, ex, statemachine.StateTransform, 0); !equalJSON(in, parsed) {
		t.Errorf("Transform got %v, want Parse's output alone", in)
	}
	for i, bot := range []string{"notify_only", "ec2_stop_instance"} {
		in := input(t, ex, bot, 0)
		wantKeys(t, bot+" input", in, "finding", "action", "index", "execution", "mappingKey", "account")
		if in["index"] != float64(i) || in["execution"] != execID || in["mappingKey"] != "UnauthorizedAccess:EC2/*" || !equalJSON(in["finding"], theFinding) ||
			!equalJSON(in["action"], signedAs(action(bot), i)) {
			t.Errorf("%s input = %v", bot, in)
		}
	}
	n := input(t, ex, statemachine.StateNotify, 0)
	wantKeys(t, "notify input", n, "finding", "decision", "results", "execution")
	wantExecution(t, n)
	rs := results(t, n)
	if len(rs) != 2 || rs[0]["bot"] != "notify_only" || rs[1]["bot"] != "ec2_stop_instance" || rs[1]["status"] != "remediated" {
		t.Errorf("results = %v", rs)
	}
	var out obj
	if err := json.Unmarshal(ex.Output, &out); err != nil {
		t.Fatal(err)
	}
	if nt, _ := out["notified"].(obj); nt["messageId"] != "msg-1" {
		t.Errorf("output.notified = %v", out["notified"])
	}
}

func TestExecute_SkipNotifiesWithEmptyResultsAndSucceeds(t *testing.T) {
	t.Parallel()
	for _, outcome := range []string{"skip", "notify"} {
		ex := execute(t, pipeline(matched(outcome)))
		wantStatus(t, ex, "SUCCEEDED", "")
		wantCalls(t, ex, "Parse", "Transform", "Match", "Notify")
		n := input(t, ex, statemachine.StateNotify, 0)
		wantKeys(t, outcome+": notify input", n, "finding", "decision", "results", "execution")
		if rs := results(t, n); len(rs) != 0 {
			t.Errorf("%s: results = %v, want []", outcome, rs)
		}
		wantExecution(t, n)
	}
}

func TestExecute_ParseRejectionNotifiesWithoutTheRawEventAndFails(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("skip"))
	o[statemachine.StateParse] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected", "not a GuardDuty finding: source aws.ec2")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	// A rejection is not retried.
	wantCalls(t, ex, "Parse", "Notify")
	n := input(t, ex, statemachine.StateNotify, 0)
	wantKeys(t, "notify input", n, "error", "execution")
	want := obj{"step": "parse", "Error": "Guardbots.Rejected", "Cause": "not a GuardDuty finding: source aws.ec2"}
	if !equalJSON(n["error"], want) {
		t.Errorf("notify error = %v, want %v", n["error"], want)
	}
	wantExecution(t, n)
}

func TestExecute_TransformFailureNotifiesStepTransform(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("skip"))
	o[statemachine.StateTransform] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected", "no resource")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Notify")
	n := input(t, ex, statemachine.StateNotify, 0)
	wantKeys(t, "notify input", n, "error", "execution")
	if e, _ := n["error"].(obj); e["step"] != "transform" {
		t.Errorf("notify error = %v", n["error"])
	}
}

func TestExecute_MatchFailureKeepsTheFindingForNotify(t *testing.T) {
	t.Parallel()
	o := pipeline(nil)
	o[statemachine.StateMatch] = []aslrun.Response{aslrun.Fails("Guardbots.Failed", "match: mapping parameter: AccessDenied")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Notify")
	n := input(t, ex, statemachine.StateNotify, 0)
	wantKeys(t, "notify input", n, "finding", "error", "execution")
	want := obj{"step": "match", "Error": "Guardbots.Failed", "Cause": "match: mapping parameter: AccessDenied"}
	if !equalJSON(n["error"], want) || !equalJSON(n["finding"], theFinding) {
		t.Errorf("notify input = %v", n)
	}
}

func TestExecute_ThrottledBotIsRetriedAndSucceeds(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o["ec2_stop_instance"] = []aslrun.Response{aslrun.Fails("Guardbots.Throttled", "ec2 StopInstances: RequestLimitExceeded"), {JS: botJS}}
	ex := execute(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "ec2_stop_instance", "Notify")
	retried := 0
	for _, ev := range ex.Events {
		if ev.Type == "StateRetried" && ev.State == "ec2_stop_instance" {
			retried++
		}
	}
	if retried != 1 {
		t.Errorf("%d StateRetried events for ec2_stop_instance, want 1", retried)
	}
	if rs := results(t, input(t, ex, statemachine.StateNotify, 0)); len(rs) != 1 || rs[0]["status"] != "remediated" {
		t.Errorf("results = %v", rs)
	}
}

func TestExecute_BotThatKeepsFailingIsRecordedAndTheOtherResultKept(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance"), action("notify_only")))
	o["ec2_stop_instance"] = []aslrun.Response{aslrun.Fails("Guardbots.Retryable", "ec2 StopInstances: connection reset")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	// 1 call and 4 retries (the retrier's MaxAttempts), then the Catch; the next action still runs and
	// notify runs once.
	stops := slices.Repeat([]string{"ec2_stop_instance"}, 5)
	wantCalls(t, ex, slices.Concat([]string{"Parse", "Transform", "Match", "Verify finding"}, stops, []string{"notify_only", "Notify"})...)
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 2 {
		t.Fatalf("results = %v", rs)
	}
	want := obj{"bot": "ec2_stop_instance", "status": "failed", "error": "Guardbots.Retryable", "cause": "ec2 StopInstances: connection reset"}
	if !equalJSON(rs[0], want) {
		t.Errorf("results[0] = %v, want %v", rs[0], want)
	}
	if rs[1]["bot"] != "notify_only" || rs[1]["status"] != "remediated" {
		t.Errorf("results[1] = %v", rs[1])
	}
}

func TestExecute_NonRetryableBotErrorIsCaughtWithoutRetry(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_stop_instance")))
	o["ec2_stop_instance"] = []aslrun.Response{aslrun.Fails("Guardbots.Failed", "AccessDenied: ec2:StopInstances")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Notify")
	if rs := results(t, input(t, ex, statemachine.StateNotify, 0)); rs[0]["error"] != "Guardbots.Failed" {
		t.Errorf("results = %v", rs)
	}
}

func TestExecute_UnknownBotIsRecordedFailed(t *testing.T) {
	t.Parallel()
	ex := execute(t, pipeline(matched("remediate", action("no_such_bot"), action("notify_only"))))
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "notify_only", "Notify")
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 2 || rs[0]["bot"] != "no_such_bot" || rs[0]["status"] != "failed" || rs[0]["error"] != "Guardbots.Rejected" ||
		!strings.Contains(rs[0]["cause"].(string), "no_such_bot is not deployed") {
		t.Errorf("results = %v", rs)
	}
}

func TestExecute_UnknownDecisionIsReportedAsAMatchError(t *testing.T) {
	t.Parallel()
	ex := execute(t, pipeline(matched("approve")))
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Notify")
	n := input(t, ex, statemachine.StateNotify, 0)
	if e, _ := n["error"].(obj); e["step"] != "match" || !strings.Contains(e["Cause"].(string), "approve") {
		t.Errorf("notify error = %v", n["error"])
	}
}

func TestExecute_NotifyFailureFailsTheExecutionWithItsCause(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("skip"))
	o[statemachine.StateNotify] = []aslrun.Response{aslrun.Fails("Guardbots.Failed", "notify: publish: AuthorizationError")}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorNotifyFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Notify")
	if ex.Cause != "notify: publish: AuthorizationError" {
		t.Errorf("cause = %q", ex.Cause)
	}
}

func TestExecute_NotifyThrottledIsRetried(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("skip"))
	o[statemachine.StateNotify] = []aslrun.Response{aslrun.Fails("Lambda.TooManyRequestsException", "Rate exceeded"), {JS: notifyJS}}
	ex := execute(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Notify", "Notify")
}

func TestExecute_StepErrorFailsTheExecutionEvenIfNotifyCallsItFine(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("skip"))
	o[statemachine.StateParse] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected", "not a finding")}
	o[statemachine.StateNotify] = []aslrun.Response{aslrun.Returns(obj{"outcome": "skipped", "messageId": "m", "failed": false})}
	ex := execute(t, o)
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
}

// Verify signs the plan for the execution: the state machine gives it the execution ARN from the context
// object, and each bot gets its action with verify's signature.
func TestExecute_VerifyIsGivenTheExecutionAndEachBotItsSignedAction(t *testing.T) {
	t.Parallel()
	ex := execute(t, pipeline(matched("remediate", action("notify_only"), action("ec2_stop_instance"))))
	wantStatus(t, ex, "SUCCEEDED", "")
	in := input(t, ex, statemachine.StateVerify, 0)
	wantKeys(t, "verify input", in, "finding", "decision", "execution")
	if in["execution"] != execID {
		t.Errorf("verify was given execution %v, want %s", in["execution"], execID)
	}
	for i, bot := range []string{"notify_only", "ec2_stop_instance"} {
		act, _ := input(t, ex, bot, 0)["action"].(obj)
		if sig, _ := act["signature"].(obj); sig["sig"] != fmt.Sprintf("%s#%d", execID, i) {
			t.Errorf("%s got signature %v", bot, act["signature"])
		}
	}
}
