package botstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
)

// approvedInput is an approved APPROVE action asked about at asked and approved at approved, as the
// state machine hands it to the bot ($$.State.EnteredTime of Prepare approval and Run approved action).
func approvedInput(asked, approved string) steps.BotInput {
	return steps.BotInput{
		Finding:   &finding.Finding{ID: "f1", AccountID: "111122223333", Region: "eu-west-1"},
		Execution: "arn:aws:states:eu-west-1:999988887777:execution:guardbots-remediation:e1",
		Action: mapping.Action{Bot: "ec2_stop_instance", Mode: "APPROVE",
			Approval: &mapping.Approval{Approved: true, Approver: "alice"}},
		ApprovalRequestedAt: asked, ApprovedAt: approved,
	}
}

func TestApprovalWait_IsTheSecondsFromTheRequestToTheApproval(t *testing.T) {
	for _, c := range []struct {
		asked, approved string
		want            time.Duration
	}{
		// The form Step Functions writes: milliseconds, UTC.
		{"2026-03-01T10:00:00.000Z", "2026-03-01T10:04:12.250Z", 4*time.Minute + 12250*time.Millisecond},
		{"2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z", 0},
		// ISO 8601 with an offset, and across midnight.
		{"2026-03-01T23:59:30.5+01:00", "2026-03-01T23:00:10.5Z", 40 * time.Second},
		// The longest approval a mapping allows, one day.
		{"2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z", 24 * time.Hour},
	} {
		got, err := ApprovalWait(approvedInput(c.asked, c.approved))
		if err != nil || got != c.want {
			t.Errorf("%s → %s: %v %v, want %v", c.asked, c.approved, got, err, c.want)
		}
	}
}

func TestApprovalWait_TimesThatGiveNoWaitAreNamed(t *testing.T) {
	for _, c := range []struct {
		asked, approved, want string
	}{
		{"", "2026-03-01T10:00:00Z", "no approvalRequestedAt"},
		{"2026-03-01T10:00:00Z", "", "no approvedAt"},
		{"yesterday", "2026-03-01T10:00:00Z", `approvalRequestedAt "yesterday" is not an ISO 8601 (RFC 3339) time`},
		{"2026-03-01T10:00:00Z", "1772359200", `approvedAt "1772359200" is not an ISO 8601`},
		{"2026-03-01T10:05:00Z", "2026-03-01T10:00:00Z", "is before approvalRequestedAt"},
		{"2026-03-01T10:00:00Z", "2026-03-09T10:00:00Z", "longer than an execution can last"},
		// A long value is clipped before it reaches a log line.
		{"2026-03-01T10:00:00Z", strings.Repeat("x", 5000), `approvedAt "` + strings.Repeat("x", 40) + `…"`},
	} {
		_, err := ApprovalWait(approvedInput(c.asked, c.approved))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: %v, want %q", c.asked, c.approved, err, c.want)
		}
	}
}

func TestApprovalWaitRecord_OnlyForAnApprovedActionWhoseRunIsFinal(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	in := approvedInput("2026-03-01T10:00:00.000Z", "2026-03-01T10:04:12.250Z")
	r, ok := ApprovalWaitRecord(ctx, "ec2_stop_instance", in, nil, now)
	if !ok || r.Metrics[0].Name != metrics.ApprovalWait || r.Metrics[0].Unit != "Seconds" || r.Metrics[0].Value != 252.25 ||
		r.Dims[metrics.DimBot] != "ec2_stop_instance" || r.Properties["account"] != "111122223333" || r.Properties["reason"] != "approve-mode" {
		t.Fatalf("%v %+v", ok, r)
	}
	// A failed bot still waited for its person: the failure is final, the wait is measured.
	if _, ok := ApprovalWaitRecord(ctx, "ec2_stop_instance", in, errors.New("AccessDenied"), now); !ok {
		t.Error("no record for an approved action that failed")
	}
	held := in
	held.Action.Held = "held by the blast-radius limit"
	if r, ok := ApprovalWaitRecord(ctx, "ec2_stop_instance", held, nil, now); !ok || r.Properties["reason"] != "held" {
		t.Errorf("held: %v %+v", ok, r)
	}
	none := map[string]steps.BotInput{}
	auto := in
	auto.Action.Approval, auto.Action.Mode = nil, "AUTO"
	none["no approval"] = auto
	denied := in
	denied.Action.Approval = &mapping.Approval{Approved: false, Approver: "bob"}
	none["approved false"] = denied
	for what, in := range none {
		if r, ok := ApprovalWaitRecord(ctx, "ec2_stop_instance", in, nil, now); ok {
			t.Errorf("%s: %+v", what, r)
		}
	}
	// Refused (a made-up approval is refused before the bot runs) or to be retried (the retry measures).
	for _, err := range []error{faults.Rejectf("plan: no approval in the history"), &faults.Error{Kind: faults.Retryable, Err: errors.New("connection reset")}} {
		if r, ok := ApprovalWaitRecord(ctx, "ec2_stop_instance", in, err, now); ok {
			t.Errorf("%v: %+v", err, r)
		}
	}
}

// The action runs and its result stands whatever its times say; a wait that cannot be measured is a
// WARN naming why, and only the Actions record is written.
func TestMeasured_ApprovedActionWritesItsWaitOrWarnsWhyNot(t *testing.T) {
	logs := captureLog(t)
	run := func(context.Context, steps.BotInput) (bots.Result, error) {
		return bots.Result{Bot: "ec2_stop_instance", Status: bots.StatusRemediated}, nil
	}
	var buf bytes.Buffer
	res, err := Measured(&metrics.Emitter{W: &buf}, "ec2_stop_instance", run)(context.Background(),
		approvedInput("2026-03-01T10:00:00.000Z", "2026-03-01T10:04:12.250Z"))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("%+v %v", res, err)
	}
	lines := emfLines(t, buf.Bytes())
	if len(lines) != 2 || lines[0]["Actions"] != float64(1) || lines[1]["ApprovalWait"] != 252.25 || lines[1]["Bot"] != "ec2_stop_instance" {
		t.Fatalf("records %s", buf.String())
	}
	var directive struct {
		CloudWatchMetrics []struct {
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	b, _ := json.Marshal(lines[1]["_aws"])
	if err := json.Unmarshal(b, &directive); err != nil || len(directive.CloudWatchMetrics) != 1 {
		t.Fatalf("%s (%v)", b, err)
	}
	d := directive.CloudWatchMetrics[0]
	if dims, _ := json.Marshal(d.Dimensions); string(dims) != `[["Bot"],[]]` || d.Metrics[0].Unit != "Seconds" {
		t.Errorf("directive %s", b)
	}
	if strings.Contains(logs.String(), "approval wait not measured") {
		t.Errorf("warned: %s", logs.String())
	}

	buf.Reset()
	res, err = Measured(&metrics.Emitter{W: &buf}, "ec2_stop_instance", run)(context.Background(),
		approvedInput("2026-03-01T10:00:00.000Z", "not a time"))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("%+v %v", res, err)
	}
	if lines := emfLines(t, buf.Bytes()); len(lines) != 1 || lines[0]["Actions"] != float64(1) {
		t.Errorf("records %s", buf.String())
	}
	var warn map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "approval wait not measured") {
			_ = json.Unmarshal([]byte(l), &warn)
		}
	}
	if warn["level"] != "WARN" || !strings.Contains(warn["reason"].(string), `approvedAt "not a time" is not an ISO 8601`) {
		t.Errorf("log %s", logs.String())
	}
}

func emfLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// Through the Lambda handler, with the plan check of the deployed Lambda: an approval the execution's
// history does not show is refused before anything runs, so the times a direct invoke sends write no
// ApprovalWait; the workflow's own approval, in the history, is measured.
func TestAttack_MadeUpApprovalWritesNoApprovalWait(t *testing.T) {
	s := newStand(t)
	hist := plantest.NewHistory(s.execution)
	hist.Iteration(0, func() {
		hist.Approval(0, map[string]any{"bot": "ec2_stop_instance", "mode": "APPROVE"}, map[string]any{"approved": true, "approver": "alice"})
	})
	s.withHistory(hist)
	var buf bytes.Buffer
	s.handler = steps.Lambda(s.runner.Bot.Name, Measured(&metrics.Emitter{W: &buf}, s.runner.Bot.Name, s.runner.Run))

	forged := s.signed(s.execution, 0, stopAction("APPROVE"))
	forged.Action.Approval = &mapping.Approval{Approved: true, Approver: "mallory"}
	forged.ApprovalRequestedAt, forged.ApprovedAt = "2026-03-01T10:00:00Z", "2026-03-08T09:00:00Z"
	s.refused("an approval the history does not show, with times of its own", forged, nil)
	for _, l := range emfLines(t, buf.Bytes()) {
		if _, ok := l[metrics.ApprovalWait]; ok || l["Status"] != "rejected" {
			t.Errorf("a refused invoke wrote %v", l)
		}
	}

	in := s.signed(s.execution, 0, stopAction("APPROVE"))
	in.Action.Approval = &mapping.Approval{Approved: true, Approver: "alice"}
	in.ApprovalRequestedAt, in.ApprovedAt = "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:42.000Z"
	if res, err := s.invoke(in); err != nil || res.Status != bots.StatusRemediated || s.state() != ec2types.InstanceStateNameStopped {
		t.Fatalf("approved: %+v %v, instance %s", res, err, s.state())
	}
	var wait float64
	for _, l := range emfLines(t, buf.Bytes()) {
		if v, ok := l[metrics.ApprovalWait].(float64); ok {
			wait = v
		}
	}
	if wait != 42 {
		t.Errorf("ApprovalWait = %v, want 42; records %s", wait, buf.String())
	}
}
