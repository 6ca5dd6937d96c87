package botstep

import (
	"context"
	"log/slog"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
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
func Measured(e *metrics.Emitter, bot string, run func(context.Context, steps.BotInput) (bots.Result, error)) func(context.Context, steps.BotInput) (bots.Result, error) {
	return func(ctx context.Context, in steps.BotInput) (bots.Result, error) {
		res, err := run(ctx, in)
		if merr := e.Emit(ActionRecord(bot, in, res, err, time.Now())); merr != nil {
			slog.WarnContext(ctx, "metric not written", "bot", bot, "error", merr.Error())
		}
		return res, err
	}
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
