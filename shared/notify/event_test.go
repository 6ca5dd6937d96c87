package notify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/notifytest"
)

func TestEvent_EveryOutcomeValidatesAgainstTheShippedSchema(t *testing.T) {
	for outcome, in := range notify.PerOutcome(t) {
		t.Run(outcome, func(t *testing.T) {
			m, err := notify.Build(in)
			if err != nil {
				t.Fatal(err)
			}
			notifytest.ValidateEvent(t, m.Event)
			var d notify.EventDetail
			if err := json.Unmarshal(m.Event, &d); err != nil {
				t.Fatal(err)
			}
			if d.Version != notify.EventVersion || d.Outcome != outcome || d.Execution.ARN != in.Execution.ID || len(d.Actions) != len(in.Results) {
				t.Errorf("detail %+v", d)
			}
			if in.Finding != nil && (d.Finding == nil || d.Finding.ID != in.Finding.ID || d.Finding.ResourceID != "i-0abc1234def567890") {
				t.Errorf("finding %+v", d.Finding)
			}
		})
	}
}

func TestEvent_AttackerControlledAndHugeInputsStillValidateAndStayUnderPutEventsLimit(t *testing.T) {
	in := notify.Attacked(t)
	notifytest.ValidateEvent(t, mustBuild(t, in).Event)

	big := notify.PerOutcome(t)[notify.OutcomePartial]
	long := strings.Repeat("\u00e9x", 5000)
	big.Finding.Type, big.Finding.Title = long, long
	big.Error = &notify.StepError{Step: long, Error: long, Cause: long}
	for i := range 60 {
		big.Results = append(big.Results, bots.Result{Bot: fmt.Sprintf("bot%d", i), Status: bots.StatusFailed, Reason: long, Cause: long,
			Changes: []string{long, long, long, long, long, long, long, long, long, long, long, long}})
	}
	m := mustBuild(t, big)
	notifytest.ValidateEvent(t, m.Event)
	if len(m.Event) > 128*1024 {
		t.Errorf("detail is %d bytes", len(m.Event))
	}
	var d notify.EventDetail
	_ = json.Unmarshal(m.Event, &d)
	if len(d.Actions) != 20 || d.ActionsOmitted != len(big.Results)-20 {
		t.Errorf("%d actions, %d omitted", len(d.Actions), d.ActionsOmitted)
	}
}

func TestEvent_SchemaRefusesWhatTheDetailMustNotCarry(t *testing.T) {
	in := notify.PerOutcome(t)[notify.OutcomeRemediated]
	good := mustBuild(t, in).Event
	var doc map[string]any
	_ = json.Unmarshal(good, &doc)
	cases := map[string]func(map[string]any){
		// additionalProperties false everywhere: a task token (or anything else) has no place to go.
		"task token at the top": func(d map[string]any) { d["taskToken"] = "AQCEAAAAKgAAAAMAAAAAAAAAAfake" },
		"task token in an action": func(d map[string]any) {
			d["actions"].([]any)[0].(map[string]any)["taskToken"] = "AQCEAAAAKgAAAAMAAAAAAAAAAfake"
		},
		"unknown version":    func(d map[string]any) { d["version"] = "2" },
		"unknown outcome":    func(d map[string]any) { d["outcome"] = "pwned" },
		"no execution":       func(d map[string]any) { delete(d, "execution") },
		"negative time":      func(d map[string]any) { d["timeToContain"].(map[string]any)["fromEventArrivalSeconds"] = -1 },
		"non-time doneAt":    func(d map[string]any) { d["actions"].([]any)[0].(map[string]any)["doneAt"] = "yesterday" },
		"finding from bogus": func(d map[string]any) { d["finding"].(map[string]any)["from"] = "trust-me" },
	}
	for name, edit := range cases {
		var d map[string]any
		_ = json.Unmarshal(good, &d)
		edit(d)
		b, _ := json.Marshal(d)
		if notifytest.CheckEvent(t, b) == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

// The approval request carries the task token (in its commands): it has no event at all.
func TestEvent_ApprovalRequestHasNoEvent(t *testing.T) {
	f := notify.PerOutcome(t)[notify.OutcomeRemediated].Finding
	m, err := notify.BuildApprovalRequest(notify.ApprovalRequest{Finding: f, Action: mapping.Action{Bot: "ec2_stop_instance", Mode: "APPROVE", ApprovalTimeoutSeconds: 60},
		Execution: "arn:aws:states:us-east-1:111122223333:execution:sm:x", TaskToken: "AQCEAAAAKgAAAAMAAAAAAAAAAfake"}, notify.ApprovalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Event) != 0 {
		t.Errorf("approval request has an event: %s", m.Event)
	}
}

func TestContainment_FromUpdatedAtAndFromArrivalToTheLastContainingAction(t *testing.T) {
	in := notify.PerOutcome(t)[notify.OutcomeRemediated]
	// updatedAt 10:00:00, execution start 10:02:00; a second action contains at 10:03:00.
	in.Results = append(in.Results, bots.Result{Bot: "iam_disable_access_key", Status: bots.StatusRemediated, DoneAt: "2026-03-01T10:03:00.5Z"},
		bots.Result{Bot: "ec2_create_snapshot", Status: bots.StatusAlreadyDone, DoneAt: "2026-03-01T11:00:00Z"})
	c := notify.Containment(in)
	if c == nil || c.ContainedAt != "2026-03-01T10:03:00.5Z" || *c.FromFindingUpdatedSecs != 180.5 || *c.FromEventArrivalSeconds != 60.5 {
		t.Fatalf("containment %+v", c)
	}
	for name, edit := range map[string]func(*notify.Input){
		"dry run": func(in *notify.Input) {
			in.Results = []bots.Result{{Status: bots.StatusDryRun, DryRun: true, DoneAt: "2026-03-01T10:03:00Z"}}
		},
		"nothing contained": func(in *notify.Input) {
			in.Results = []bots.Result{{Status: bots.StatusAlreadyDone, DoneAt: "2026-03-01T10:03:00Z"}}
		},
		"no doneAt": func(in *notify.Input) { in.Results = []bots.Result{{Status: bots.StatusRemediated}} },
	} {
		in := notify.PerOutcome(t)[notify.OutcomeRemediated]
		edit(&in)
		if c := notify.Containment(in); c != nil {
			t.Errorf("%s: containment %+v", name, c)
		}
	}
	// A start after the containment (a clock skew, or a claim) gives no negative time: that bound is left out.
	in = notify.PerOutcome(t)[notify.OutcomeRemediated]
	in.Finding.UpdatedAt = "2027-01-01T00:00:00Z"
	if c := notify.Containment(in); c == nil || c.FromFindingUpdatedSecs != nil || c.FromEventArrivalSeconds == nil {
		t.Errorf("future updatedAt: %+v", c)
	}
}

func mustBuild(t *testing.T, in notify.Input) notify.Message {
	t.Helper()
	m, err := notify.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
