package notify

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
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
