package notifystep

import (
	"context"
	"strings"
	"testing"

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

func TestPublishers_MailTopicOnlyWhenTheDeploymentHasOne(t *testing.T) {
	t.Setenv(deployment.EnvMailTopicArn, "")
	if got := publishers(nil, "arn:json"); len(got) != 1 {
		t.Errorf("no mail topic: %d publishers", len(got))
	}
	t.Setenv(deployment.EnvMailTopicArn, "arn:mail")
	got := publishers(nil, "arn:json")
	if len(got) != 2 || got[0].(notify.Publisher).TopicArn != "arn:json" || got[1].(notify.Publisher).Form != notify.FormText || got[1].(notify.Publisher).TopicArn != "arn:mail" {
		t.Errorf("publishers %+v", got)
	}
}
