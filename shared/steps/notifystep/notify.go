package notifystep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/plan"
)

// Notified is notify's output. The state machine ends in Fail when Failed is true, so a rejected event
// or a failed action shows red in the console even though the notification itself went out.
type Notified struct {
	Outcome   string `json:"outcome"`
	MessageID string `json:"messageId"`
	Failed    bool   `json:"failed"`
	// EventID is the EventBridge event's id, when the deployment puts events.
	EventID string `json:"eventId,omitempty"`
	// Undelivered says which forms could not be sent (the execution then ends failed).
	Undelivered []string `json:"undelivered,omitempty"`
}

// MessagePublisher sends a built message (notify.Publisher on SNS).
type MessagePublisher interface {
	Publish(ctx context.Context, m notify.Message) (string, error)
}

// FindingCloser records the outcome on the finding itself (Closer), which it does only for
// GuardDuty's own copy (the decision says whether the finding is it).
type FindingCloser interface {
	Close(ctx context.Context, f *finding.Finding, d *mapping.Decision, outcome, execution string) ([]string, error)
}

// Notifier is the notify step.
type Notifier struct {
	Publisher MessagePublisher
	// Closer, when set (GUARDBOTS_CLOSE_FINDINGS), closes the loop on the finding before the message is
	// built, so the message says what was recorded.
	Closer FindingCloser
	// AuditTable is the deployment's audit table, named in the mail's audit query.
	AuditTable string
	// Metrics, when set, gets the execution's metric records (metrics.Stdout in the Lambda).
	Metrics *metrics.Emitter
	// Events, when set, puts the outcome's event on EventBridge (bus.Publisher) before the SNS topics
	// are told, so a failed put is in the notification.
	Events MessagePublisher
}

// Notify builds the execution's one message and publishes it.
func (n Notifier) Notify(ctx context.Context, in notify.Input) (Notified, error) {
	if n.Closer != nil && in.Finding != nil {
		// A failure to record the outcome on the finding is reported, not fatal: the notification
		// matters more, and the finding can be closed by hand.
		done, err := n.Closer.Close(ctx, in.Finding, in.Decision, notify.CloseOutcome(in), in.Execution.ID)
		if len(done) > 0 || err != nil {
			in.Closure = &notify.Closure{Done: done}
			if err != nil {
				in.Closure.Error = err.Error()
				slog.WarnContext(ctx, "close finding failed", "findingId", in.Finding.ID, "error", err.Error())
			}
		}
	}
	in.AuditTable = n.AuditTable
	if quiet, outcome := quietCleanup(in); quiet {
		slog.InfoContext(ctx, "clean-up of expired IAM denies removed nothing: not notified", "outcome", outcome, "execution", in.Execution.ID)
		return Notified{Outcome: outcome}, nil
	}
	msg, err := notify.Build(in)
	if err != nil {
		return Notified{}, fmt.Errorf("notify: build message: %w", err)
	}
	var eventID string
	if n.Events != nil {
		if eventID, err = n.Events.Publish(ctx, msg); err != nil {
			// The ticketing rule missed it: a person must know, from the notification and the
			// execution's failure.
			slog.ErrorContext(ctx, "event not put", "outcome", msg.Outcome, "execution", in.Execution.ID, "error", err.Error())
			in.Undelivered = append(in.Undelivered, "EventBridge event: "+err.Error())
			if msg, err = notify.Build(in); err != nil {
				return Notified{}, fmt.Errorf("notify: build message: %w", err)
			}
		}
	}
	id, err := n.Publisher.Publish(ctx, msg)
	if err != nil {
		return Notified{}, fmt.Errorf("notify: publish %q: %w", msg.Subject, err)
	}
	for _, r := range notify.Metrics(in, msg.Outcome, time.Now()) {
		if err := n.Metrics.Emit(r); err != nil {
			slog.WarnContext(ctx, "metric not written", "error", err.Error())
		}
	}
	out := Notified{Outcome: msg.Outcome, MessageID: id, EventID: eventID, Undelivered: in.Undelivered,
		Failed: failedOutcome(msg.Outcome) || len(in.Undelivered) > 0}
	slog.InfoContext(ctx, "notified", "outcome", out.Outcome, "messageId", id, "eventId", eventID, "execution", in.Execution.ID)
	return out, nil
}

// quietCleanup: the hourly clean-up of expired IAM denies is told only when it removed something or
// failed. One that only skipped (a principal gone or exempt since, retried until its record lapses) or
// found nothing left to remove would be a message an hour saying nothing happened.
func quietCleanup(in notify.Input) (bool, string) {
	if in.Finding != nil || in.Decision == nil || in.Decision.Outcome != mapping.ExpireDenies {
		return false, ""
	}
	switch o := notify.OutcomeOf(in); o {
	case notify.OutcomeSkipped, notify.OutcomeAlreadyDone:
		return true, o
	}
	return false, ""
}

// failedOutcome: a rejection, or any action or step that failed — even when others remediated.
func failedOutcome(outcome string) bool {
	switch outcome {
	case notify.OutcomeRejected, notify.OutcomeFailed, notify.OutcomePartial:
		return true
	}
	return false
}

// PlanVerifier is plan.Verifier: what closing the loop checks before it records anything on a finding.
type PlanVerifier interface {
	Signature(ctx context.Context, a plan.Action) error
	Running(ctx context.Context, execution string) error
}

// Vouch is closing the loop's check (Closer.Vouch): every action of the decision carries the
// verify step's signature for this finding in this execution, and the execution is running on the
// guardbots state machine — the same signature the bots check. A direct invoke of notify, with a
// made-up decision or one signed for another finding or execution, records nothing. A decision with no
// action (GuardDuty's copy decided notify) has no signed plan, so nothing is recorded for it either.
func Vouch(v PlanVerifier) func(ctx context.Context, f *finding.Finding, d *mapping.Decision, execution string) error {
	return func(ctx context.Context, f *finding.Finding, d *mapping.Decision, execution string) error {
		err := vouch(ctx, v, f, d, execution)
		if faults.Classify(err) == faults.Rejected {
			slog.ErrorContext(ctx, "plan rejected", "event", deployment.EventPlanRejected, "step", "notify", "findingId", f.ID,
				"execution", execution, "error", err.Error())
		}
		return err
	}
}

func vouch(ctx context.Context, v PlanVerifier, f *finding.Finding, d *mapping.Decision, execution string) error {
	if d == nil || len(d.Actions) == 0 {
		return faults.Rejectf("plan: the decision has no signed action (only a remediation's plan is signed)")
	}
	for i, a := range d.Actions {
		if err := v.Signature(ctx, plan.Action{Finding: f, Execution: execution, Index: i, MappingKey: d.Key, Action: a}); err != nil {
			return err
		}
	}
	return v.Running(ctx, execution)
}
