package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
)

// Neither local tool writes an execution history as Step Functions does (kumo's holds only the start and
// end, aws-local-stepfunctions has none), so these tests serve GetExecutionHistory pages in the shapes the
// Step Functions API reference documents (HistoryEvent: id, previousEventId, timestamp, type and the
// type's details; TaskScheduledEventDetails' parameters and TaskSucceededEventDetails' output as JSON
// strings) from a small server the real SDK client talks to (awsJson1_0, X-Amz-Target).

const (
	histExec   = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-7"
	otherExec  = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-8"
	histSM     = "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation"
	taskToken  = "AQCEAAAAKgAAAAMAAAAAAAAAAVERYSECRETTASKTOKEN/with+base64=="
	heldReason = "held by the blast-radius limit: 10 disruptive actions in account 111122223333 in the last hour"
)

// history builds an execution's events as Step Functions links them: each event's previousEventId is
// the event before it in the same branch; with the Map's MaxConcurrency of 1 that is one chain, and an
// iteration's MapIterationStarted follows the previous iteration's last state event (as AWS records it).
type history struct {
	events []map[string]any
	last   int64
	t0     time.Time
}

func newHistory() *history { return &history{t0: time.Date(2026, 11, 27, 17, 10, 15, 0, time.UTC)} }

func (h *history) add(typ string, details map[string]any) int64 {
	id := int64(len(h.events) + 1)
	e := map[string]any{"id": id, "previousEventId": h.last, "type": typ,
		"timestamp": float64(h.t0.Add(time.Duration(id)*time.Second).UnixMilli()) / 1000}
	for k, v := range details {
		e[k] = v
	}
	h.events = append(h.events, e)
	h.last = id
	return id
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func (h *history) state(kind, name string) {
	h.add(kind+"StateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": name, "input": "{}", "inputDetails": map[string]any{"truncated": false}}})
	h.add(kind+"StateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": name, "output": "{}", "outputDetails": map[string]any{"truncated": false}}})
}

// bot is a bot's Task on its function ARN (Lambda events, not Task events).
func (h *history) bot(name, result string) {
	h.state("Choice", "Which bot?")
	h.add("TaskStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": name, "input": "{}"}})
	arn := "arn:aws:lambda:us-east-1:111122223333:function:guardbots-" + name
	h.add("LambdaFunctionScheduled", map[string]any{"lambdaFunctionScheduledEventDetails": map[string]any{"resource": arn, "input": "{}", "timeoutInSeconds": 300}})
	h.add("LambdaFunctionStarted", nil)
	h.add("LambdaFunctionSucceeded", map[string]any{"lambdaFunctionSucceededEventDetails": map[string]any{"output": result}})
	h.add("TaskStateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": name, "output": "{}"}})
	h.state("Choice", "Held by blast-radius limit?")
}

// approval is the approval Task: scheduled with the action (and the task token), answered with answer
// (an object: SendTaskSuccess; a string: SendTaskFailure with that cause).
func (h *history) approval(index int, action map[string]any, answer any) {
	h.state("Pass", "Prepare approval")
	h.add("TaskStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": steps.StateWaitForApproval, "input": "{}"}})
	params := js(map[string]any{"FunctionName": "arn:aws:lambda:us-east-1:111122223333:function:guardbots-request_approval",
		"Payload": map[string]any{"finding": map[string]any{"id": "f1"}, "action": action, "index": index, "execution": histExec, "taskToken": taskToken}})
	h.add("TaskScheduled", map[string]any{"taskScheduledEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
		"region": "us-east-1", "parameters": params, "timeoutInSeconds": 3600}})
	h.add("TaskStarted", map[string]any{"taskStartedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken"}})
	h.add("TaskSubmitted", map[string]any{"taskSubmittedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
		"output": `{"ExecutedVersion":"$LATEST","Payload":{"messageId":"m-1"},"StatusCode":200}`}})
	switch a := answer.(type) {
	case string:
		h.add("TaskFailed", map[string]any{"taskFailedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
			"error": "Guardbots.Denied", "cause": a}})
		return
	default:
		h.add("TaskSucceeded", map[string]any{"taskSucceededEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
			"output": js(a), "outputDetails": map[string]any{"truncated": false}}})
	}
	h.add("TaskStateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": steps.StateWaitForApproval, "output": "{}"}})
	h.state("Choice", "Approved?")
	h.state("Pass", "Run approved action")
}

func (h *history) iteration(index int, body func()) {
	h.add("MapIterationStarted", map[string]any{"mapIterationStartedEventDetails": map[string]any{"name": steps.StateRemediate, "index": index}})
	h.state("Choice", "Needs approval?")
	body()
	h.state("Pass", "Record result")
	h.add("MapIterationSucceeded", map[string]any{"mapIterationSucceededEventDetails": map[string]any{"name": steps.StateRemediate, "index": index}})
	// The next iteration's first event follows this iteration's last state event.
	h.last -= 1
}

// start is what comes before the Map.
func (h *history) start() {
	h.add("ExecutionStarted", map[string]any{"executionStartedEventDetails": map[string]any{"input": "{}", "roleArn": "arn:aws:iam::111122223333:role/sm"}})
	for _, s := range []string{"Parse", "Transform", "Match", "Verify finding"} {
		h.state("Task", s)
	}
	h.add("MapStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": steps.StateRemediate, "input": "{}"}})
	h.add("MapStateStarted", map[string]any{"mapStateStartedEventDetails": map[string]any{"length": 2}})
}

var (
	approveStop = map[string]any{"bot": "ec2_stop_instance", "params": map[string]any{}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 3600}
	heldStop    = map[string]any{"bot": "ec2_stop_instance", "params": map[string]any{}, "onError": "continue", "mode": "AUTO", "approvalTimeoutSeconds": 3600, "held": heldReason}
	alice       = map[string]any{"approved": true, "approver": "alice", "comment": "confirmed with the app owner"}
	bob         = map[string]any{"approved": true, "approver": "bob"}
)

// historyServer serves each execution's events in pages of pageSize (whatever maxResults asks), and
// counts the requests.
type historyServer struct {
	*httptest.Server
	mu       sync.Mutex
	byExec   map[string][]map[string]any
	pageSize int
	requests int
}

func newHistoryServer(t *testing.T, pageSize int, byExec map[string][]map[string]any) *historyServer {
	s := &historyServer{byExec: byExec, pageSize: pageSize}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *historyServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	var in struct {
		ExecutionArn string `json:"executionArn"`
		NextToken    string `json:"nextToken"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if r.Header.Get("X-Amz-Target") != "AWSStepFunctions.GetExecutionHistory" {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"__type":"UnknownOperationException"}`))
		return
	}
	events, ok := s.byExec[in.ExecutionArn]
	if !ok {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"__type":"ExecutionDoesNotExist","message":"Execution Does Not Exist: '` + in.ExecutionArn + `'"}`))
		return
	}
	from, _ := strconv.Atoi(in.NextToken)
	to := min(from+s.pageSize, len(events))
	out := map[string]any{"events": events[from:to]}
	if to < len(events) {
		out["nextToken"] = strconv.Itoa(to)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *historyServer) verifier() *plan.Verifier {
	client := sfn.New(sfn.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1})
	return &plan.Verifier{States: client, StateMachineArn: histSM, MaxAge: steps.ExecutionTimeout}
}

func approved(index int, held string, a map[string]any) plan.Action {
	act := plan.Action{Execution: histExec, Index: index, Action: mapping.Action{Bot: "ec2_stop_instance", Params: map[string]any{}, Mode: "APPROVE", Held: held}}
	if held != "" {
		act.Action.Mode = "AUTO"
	}
	if a != nil {
		var ap mapping.Approval
		_ = json.Unmarshal([]byte(js(a)), &ap)
		act.Action.Approval = &ap
	}
	return act
}

// An execution with two actions: tag (AUTO), then stop in APPROVE mode, approved by alice; the limit
// then held the stop, and bob approved the hold.
func twoActionHistory() []map[string]any {
	h := newHistory()
	h.start()
	h.iteration(0, func() { h.bot("ec2_tag_instance", `{"status":"remediated"}`) })
	h.iteration(1, func() {
		h.approval(1, approveStop, alice)
		h.bot("ec2_stop_instance", `{"status":"skipped","held":true,"reason":"`+heldReason+`"}`)
		h.state("Pass", "Ask to approve held action")
		h.approval(1, heldStop, bob)
		h.bot("ec2_stop_instance", `{"status":"remediated"}`)
	})
	return h.events
}

func TestApproval_HonouredOnlyWhenTheHistoryShowsThatIterationsApprovalTaskSucceedingWithIt(t *testing.T) {
	srv := newHistoryServer(t, 4, map[string][]map[string]any{histExec: twoActionHistory(), otherExec: newHistory().events})
	v := srv.verifier()
	ctx := context.Background()

	// APPROVE mode: alice's answer to the approval task of iteration 1.
	ev, err := v.Approval(ctx, approved(1, "", alice))
	if err != nil {
		t.Fatalf("alice's approval: %v", err)
	}
	if ev.Iteration != 1 || ev.EventID == 0 || ev.Approver != "alice" || ev.Execution != histExec {
		t.Errorf("evidence %+v", ev)
	}
	for _, want := range []string{`approver "alice" as typed (a claim, not authenticated)`, "states:SendTaskSuccess", "CloudTrail", histExec} {
		if !strings.Contains(ev.String(), want) {
			t.Errorf("evidence %q lacks %q", ev.String(), want)
		}
	}
	// The hold: bob's answer to the approval task asked about it.
	if _, err := v.Approval(ctx, approved(1, heldReason, bob)); err != nil {
		t.Fatalf("bob's approval of the hold: %v", err)
	}
	if srv.requests < 2 {
		t.Errorf("%d history requests: the pages were not all read", srv.requests)
	}

	for name, a := range map[string]plan.Action{
		"a made-up approver":                   approved(1, "", map[string]any{"approved": true, "approver": "mallory"}),
		"alice's answer with another comment":  approved(1, "", map[string]any{"approved": true, "approver": "alice", "comment": "ok"}),
		"the approval of another action index": approved(0, "", alice),
		"an action index with no approval":     approved(2, "", alice),
		"a made-up held reason on alice's":     approved(1, "held by the blast-radius limit: made up", alice),
		"the APPROVE answer used for the hold": approved(1, heldReason, alice),
		"the hold's answer without the hold":   approved(1, "", bob),
		"another execution's approval":         func() plan.Action { a := approved(1, "", alice); a.Execution = otherExec; return a }(),
		"another bot":                          func() plan.Action { a := approved(1, "", alice); a.Action.Bot = "ec2_terminate_instance"; return a }(),
		"approved false":                       approved(1, "", map[string]any{"approved": false, "approver": "alice", "comment": "confirmed with the app owner"}),
		"no approval":                          approved(1, "", nil),
	} {
		if _, err := v.Approval(ctx, a); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v (%s), want rejected", name, err, faults.Classify(err))
		}
	}
}

func TestApproval_ADenialOrATruncatedAnswerIsNoApproval(t *testing.T) {
	h := newHistory()
	h.start()
	h.iteration(0, func() { h.approval(0, approveStop, "alice: not now") })
	denied := h.events
	h = newHistory()
	h.start()
	h.iteration(0, func() { h.approval(0, approveStop, alice) })
	for _, e := range h.events {
		if d, ok := e["taskSucceededEventDetails"].(map[string]any); ok {
			d["outputDetails"] = map[string]any{"truncated": true}
		}
	}
	truncated := h.events
	for name, events := range map[string][]map[string]any{"denied": denied, "truncated": truncated} {
		srv := newHistoryServer(t, 1000, map[string][]map[string]any{histExec: events})
		if _, err := srv.verifier().Approval(context.Background(), approved(0, "", alice)); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// A history that cannot be read fails the action (closed), naming the execution.
func TestApproval_AnUnreadableHistoryFailsClosed(t *testing.T) {
	srv := newHistoryServer(t, 10, map[string][]map[string]any{})
	_, err := srv.verifier().Approval(context.Background(), approved(1, "", alice))
	if err == nil || !strings.Contains(err.Error(), histExec) {
		t.Errorf("err = %v", err)
	}
}

// The history pages carry task tokens (TaskScheduled parameters): nothing the check logs or returns
// contains one.
func TestApproval_NeverLogsOrReturnsATaskToken(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	srv := newHistoryServer(t, 3, map[string][]map[string]any{histExec: twoActionHistory()})
	v := srv.verifier()
	var said []string
	for _, a := range []plan.Action{approved(1, "", alice), approved(1, heldReason, bob), approved(0, "", alice), approved(1, "x", alice)} {
		ev, err := v.Approval(context.Background(), a)
		if err != nil {
			said = append(said, err.Error())
		} else {
			said = append(said, ev.String())
		}
	}
	for _, s := range append(said, logs.String()) {
		if strings.Contains(s, "VERYSECRETTASKTOKEN") {
			t.Errorf("a task token in: %s", s)
		}
	}
}
