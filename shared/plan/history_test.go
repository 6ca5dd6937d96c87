package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/plan/plantest"
)

// The execution histories these tests read are served by plantest.StatesServer in the shapes the Step
// Functions API reference documents: neither local tool writes one.

const (
	histExec   = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-7"
	otherExec  = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-8"
	histSM     = "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation"
	heldReason = "held by the blast-radius limit: 10 disruptive actions in account 111122223333 in the last hour"
)

var (
	approveStop = map[string]any{"bot": "ec2_stop_instance", "params": map[string]any{}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 3600}
	heldStop    = map[string]any{"bot": "ec2_stop_instance", "params": map[string]any{}, "onError": "continue", "mode": "AUTO", "approvalTimeoutSeconds": 3600, "held": heldReason}
	alice       = map[string]any{"approved": true, "approver": "alice", "comment": "confirmed with the app owner"}
	bob         = map[string]any{"approved": true, "approver": "bob"}
)

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func verifierOf(s *plantest.StatesServer) *plan.Verifier {
	return &plan.Verifier{States: s.Client(), StateMachineArn: histSM, MaxAge: deployment.ExecutionTimeout}
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
func twoActionHistory(execution string) *plantest.History {
	h := plantest.NewHistory(execution)
	h.Iteration(0, func() { h.Bot("ec2_tag_instance", `{"status":"remediated"}`) })
	h.Iteration(1, func() {
		h.Approval(1, approveStop, alice)
		h.Bot("ec2_stop_instance", `{"status":"skipped","held":true,"reason":"`+heldReason+`"}`)
		h.Held()
		h.Approval(1, heldStop, bob)
		h.Bot("ec2_stop_instance", `{"status":"remediated"}`)
	})
	return h
}

func TestApproval_HonouredOnlyWhenTheHistoryShowsThatIterationsApprovalTaskSucceedingWithIt(t *testing.T) {
	srv := plantest.NewStatesServer(t, histSM, 4, twoActionHistory(histExec), plantest.NewHistory(otherExec))
	v := verifierOf(srv)
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
	if n := srv.Requests("AWSStepFunctions.GetExecutionHistory"); n < 2*(len(twoActionHistory(histExec).Events)/4) {
		t.Errorf("%d history requests: the pages were not all read", n)
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
	denied := plantest.NewHistory(histExec)
	denied.Iteration(0, func() { denied.Approval(0, approveStop, "alice: not now") })
	truncated := plantest.NewHistory(histExec)
	truncated.Iteration(0, func() { truncated.Approval(0, approveStop, alice) })
	for _, e := range truncated.Events {
		if d, ok := e["taskSucceededEventDetails"].(map[string]any); ok {
			d["outputDetails"] = map[string]any{"truncated": true}
		}
	}
	for name, h := range map[string]*plantest.History{"denied": denied, "truncated": truncated} {
		srv := plantest.NewStatesServer(t, histSM, 1000, h)
		if _, err := verifierOf(srv).Approval(context.Background(), approved(0, "", alice)); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// A history that cannot be read fails the action (closed), naming the execution.
func TestApproval_AnUnreadableHistoryFailsClosed(t *testing.T) {
	srv := plantest.NewStatesServer(t, histSM, 10)
	_, err := verifierOf(srv).Approval(context.Background(), approved(1, "", alice))
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
	srv := plantest.NewStatesServer(t, histSM, 3, twoActionHistory(histExec))
	v := verifierOf(srv)
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
