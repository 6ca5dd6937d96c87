package notifystep

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
)

// Notified is notify's output. The state machine ends in Fail when Failed is true, so a rejected event
// or a failed action shows red in the console even though the notification itself went out.
type Notified struct {
	Outcome   string `json:"outcome"`
	MessageID string `json:"messageId"`
	Failed    bool   `json:"failed"`
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
}

// Notify builds the execution's one message and publishes it.
func (n Notifier) Notify(ctx context.Context, in notify.Input) (Notified, error) {
	if n.Closer != nil && in.Finding != nil {
		// A failure to record the outcome on the finding is reported, not fatal: the notification
		// matters more, and the finding can be closed by hand.
		done, err := n.Closer.Close(ctx, in.Finding, in.Decision, notify.OutcomeOf(in), in.Execution.ID)
		if len(done) > 0 || err != nil {
			in.Closure = &notify.Closure{Done: done}
			if err != nil {
				in.Closure.Error = err.Error()
				slog.WarnContext(ctx, "close finding failed", "findingId", in.Finding.ID, "error", err.Error())
			}
		}
	}
	msg, err := notify.Build(in)
	if err != nil {
		return Notified{}, fmt.Errorf("notify: build message: %w", err)
	}
	id, err := n.Publisher.Publish(ctx, msg)
	if err != nil {
		return Notified{}, fmt.Errorf("notify: publish %q: %w", msg.Subject, err)
	}
	out := Notified{Outcome: msg.Outcome, MessageID: id, Failed: failedOutcome(msg.Outcome)}
	slog.InfoContext(ctx, "notified", "outcome", out.Outcome, "messageId", id, "execution", in.Execution.ID)
	return out, nil
}

// failedOutcome: a rejection, or any action or step that failed — even when others remediated.
func failedOutcome(outcome string) bool {
	switch outcome {
	case notify.OutcomeRejected, notify.OutcomeFailed, notify.OutcomePartial:
		return true
	}
	return false
}
