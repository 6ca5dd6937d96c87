package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// Execution is one run of the workflow on the local stack.
type Execution struct {
	// Name and ARN are the context object's $$.Execution.Name and Id.
	Name string
	ARN  string
	*aslrun.Execution
	// Invokes are the Lambda invocations in order, timed.
	Invokes []Invoke
	// Notifications are the SNS messages the subscriber queue received during the execution.
	Notifications []Notification
	// StandIns are the calls the demo's stand-ins answered instead of kumo (GuardDuty, IAM tag reads).
	StandIns []string
	// GuardDuty is what the GuardDuty stand-in did with the event's finding before the execution: stored
	// it (updatedAt stamped) or kept the copy it already held. Nil when it was given nothing.
	GuardDuty *Held
	// APICalls are the bootstraps' AWS API calls to kumo (Options.CountAPICalls; nil otherwise).
	APICalls []APICall
	// FindingID is the event's finding id; Audit its audit records after the execution, oldest first.
	FindingID string
	Audit     []statetable.AuditRecord
	Elapsed   time.Duration

	definition []byte
}

// Notification is one SNS message as the subscribed queue received it.
type Notification struct {
	Subject string
	Outcome string
	// Attributes are the message attributes a subscription's filter policy matches (notify routing.go).
	Attributes map[string]notify.Attribute
	Body       notify.Body
	Raw        string
	// Mail and Chat are the same message as the mail and chat subscribers received it.
	Mail string
	Chat json.RawMessage
}

// RunOptions tunes one execution.
type RunOptions struct {
	// InstantRetries makes every Retry pause 0 ms (tests); the demo keeps the definition's intervals.
	InstantRetries bool
	// NotInGuardDuty runs the event without publishing its finding to the GuardDuty stand-in first: a
	// forged event, which verify must reject unless the stand-in already holds the id (then its copy is
	// what acts).
	NotInGuardDuty bool
	// Overrides answer Task states instead of their Lambdas (ApprovalWaitStandIn for the approval wait,
	// which cannot run locally).
	Overrides map[string][]aslrun.Response
}

// ApprovalWaitStandIn answers the approval wait (lambda:invoke.waitForTaskToken, which aws-local-stepfunctions
// does not run) as AWS does when nobody approves in time: States.Timeout. The demo never approves on a
// person's behalf; the approved path is the statemachine package's task-override tests.
func ApprovalWaitStandIn() map[string][]aslrun.Response {
	return map[string][]aslrun.Response{statemachine.StateWaitForApproval: {aslrun.Fails("States.Timeout", "the demo's stand-in for the approval wait: nobody answers locally")}}
}

// Run executes the committed definition on event (placeholders already substituted) with every Task
// invoking its real bootstrap through kumo's Lambda API, then reads the notifications back.
func (s *Stack) Run(ctx context.Context, tools aslrun.Tools, name string, event []byte, opts RunOptions) (*Execution, error) {
	// A failed stack (a bootstrap gone, a process out of descriptors) ends the execution with its cause.
	ctx, cancel := s.Context(ctx)
	defer cancel()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	var input any
	if err := json.Unmarshal(event, &input); err != nil {
		// Not JSON: parse must reject it, so it goes in as a string, as EventBridge never would.
		input = string(event)
	}
	name = executionName(name)
	started := time.Now().UTC()
	arn, contextObject, err := s.startExecution(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	if _, ok := opts.Overrides[statemachine.StateWaitForApproval]; ok {
		// $$.Task.Token, which aws-local-stepfunctions does not generate: the overridden wait never uses it.
		contextObject["Task"] = map[string]any{"Token": "demo-stand-in-task-token"}
	}
	// The execution ends here when the run does: a plan signed in it can no longer act afterwards.
	defer func() { _ = s.Plans.Stop(context.WithoutCancel(ctx), arn) }()
	job := aslrun.Job{
		Definition:     s.Definition,
		Input:          input,
		Context:        contextObject,
		InstantRetries: opts.InstantRetries,
		Overrides:      opts.Overrides,
		// Through the timing proxy to kumo; never the real Lambda endpoint.
		Env: append(append([]string{}, childEnv...), "AWS_ENDPOINT_URL_LAMBDA="+s.proxy.URL(), "AWS_ENDPOINT_URL="+s.proxy.URL()),
	}
	findingID := findingIDOf(event)
	held := s.publish(event, opts)
	s.proxy.take()
	s.guardDuty.take()
	s.iamShim.take()
	s.orgs.take()
	s.TakeAPICalls()
	ex, err := tools.Run(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("demo: execution %s: %w", name, err)
	}
	out := &Execution{Name: name, ARN: arn, Execution: ex, Invokes: s.proxy.take(), Elapsed: time.Since(started),
		FindingID: findingID, GuardDuty: held, definition: s.Definition}
	out.StandIns = slices.Concat(s.guardDuty.take(), s.iamShim.take(), s.orgs.take())
	if rs, ok := opts.Overrides[statemachine.StateWaitForApproval]; ok {
		waits := 0
		for _, e := range ex.Events {
			if e.State == statemachine.StateWaitForApproval && strings.Contains(strings.ToLower(e.Type), "entered") {
				waits++
			}
		}
		answered := "answered States.Timeout, as when nobody approves in time — the demo never approves for a person"
		if slices.ContainsFunc(rs, func(r aslrun.Response) bool { return r.Error != "States.Timeout" }) {
			answered = "answered by the test's stand-in for the approver"
		}
		if waits > 0 {
			out.StandIns = append(out.StandIns, fmt.Sprintf("the approval wait (%d action(s); lambda:invoke.waitForTaskToken does not run locally): %s", waits, answered))
		}
	}
	out.APICalls = s.TakeAPICalls()
	if out.Notifications, err = s.receive(ctx); err != nil {
		return nil, fmt.Errorf("demo: execution %s: %w", name, err)
	}
	if findingID != "" {
		all, err := s.AuditRecords(ctx, findingID)
		if err != nil {
			return nil, fmt.Errorf("demo: execution %s: %w", name, err)
		}
		// The finding's trail holds earlier executions too (a duplicate delivery): keep this one's.
		for _, r := range all {
			if r.Execution == arn {
				out.Audit = append(out.Audit, r)
			}
		}
	}
	return out, nil
}

// publish hands the event's finding to the GuardDuty stand-in, as GuardDuty holds every finding it sends,
// so verify can read it back; an event parse rejects holds nothing (the workflow rejects it first).
func (s *Stack) publish(event []byte, opts RunOptions) *Held {
	if opts.NotInGuardDuty {
		return nil
	}
	h, err := s.guardDuty.Hold(event)
	if err != nil {
		return nil
	}
	return &h
}

// findingIDOf is the GuardDuty finding id of an event in any envelope parse accepts, or the id a release
// request names ("" when it has none).
func findingIDOf(event []byte) string {
	p, err := steps.Parse(context.Background(), event)
	if err != nil || p.Finding == nil {
		return ""
	}
	return p.Finding.ID
}

// executionName is name made unique and valid as a Step Functions execution name (≤ 80 characters).
func executionName(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 70 {
		name = name[:70]
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// receive drains the subscriber queues. kumo delivers SNS to SQS while Publish runs, so what notify
// published is there when the execution has ended. Every message on the JSON topic has its twin on the
// mail and chat topics (notify publishes each message to the three, in that order), with the same
// subject and message attributes on the mail: a message missing from one of them is an error.
func (s *Stack) receive(ctx context.Context) ([]Notification, error) {
	raw, err := s.drain(ctx, s.QueueURL, true)
	if err != nil {
		return nil, err
	}
	var out []Notification
	for _, r := range raw {
		n, err := parseNotification(r)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if s.MailQueueURL == "" {
		return out, nil
	}
	mail, err := s.drain(ctx, s.MailQueueURL, false)
	if err != nil {
		return nil, err
	}
	chat, err := s.drain(ctx, s.ChatQueueURL, false)
	if err != nil {
		return nil, err
	}
	if len(mail) != len(out) || len(chat) != len(out) {
		return nil, fmt.Errorf("notify published %d JSON, %d mail and %d chat messages: every message goes to the three topics", len(out), len(mail), len(chat))
	}
	// Executions in flight together publish in any order, so each message's twins are found by what
	// they share with it (subject; the finding's thread), not by their place in the queue.
	mails, chats := map[string][]snsEnvelope{}, map[string][]chatTwin{}
	for _, m := range mail {
		var e snsEnvelope
		if err := json.Unmarshal([]byte(m), &e); err != nil {
			return nil, fmt.Errorf("mail subscriber received something that is not an SNS envelope: %w", err)
		}
		mails[e.Subject] = append(mails[e.Subject], e)
	}
	for _, m := range chat {
		c, err := parseChatTwin(m)
		if err != nil {
			return nil, err
		}
		chats[c.Metadata.ThreadID] = append(chats[c.Metadata.ThreadID], c)
	}
	for i := range out {
		n := &out[i]
		if err := n.mailTwin(mails); err != nil {
			return nil, fmt.Errorf("message %d (%s): %w", i+1, n.Subject, err)
		}
		thread := ""
		if f := n.Body.Finding; f != nil {
			thread = notify.ChatThread(f.ID, n.Body.FindingFrom == "guardduty")
		}
		if len(chats[thread]) == 0 {
			return nil, fmt.Errorf("message %d (%s): no chat message in thread %q", i+1, n.Subject, thread)
		}
		n.Chat, chats[thread] = chats[thread][0].raw, chats[thread][1:]
	}
	return out, nil
}

// drain reads every message of a subscriber queue; wait gives a late first message up to 2 s on a
// loaded machine (delivery is synchronous in kumo) before concluding that there is none.
func (s *Stack) drain(ctx context.Context, queueURL string, wait bool) ([]string, error) {
	sqsc := sqs.NewFromConfig(s.AWS)
	var out []string
	empty := 0
	for {
		got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			return nil, fmt.Errorf("read the subscriber queue %s: %w", queueURL, err)
		}
		if len(got.Messages) == 0 {
			if len(out) > 0 || !wait || empty >= 20 {
				return out, nil
			}
			empty++
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for _, m := range got.Messages {
			out = append(out, aws.ToString(m.Body))
			if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, fmt.Errorf("delete a received notification: %w", err)
			}
		}
	}
}

// snsEnvelope is what an SQS subscriber of a topic receives.
type snsEnvelope struct {
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// chatTwin is a chat message as its subscriber received it: a custom notification.
type chatTwin struct {
	Version, Source string
	Content         struct{ Title string }
	Metadata        struct{ ThreadID string }
	raw             json.RawMessage
}

func parseChatTwin(envelope string) (chatTwin, error) {
	var e snsEnvelope
	if err := json.Unmarshal([]byte(envelope), &e); err != nil {
		return chatTwin{}, fmt.Errorf("chat subscriber received something that is not an SNS envelope: %w", err)
	}
	var c chatTwin
	if err := json.Unmarshal([]byte(e.Message), &c); err != nil {
		return chatTwin{}, fmt.Errorf("chat body is not a custom notification: %w", err)
	}
	if c.Version != "1.0" || c.Source != "custom" || c.Content.Title == "" {
		return chatTwin{}, fmt.Errorf("chat body is not a custom notification (version %q, source %q, title %q)", c.Version, c.Source, c.Content.Title)
	}
	c.raw = json.RawMessage(e.Message)
	return c, nil
}

// mailTwin takes n's mail from mails (by subject): the same subject and message attributes as the JSON
// message (a team's filter policy routes both alike), and text, not JSON.
func (n *Notification) mailTwin(mails map[string][]snsEnvelope) error {
	for k, m := range mails[n.Subject] {
		if len(m.MessageAttributes) != len(n.Attributes) {
			continue
		}
		same := true
		for name, a := range m.MessageAttributes {
			if want := n.Attributes[name]; want.DataType != a.Type || want.Value != a.Value {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(m.Message), "{") {
			return errors.New("mail body is JSON, not text for a person")
		}
		n.Mail = m.Message
		mails[n.Subject] = slices.Delete(mails[n.Subject], k, k+1)
		return nil
	}
	return fmt.Errorf("no mail with its subject and message attributes (%d with the subject)", len(mails[n.Subject]))
}

// parseNotification reads SNS's envelope (what an SQS subscriber receives) and the body notify wrote.
func parseNotification(raw string) (Notification, error) {
	var env snsEnvelope
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		return Notification{}, fmt.Errorf("subscriber received something that is not an SNS envelope: %w", err)
	}
	n := Notification{Subject: env.Subject, Outcome: env.MessageAttributes[notify.AttrOutcome].Value, Raw: env.Message,
		Attributes: map[string]notify.Attribute{}}
	for k, a := range env.MessageAttributes {
		n.Attributes[k] = notify.Attribute{DataType: a.Type, Value: a.Value}
	}
	if err := json.Unmarshal([]byte(env.Message), &n.Body); err != nil {
		return Notification{}, fmt.Errorf("notification body is not notify's JSON: %w", err)
	}
	return n, nil
}

// Calls lists the functions invoked, in order (retries included).
func (e *Execution) Calls() []string {
	out := make([]string, len(e.Invokes))
	for i, c := range e.Invokes {
		out[i] = c.Function
	}
	return out
}

// BotInvokes are the invocations of bots (registered bots' functions), in order.
func (e *Execution) BotInvokes() []Invoke {
	var out []Invoke
	for _, c := range e.Invokes {
		if _, ok := bots.Lookup(c.Function); ok {
			out = append(out, c)
		}
	}
	return out
}
