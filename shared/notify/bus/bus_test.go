package bus_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/bus"
	"github.com/guardbots/guardbots/shared/notify/notifytest"
)

func message(t *testing.T) notify.Message {
	t.Helper()
	m, err := notify.Build(notify.Input{
		Finding: &finding.Finding{ID: "60baffd3f9042e38640f2300d5c5a631", Type: "UnauthorizedAccess:EC2/TorClient", Severity: 8, SeverityLabel: "HIGH",
			AccountID: "111122223333", Region: "us-east-1", UpdatedAt: "2026-03-01T10:00:00Z", ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-0abc"}},
		Decision:  &mapping.Decision{Outcome: mapping.Remediate, Verified: true},
		Results:   []bots.Result{{Bot: "ec2_stop_instance", Status: bots.StatusRemediated, DoneAt: "2026-03-01T10:02:30Z"}},
		Execution: notify.Execution{ID: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-1", StartTime: "2026-03-01T10:02:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An ordinary EventBridge rule on source "guardbots" routes the event (as to an API destination in a
// deployment): kumo matches it against the rules of the default bus and records what each delivered,
// and what the matching rule delivered validates against the schema; a rule for other outcomes gets
// nothing.
func TestPublisher_EventMatchesARuleOnTheDefaultBusThroughKumo(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}
	eb := eventbridge.NewFromConfig(cfg)
	rule := func(name, outcomes string) {
		pattern := `{"source":["guardbots"],"detail-type":["Guardbots Outcome"],"detail":{"version":["1"],"outcome":[` + outcomes + `]}}`
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
			t.Fatal(err)
		}
		// An HTTP target kumo records without reaching out: the API destination's place.
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
			Targets: []ebtypes.Target{{Id: aws.String(name + "-target"), Arn: aws.String("arn:aws:events:us-east-1:111122223333:api-destination/" + name + "/x")}}}); err != nil {
			t.Fatal(err)
		}
	}
	rule("to-tickets", `"remediated","failed","partially-remediated"`)
	rule("skips-only", `"skipped"`)

	m := message(t)
	id, err := bus.Publisher{Client: eb}.Publish(ctx, m)
	if err != nil || id == "" {
		t.Fatalf("id %q, err %v", id, err)
	}
	resp, err := http.Get(srv.URL + "/kumo/eventbridge/delivered-events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var delivered []struct{ EventID, Source, DetailType, Detail, EventBusName, RuleName string }
	if err := json.NewDecoder(resp.Body).Decode(&delivered); err != nil {
		t.Fatal(err)
	}
	if len(delivered) != 1 || delivered[0].RuleName != "to-tickets" || delivered[0].EventBusName != "default" {
		t.Fatalf("delivered %+v, want the one event through rule to-tickets on the default bus", delivered)
	}
	ev := delivered[0]
	if ev.Source != notify.EventSource || ev.DetailType != notify.EventDetailType {
		t.Errorf("source %q detail-type %q", ev.Source, ev.DetailType)
	}
	notifytest.ValidateEvent(t, []byte(ev.Detail))
	var d notify.EventDetail
	_ = json.Unmarshal([]byte(ev.Detail), &d)
	if d.TimeToContain == nil || *d.TimeToContain.FromFindingUpdatedSecs != 150 || *d.TimeToContain.FromEventArrivalSeconds != 30 {
		t.Errorf("time to contain %+v", d.TimeToContain)
	}
}

type stub struct {
	in  *eventbridge.PutEventsInput
	out *eventbridge.PutEventsOutput
}

func (s *stub) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	s.in = in
	return s.out, nil
}

// PutEvents answers 200 with a failed entry (throttling, a bus policy, a KMS key): that is an error.
func TestPublisher_FailedEntryIsAnErrorNamingWhy(t *testing.T) {
	s := &stub{out: &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{
		{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("Rate exceeded")}}}}
	_, err := bus.Publisher{Client: s, Bus: "arn:aws:events:us-east-1:111122223333:event-bus/tickets"}.Publish(context.Background(), message(t))
	if err == nil || !strings.Contains(err.Error(), "FailedEntryCount 1") || !strings.Contains(err.Error(), "ThrottlingException: Rate exceeded") {
		t.Errorf("err = %v", err)
	}
	e := s.in.Entries[0]
	if aws.ToString(e.EventBusName) != "arn:aws:events:us-east-1:111122223333:event-bus/tickets" || aws.ToString(e.Source) != "guardbots" || aws.ToString(e.DetailType) != "Guardbots Outcome" {
		t.Errorf("entry %+v", e)
	}
}

func TestPublisher_MessageWithoutEventPutsNothing(t *testing.T) {
	s := &stub{}
	m := message(t)
	m.Event = nil
	if id, err := (bus.Publisher{Client: s}).Publish(context.Background(), m); id != "" || err != nil || s.in != nil {
		t.Errorf("id %q err %v, put %v", id, err, s.in)
	}
}

func TestValidBus(t *testing.T) {
	for b, want := range map[string]bool{"default": true, "arn:aws:events:us-east-1:111122223333:event-bus/x": true, "arn:aws:sns:us-east-1:1:t": false, "": false} {
		if bus.ValidBus(b) != want {
			t.Errorf("ValidBus(%q) != %t", b, want)
		}
	}
}
