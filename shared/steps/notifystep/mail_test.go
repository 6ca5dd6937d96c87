package notifystep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/notify"
)

func TestNotifier_MailNamesTheDeploymentsAuditTableNotTheInputs(t *testing.T) {
	p := &fakePublisher{}
	in := notify.Input{Finding: ec2Finding(), AuditTable: "from-the-input", Execution: notify.Execution{ID: "arn:aws:states:eu-west-1:111122223333:execution:guardbots-remediation:x"}}
	if _, err := (Notifier{Publisher: p, AuditTable: "guardbots-Audit"}).Notify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if text := p.msgs[0].Text; !strings.Contains(text, "--table-name guardbots-Audit ") || strings.Contains(text, "from-the-input") {
		t.Errorf("mail:\n%s", text)
	}
}

func TestPublishers_MailAndChatTopicsOnlyWhenTheDeploymentHasThem(t *testing.T) {
	t.Setenv(deployment.EnvMailTopicArn, "")
	t.Setenv(deployment.EnvChatTopicArn, "")
	if got := publishers(nil, "arn:json"); len(got) != 1 {
		t.Errorf("no mail topic: %d publishers", len(got))
	}
	t.Setenv(deployment.EnvMailTopicArn, "arn:mail")
	got := publishers(nil, "arn:json")
	if len(got) != 2 || got[0].(notify.Publisher).TopicArn != "arn:json" || got[1].(notify.Publisher).Form != notify.FormText || got[1].(notify.Publisher).TopicArn != "arn:mail" {
		t.Errorf("publishers %+v", got)
	}
	t.Setenv(deployment.EnvChatTopicArn, "arn:chat")
	got = publishers(nil, "arn:json")
	if len(got) != 3 || got[2].(notify.Publisher).Form != notify.FormChat || got[2].(notify.Publisher).TopicArn != "arn:chat" {
		t.Errorf("publishers %+v", got)
	}
}

type failingEvents struct{ calls int }

func (f *failingEvents) Publish(context.Context, notify.Message) (string, error) {
	f.calls++
	return "", errors.New("bus: EventBridge refused the remediated event on default (FailedEntryCount 1): ThrottlingException: Rate exceeded")
}

type okEvents struct{ msgs []notify.Message }

func (o *okEvents) Publish(_ context.Context, m notify.Message) (string, error) {
	o.msgs = append(o.msgs, m)
	return "event-1", nil
}

// A refused event reaches the notification (JSON and mail say it) and fails the execution.
func TestNotifier_FailedEventReachesTheNotificationAndFailsTheExecution(t *testing.T) {
	p, ev := &fakePublisher{}, &failingEvents{}
	in := notify.Input{Finding: ec2Finding(), Results: []bots.Result{{Bot: "ec2_stop_instance", Status: bots.StatusRemediated}}}
	out, err := (Notifier{Publisher: p, Events: ev}).Notify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Failed || out.Outcome != notify.OutcomeRemediated || len(out.Undelivered) != 1 || out.EventID != "" || ev.calls != 1 {
		t.Errorf("out %+v", out)
	}
	m := p.msgs[0]
	if !strings.Contains(string(m.Body), `"undelivered":["EventBridge event: bus: EventBridge refused`) ||
		!strings.Contains(m.Text, "Not delivered: EventBridge event: bus: EventBridge refused the remediated event on default (FailedEntryCount 1): ThrottlingException") {
		t.Errorf("notification does not say the event failed:\n%s\n%s", m.Body, m.Text)
	}
}

func TestNotifier_EventGoesBeforeTheTopicsAndItsIDIsReturned(t *testing.T) {
	p, ev := &fakePublisher{}, &okEvents{}
	in := notify.Input{Finding: ec2Finding(), Results: []bots.Result{{Bot: "ec2_stop_instance", Status: bots.StatusRemediated}}}
	out, err := (Notifier{Publisher: p, Events: ev}).Notify(context.Background(), in)
	if err != nil || out.Failed || out.EventID != "event-1" || len(ev.msgs) != 1 || len(ev.msgs[0].Event) == 0 {
		t.Errorf("out %+v err %v", out, err)
	}
}
