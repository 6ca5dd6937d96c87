package botstep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/steps"
)

// ActionStatuses are the Status dimension's values of the Actions metric: a result's status, "held"
// (the blast-radius limit held it back), and for an error "failed", "rejected" (an input the runner
// refused) or "retryable" (an attempt the state machine retries, so it may be counted again).
var ActionStatuses = []string{string(bots.StatusRemediated), string(bots.StatusAlreadyDone), string(bots.StatusDryRun),
	string(bots.StatusSkipped), string(bots.StatusNotified), string(bots.StatusFailed), "held", "rejected", "retryable"}

// Measured runs run and writes one Actions record for it: by bot and status, the account, finding and
// execution as properties. The bot's name is the runner's own (a registered name), never the input's.
// An approved action also gets an ApprovalWait record (ApprovalWaitRecord).
func Measured(e *metrics.Emitter, bot string, run func(context.Context, steps.BotInput) (bots.Result, error)) func(context.Context, steps.BotInput) (bots.Result, error) {
	return func(ctx context.Context, in steps.BotInput) (bots.Result, error) {
		res, err := run(ctx, in)
		now := time.Now()
		if merr := e.Emit(ActionRecord(bot, in, res, err, now)); merr != nil {
			slog.WarnContext(ctx, "metric not written", "bot", bot, "error", merr.Error())
		}
		if r, ok := ApprovalWaitRecord(ctx, bot, in, err, now); ok {
			if merr := e.Emit(r); merr != nil {
				slog.WarnContext(ctx, "metric not written", "bot", bot, "error", merr.Error())
			}
		}
		return res, err
	}
}

// ApprovalWaitRecord is the ApprovalWait record of an approved action's run (seconds from the approval
// request to the approval, by bot and in all), false when there is none to write:
//   - the action carries no approval that approved it: nothing waited;
//   - the runner refused the input (faults.Rejected: among others an approval the execution's history
//     does not show, so a direct invoke cannot write waits), or the attempt will be retried (the retry
//     measures it, once);
//   - its times are missing or do not give a wait (ApprovalWait): a WARN log says why, and the action's
//     outcome is untouched — a metric is never worth failing an action for.
func ApprovalWaitRecord(ctx context.Context, bot string, in steps.BotInput, runErr error, now time.Time) (metrics.Record, bool) {
	if a := in.Action.Approval; a == nil || !a.Approved {
		return metrics.Record{}, false
	}
	if runErr != nil && faults.Classify(runErr) != faults.Failed {
		return metrics.Record{}, false
	}
	wait, err := ApprovalWait(in)
	if err != nil {
		slog.WarnContext(ctx, "approval wait not measured", "bot", bot, "execution", clip(in.Execution), "index", in.Index, "reason", err.Error())
		return metrics.Record{}, false
	}
	reason := "approve-mode"
	if in.Action.Held != "" {
		reason = "held"
	}
	props := map[string]any{"execution": in.Execution, "reason": reason}
	if f := in.Finding; f != nil {
		props["account"], props["region"], props["findingId"] = f.AccountID, f.Region, f.ID
	}
	return metrics.Record{
		Time: now, Dimensions: metrics.Emitted[metrics.ApprovalWait], Properties: props,
		Dims:    map[string]string{metrics.DimBot: bot},
		Metrics: []metrics.Metric{{Name: metrics.ApprovalWait, Unit: "Seconds", Value: wait.Seconds()}},
	}, true
}

// ApprovalWait is how long in waited for its person: from approvalRequestedAt to approvedAt, both
// $$.State.EnteredTime (ISO 8601, RFC 3339 in practice). An error says what is wrong with them: missing,
// not a time, the approval before the request, or longer than any execution can last.
func ApprovalWait(in steps.BotInput) (time.Duration, error) {
	at := func(key, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, fmt.Errorf("the input has no %s", key)
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q is not an ISO 8601 (RFC 3339) time", key, clipTime(v))
		}
		return t, nil
	}
	asked, err := at("approvalRequestedAt", in.ApprovalRequestedAt)
	if err != nil {
		return 0, err
	}
	approved, err := at("approvedAt", in.ApprovedAt)
	if err != nil {
		return 0, err
	}
	wait := approved.Sub(asked)
	switch {
	case wait < 0:
		return 0, fmt.Errorf("approvedAt %s is before approvalRequestedAt %s", in.ApprovedAt, in.ApprovalRequestedAt)
	case wait > deployment.ExecutionTimeout:
		return 0, fmt.Errorf("approvedAt %s is %s after approvalRequestedAt %s, longer than an execution can last (%s)",
			in.ApprovedAt, wait, in.ApprovalRequestedAt, deployment.ExecutionTimeout)
	}
	return wait, nil
}

// clipTime bounds a value that should have been a time before it goes into a log line.
func clipTime(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ActionRecord is the Actions record of one run.
func ActionRecord(bot string, in steps.BotInput, res bots.Result, err error, now time.Time) metrics.Record {
	status := string(res.Status)
	switch {
	case err != nil && faults.Classify(err) == faults.Rejected:
		status = "rejected"
	case err != nil && (faults.Classify(err) == faults.Throttled || faults.Classify(err) == faults.Retryable):
		status = "retryable"
	case err != nil:
		status = string(bots.StatusFailed)
	case res.Held:
		status = "held"
	}
	props := map[string]any{"execution": in.Execution}
	if f := in.Finding; f != nil {
		props["account"], props["region"], props["findingId"] = f.AccountID, f.Region, f.ID
	}
	if res.DryRun {
		props["dryRun"] = true
	}
	return metrics.Record{
		Time: now, Dimensions: metrics.Emitted[metrics.Actions], Properties: props,
		Dims:    map[string]string{metrics.DimBot: bot, metrics.DimStatus: metrics.Value(status, ActionStatuses...)},
		Metrics: []metrics.Metric{{Name: metrics.Actions, Unit: "Count", Value: 1}},
	}
}
