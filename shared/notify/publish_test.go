package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/faults"
)

func kumoConfig(url string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	}
}

// kumo delivers SNS to an SQS subscription (kumo wires the two in its server), so the test reads the
// notification back as a subscriber would, in AWS's SNS envelope.
func TestPublisher_DeliversSubjectBodyAndAttributesThroughKumoSNSToSQS(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	ctx := context.Background()
	cfg := kumoConfig(srv.URL)
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("guardbots-notifications")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("inbox")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}

	m, err := Build(remediated())
	if err != nil {
		t.Fatal(err)
	}
	id, err := Publisher{Client: snsc, TopicArn: aws.ToString(topic.TopicArn)}.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Error("no message id")
	}

	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("%d messages in the subscribed queue, want 1", len(got.Messages))
	}
	var env struct {
		MessageID         string `json:"MessageId"`
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &env); err != nil {
		t.Fatalf("delivered body is not an SNS envelope: %v", err)
	}
	if env.MessageID != id || env.Subject != m.Subject || env.Message != string(m.Body) {
		t.Errorf("delivered id %q subject %q, want %q %q (body equal: %t)", env.MessageID, env.Subject, id, m.Subject, env.Message == string(m.Body))
	}
	if env.MessageAttributes[AttrOutcome].Value != OutcomeRemediated || env.MessageAttributes[AttrSeverity].Value != "HIGH" {
		t.Errorf("attributes = %+v", env.MessageAttributes)
	}
}

type fakeSNS struct {
	in  *sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

func TestPublisher_SendsFilterableAttributesAndOmitsEmptyOnes(t *testing.T) {
	f := &fakeSNS{}
	m, _ := Build(Input{Error: &StepError{Step: "parse", Error: "Guardbots.Rejected"}})
	if _, err := (Publisher{Client: f, TopicArn: "arn:aws:sns:us-east-1:999988887777:t"}).Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if v := f.in.MessageAttributes[AttrOutcome]; aws.ToString(v.StringValue) != OutcomeRejected || aws.ToString(v.DataType) != "String" {
		t.Errorf("outcome attribute = %+v", v)
	}
	if _, ok := f.in.MessageAttributes[AttrSeverity]; ok {
		t.Error("an empty severity must not be sent (SNS rejects empty attribute values)")
	}
}

func TestPublisher_ErrorNamesTopicAndKeepsItsKind(t *testing.T) {
	f := &fakeSNS{err: errors.New("AuthorizationError: not allowed")}
	m, _ := Build(remediated())
	_, err := Publisher{Client: f, TopicArn: "arn:aws:sns:us-east-1:999988887777:t"}.Publish(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "arn:aws:sns:us-east-1:999988887777:t") {
		t.Fatalf("err = %v, want one naming the topic", err)
	}
	if faults.Classify(err) != faults.Failed {
		t.Errorf("Classify = %s", faults.Classify(err))
	}
}
