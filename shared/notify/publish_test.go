package notify

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/org"
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

// The mail topic and the JSON topic, through kumo's SNS to an SQS subscriber each: the mail is the
// text, String-structured, with exactly the JSON message's attributes (what filter policies match).
func TestFanout_MailChatAndJSONTopicsGetTheirFormWithTheSameAttributesThroughKumo(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	ctx := context.Background()
	cfg := kumoConfig(srv.URL)
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	subscribe := func(name string) (topicArn string, queueURL *string) {
		topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-inbox")})
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
		return aws.ToString(topic.TopicArn), q.QueueUrl
	}
	type envelope struct {
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	receive := func(q *string) envelope {
		got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 1 {
			t.Fatalf("%d messages, want 1", len(got.Messages))
		}
		var env envelope
		if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	jsonTopic, jsonQ := subscribe("guardbots-notifications")
	mailTopic, mailQ := subscribe("guardbots-mail")
	chatTopic, chatQ := subscribe("guardbots-chat")

	in := remediated()
	in.Decision.Account = &org.Summary{ID: "111122223333", Name: "payments-prod", Owner: "team-payments", OUPath: []string{"r-ab12", "ou-ab12-11111111"}}
	m, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	fan := Fanout{Publisher{Client: snsc, TopicArn: jsonTopic}, Publisher{Client: snsc, TopicArn: mailTopic, Form: FormText},
		Publisher{Client: snsc, TopicArn: chatTopic, Form: FormChat}}
	if _, err := fan.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	j, mail, chat := receive(jsonQ), receive(mailQ), receive(chatQ)
	if chat.Message != string(m.Chat) || !reflect.DeepEqual(j.MessageAttributes, chat.MessageAttributes) {
		t.Errorf("chat topic got %.80q, attributes %+v", chat.Message, chat.MessageAttributes)
	}
	if j.Message != string(m.Body) || mail.Message != m.Text || mail.Subject != m.Subject || j.Subject != m.Subject {
		t.Errorf("json topic got %.80q, mail topic got %.80q (subject %q)", j.Message, mail.Message, mail.Subject)
	}
	if len(j.MessageAttributes) < 6 || !reflect.DeepEqual(j.MessageAttributes, mail.MessageAttributes) {
		t.Errorf("attributes differ:\n json %+v\n mail %+v", j.MessageAttributes, mail.MessageAttributes)
	}
	if mail.MessageAttributes[AttrOU].Type != "String.Array" || mail.MessageAttributes[AttrOwner].Value != "team-payments" {
		t.Errorf("mail attributes %+v", mail.MessageAttributes)
	}
}

func TestFanout_TriesEveryDestinationAndReportsEachFailure(t *testing.T) {
	m, _ := Build(remediated())
	jsonSNS, mailSNS := &fakeSNS{err: errors.New("KMSAccessDenied")}, &fakeSNS{}
	fan := Fanout{Publisher{Client: jsonSNS, TopicArn: "arn:aws:sns:us-east-1:999988887777:json"},
		Publisher{Client: mailSNS, TopicArn: "arn:aws:sns:us-east-1:999988887777:mail", Form: FormText}}
	_, err := fan.Publish(context.Background(), m)
	if err == nil || !strings.Contains(err.Error(), "(json) to arn:aws:sns:us-east-1:999988887777:json") {
		t.Errorf("err = %v", err)
	}
	if mailSNS.in == nil || aws.ToString(mailSNS.in.Message) != m.Text || mailSNS.in.MessageStructure != nil {
		t.Errorf("the mail was not sent as String-structured text after the JSON failed: %+v", mailSNS.in)
	}
	if _, err := (Publisher{Client: mailSNS, TopicArn: "t", Form: "html"}).Publish(context.Background(), m); err == nil {
		t.Error("unknown form accepted")
	}
	if _, err := (Fanout{}).Publish(context.Background(), m); err == nil {
		t.Error("no destination accepted")
	}
}
