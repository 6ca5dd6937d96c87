package notify

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

func TestOutcome_PerInput(t *testing.T) {
	res := func(ss ...bots.Status) []bots.Result {
		var out []bots.Result
		for _, s := range ss {
			out = append(out, bots.Result{Bot: "b", Status: s})
		}
		return out
	}
	f := instanceFinding()
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"remediated", Input{Finding: f, Results: res(bots.StatusRemediated, bots.StatusAlreadyDone)}, OutcomeRemediated},
		{"action failed after another remediated", Input{Finding: f, Results: res(bots.StatusRemediated, bots.StatusFailed)}, OutcomePartial},
		{"action failed", Input{Finding: f, Results: res(bots.StatusSkipped, bots.StatusFailed)}, OutcomeFailed},
		{"caught step error", Input{Finding: f, Error: &StepError{Step: "match", Error: "Guardbots.Failed"}}, OutcomeFailed},
		{"timeout", Input{Finding: f, Error: &StepError{Step: "remediate", Error: "States.Timeout"}}, OutcomeFailed},
		{"rejected", Input{Error: &StepError{Step: "parse", Error: "Guardbots.Rejected"}}, OutcomeRejected},
		{"dry run", Input{Finding: f, Results: res(bots.StatusDryRun)}, OutcomeDryRun},
		{"already done", Input{Finding: f, Results: res(bots.StatusAlreadyDone, bots.StatusSkipped)}, OutcomeAlreadyDone},
		{"notify only bot", Input{Finding: f, Results: res(bots.StatusNotified)}, OutcomeNotifyOnly},
		{"notify decision", Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.NotifyOnly}}, OutcomeNotifyOnly},
		{"skip decision", Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "sample finding"}}, OutcomeSkipped},
		{"all skipped", Input{Finding: f, Results: res(bots.StatusSkipped)}, OutcomeSkipped},
	}
	for _, c := range cases {
		if got := OutcomeOf(c.in); got != c.want {
			t.Errorf("%s: outcome = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestHeldAction_OutcomeIsHeldAndTheSummarySaysWhyAndWarns(t *testing.T) {
	in := remediated()
	in.Results = append(in.Results, bots.Result{Bot: "ec2_quarantine_instance", Status: bots.StatusSkipped, Held: true,
		Reason:   "blast-radius limit reached (10 disruptive actions in account 111122223333 this hour): approve it by hand",
		Warnings: []string{"audit record not written: throttled"}})
	m, b := build(t, in)
	if m.Outcome != OutcomeHeld || b.Outcome != OutcomeHeld {
		t.Fatalf("outcome = %q / %q, want %q", m.Outcome, b.Outcome, OutcomeHeld)
	}
	for _, want := range []string{"ec2_quarantine_instance held (blast-radius limit reached", "warnings: audit record not written"} {
		if !strings.Contains(b.Summary, want) {
			t.Errorf("summary %q does not contain %q", b.Summary, want)
		}
	}
	if !strings.HasSuffix(m.Subject, ": held") && !strings.Contains(m.Subject, ": held (") {
		t.Errorf("subject %q does not end with the held outcome", m.Subject)
	}
}

// A release request that undid something is "released", not "remediated": the subject, the filter
// attribute, the event and the metrics must not count an undone containment as a containment. Only the
// verify step's release (the request's finding source and the release key its signatures cover) is one;
// a failure still wins, so a person is told.
func TestOutcome_ReleaseIsReleasedNotRemediated(t *testing.T) {
	res := func(ss ...bots.Status) []bots.Result {
		var out []bots.Result
		for _, s := range ss {
			out = append(out, bots.Result{Bot: "iam_undo_deny_session", Status: s})
		}
		return out
	}
	rf := instanceFinding()
	rf.Source = string(steps.SourceRelease)
	rd := &mapping.Decision{Outcome: mapping.Remediate, Key: steps.ReleaseKey, Verified: true}
	other := &mapping.Decision{Outcome: mapping.Remediate, Key: "UnauthorizedAccess:EC2/*", Verified: true}
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"undone", Input{Finding: rf, Decision: rd, Results: res(bots.StatusRemediated, bots.StatusSkipped)}, OutcomeReleased},
		{"found undone already", Input{Finding: rf, Decision: rd, Results: res(bots.StatusAlreadyDone)}, OutcomeReleased},
		{"one undo failed", Input{Finding: rf, Decision: rd, Results: res(bots.StatusRemediated, bots.StatusFailed)}, OutcomePartial},
		{"nothing to undo", Input{Finding: rf, Decision: rd, Results: res(bots.StatusSkipped)}, OutcomeSkipped},
		{"dry run", Input{Finding: rf, Decision: rd, Results: res(bots.StatusDryRun)}, OutcomeDryRun},
		{"a containment whose rule is keyed like a release", Input{Finding: instanceFinding(), Decision: rd, Results: res(bots.StatusRemediated)}, OutcomeRemediated},
		{"a release finding under another key", Input{Finding: rf, Decision: other, Results: res(bots.StatusRemediated)}, OutcomeRemediated},
	}
	for _, c := range cases {
		if got := OutcomeOf(c.in); got != c.want {
			t.Errorf("%s: outcome = %q, want %q", c.name, got, c.want)
		}
	}
	in := perOutcome(t)[OutcomeReleased]
	m, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Subject, ": released") || m.Routing.Outcome != OutcomeReleased || !strings.HasPrefix(m.Text, "guardbots: released\n") {
		t.Errorf("subject %q, routing %+v, mail %q", m.Subject, m.Routing, m.Text)
	}
	if Containment(in) != nil || strings.Contains(string(m.Event), "timeToContain") {
		t.Errorf("a release has a time to contain: %s", m.Event)
	}
}
