package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNSPublisher is the one SNS call the Publisher makes.
type SNSPublisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Form is which form of a message a topic carries.
type Form string

const (
	// FormJSON is the JSON body (Message.Body): the default, for tools and filtered team routes.
	FormJSON Form = "json"
	// FormText is the plain-text mail (Message.Text), for email subscriptions.
	FormText Form = "text"
	// FormChat is the custom notification of Amazon Q Developer in chat applications (Message.Chat),
	// for the chat topic a Slack or Teams channel configuration subscribes.
	FormChat Form = "chat"
)

// Publisher sends messages to one topic, in one form. Every form goes with String message structure
// and the same message attributes, so a subscription filter policy routes mail as it routes JSON.
type Publisher struct {
	Client   SNSPublisher
	TopicArn string
	// Form is what the topic carries ("" is FormJSON).
	Form Form
}

// Publish sends m and returns SNS's message id.
func (p Publisher) Publish(ctx context.Context, m Message) (string, error) {
	if p.Client == nil || p.TopicArn == "" {
		return "", errors.New("notify: publisher has no SNS client or topic ARN")
	}
	body := string(m.Body)
	switch p.Form {
	case "", FormJSON:
	case FormText:
		body = m.Text
	case FormChat:
		body = string(m.Chat)
	default:
		return "", fmt.Errorf("notify: publisher form %q: want json, text or chat", p.Form)
	}
	if body == "" {
		return "", fmt.Errorf("notify: empty %s message body", orDefault(string(p.Form), string(FormJSON)))
	}
	r := m.Routing
	if r.Outcome == "" {
		r.Outcome = m.Outcome
	}
	if r.Severity == "" {
		r.Severity = m.Severity
	}
	// Routing.Attributes leaves out what is unknown: SNS rejects empty attribute values.
	attrs := map[string]snstypes.MessageAttributeValue{}
	for name, a := range r.Attributes() {
		attrs[name] = snstypes.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(a.Value)}
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(p.TopicArn),
		Message:           aws.String(body),
		MessageAttributes: attrs,
	}
	if m.Subject != "" {
		in.Subject = aws.String(m.Subject)
	}
	out, err := p.Client.Publish(ctx, in)
	if err != nil {
		return "", fmt.Errorf("notify: publish %s message (%s) to %s: %w", m.Outcome, orDefault(string(p.Form), string(FormJSON)), p.TopicArn, err)
	}
	return aws.ToString(out.MessageId), nil
}

// MessagePublisher sends a built message somewhere (a Publisher's topic, an event bus).
type MessagePublisher interface {
	Publish(ctx context.Context, m Message) (string, error)
}

// Fanout sends a message to every destination: the first one's id is the message id. Every destination
// is tried even when one fails (a failed mail must not keep the event from the ticketing rule); the
// failures come back joined, so the notify step fails and says which.
type Fanout []MessagePublisher

// Publish sends m to every destination of f.
func (f Fanout) Publish(ctx context.Context, m Message) (string, error) {
	if len(f) == 0 {
		return "", errors.New("notify: no destination to publish to")
	}
	var id string
	var errs []error
	for i, p := range f {
		got, err := p.Publish(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if i == 0 {
			id = got
		}
	}
	return id, errors.Join(errs...)
}
