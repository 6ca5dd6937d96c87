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

// Publisher sends messages to one topic.
type Publisher struct {
	Client   SNSPublisher
	TopicArn string
}

// Publish sends m and returns SNS's message id.
func (p Publisher) Publish(ctx context.Context, m Message) (string, error) {
	if p.Client == nil || p.TopicArn == "" {
		return "", errors.New("notify: publisher has no SNS client or topic ARN")
	}
	if len(m.Body) == 0 {
		return "", errors.New("notify: empty message body")
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
		Message:           aws.String(string(m.Body)),
		MessageAttributes: attrs,
	}
	if m.Subject != "" {
		in.Subject = aws.String(m.Subject)
	}
	out, err := p.Client.Publish(ctx, in)
	if err != nil {
		return "", fmt.Errorf("notify: publish %s message to %s: %w", m.Outcome, p.TopicArn, err)
	}
	return aws.ToString(out.MessageId), nil
}
