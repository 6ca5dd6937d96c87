// Package bus puts each notification's event (notify.Message.Event) on an EventBridge bus. It is its
// own package so only the notify step links the EventBridge client.
package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/guardbots/guardbots/shared/notify"
)

// API is the one EventBridge call.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts events on one bus.
type Publisher struct {
	Client API
	// Bus is the bus name or ARN ("" is the account's default bus).
	Bus string
}

// Publish puts m's event and returns its event id. A message without an event (an approval request)
// puts nothing. PutEvents reports a refused entry in FailedEntryCount, not as an error: it is one here.
func (p Publisher) Publish(ctx context.Context, m notify.Message) (string, error) {
	if len(m.Event) == 0 {
		return "", nil
	}
	if p.Client == nil {
		return "", errors.New("bus: no EventBridge client")
	}
	entry := types.PutEventsRequestEntry{
		Source:       aws.String(notify.EventSource),
		DetailType:   aws.String(notify.EventDetailType),
		Detail:       aws.String(string(m.Event)),
		EventBusName: aws.String(busName(p.Bus)),
	}
	out, err := p.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry}})
	if err != nil {
		return "", fmt.Errorf("bus: put %s event on %s: %w", m.Outcome, busName(p.Bus), err)
	}
	if out.FailedEntryCount > 0 || len(out.Entries) != 1 {
		code, msg := "unknown", "no entry result"
		if len(out.Entries) > 0 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return "", fmt.Errorf("bus: EventBridge refused the %s event on %s (FailedEntryCount %d): %s: %s", m.Outcome, busName(p.Bus), out.FailedEntryCount, code, msg)
	}
	return aws.ToString(out.Entries[0].EventId), nil
}

func busName(b string) string {
	if b == "" {
		return "default"
	}
	return b
}

// ValidBus reports whether b can name a bus: a name or an event-bus ARN.
func ValidBus(b string) bool {
	if a, err := arn.Parse(b); err == nil {
		return a.Service == "events"
	}
	return b != "" && len(b) <= 256
}
