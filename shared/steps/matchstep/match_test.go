package matchstep

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

func TestMatcher_ProtectedAccountFromTheEnvironmentIsExempt(t *testing.T) {
	ev, err := os.ReadFile(filepath.Join("..", "..", "finding", "testdata", "events", "envelope_sns_string.json"))
	if err != nil {
		t.Fatal(err)
	}
	def, err := mapping.Parse(mapping.Default())
	if err != nil {
		t.Fatal(err)
	}
	prot, _ := mapping.ParseAccountList("111122223333")
	m := Matcher{Mappings: mapping.Static{M: def}, Options: mapping.MatchOptions{ProtectedAccounts: prot}}
	f, d, err := steps.Decide(context.Background(), ev, def, mapping.MatchOptions{})
	if err != nil || d.Outcome != mapping.Remediate {
		t.Fatalf("fixture decision %+v %v", d, err)
	}
	out, err := m.Match(context.Background(), steps.Transformed{Finding: f})
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Outcome != mapping.Skip || out.Decision.Reason != "exempt: account 111122223333 is protected" {
		t.Errorf("decision %+v", out.Decision)
	}
}

// The schedule's request is decided as itself (verify plans it from the state table); a task no
// schedule asks for is rejected, not guessed at.
func TestMatcher_TheScheduleRequestIsPassedOnAndOtherTasksRejected(t *testing.T) {
	m, err := Matcher{}.Match(context.Background(), steps.Transformed{Scheduled: steps.TaskExpireDenies})
	if err != nil || m.Decision.Outcome != steps.OutcomeExpireDenies || m.Finding != nil || len(m.Decision.Actions) != 0 {
		t.Fatalf("schedule: %+v, %v", m, err)
	}
	if _, err := (Matcher{}).Match(context.Background(), steps.Transformed{Scheduled: "delete-everything"}); faults.Classify(err) != faults.Rejected {
		t.Fatalf("another task: %v", err)
	}
}
