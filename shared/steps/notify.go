package steps

import (
	"context"
	"fmt"
	"log/slog"

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

// Notifier is the notify step.
type Notifier struct {
	Publisher MessagePublisher
}

// Notify builds the execution's one message and publishes it.
func (n Notifier) Notify(ctx context.Context, in notify.Input) (Notified, error) {
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
