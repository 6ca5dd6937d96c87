package matchstep

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// Matcher is the match step: the mapping's decision on the input finding (mapping.Match), which routes
// skips and notifications cheaply; verify makes every remediate decision again on GuardDuty's copy.
type Matcher struct {
	Mappings mapping.Source
	// Options are the decision's options; Options.Org, when set, is also what the notification's account
	// (name, OU path, owner) is read from.
	Options mapping.MatchOptions
	// OwnerTag is the account tag naming its owner (deployment.EnvOwnerTag).
	OwnerTag string
}

// Match decides what to do with the finding.
func (m Matcher) Match(ctx context.Context, in steps.Transformed) (steps.Matched, error) {
	switch in.Scheduled {
	case "":
	case steps.TaskExpireDenies:
		// Nothing to decide: verify plans the clean-up from the state table, never from this input.
		return steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies, Key: steps.CleanupKey,
			Reason: "the schedule asks for the clean-up of expired IAM denies"}}, nil
	default:
		return steps.Matched{}, faults.Rejectf("match: %q is not a task a schedule may ask for", in.Scheduled)
	}
	if in.Finding == nil {
		return steps.Matched{}, faults.Rejectf("match: input has no finding")
	}
	if steps.IsRelease(in.Finding) {
		// Nothing to decide here: verify plans the release from GuardDuty's copy, never from this input.
		slog.InfoContext(ctx, "release requested", "findingId", in.Finding.ID, "account", in.Finding.AccountID, "region", in.Finding.Region)
		return steps.Matched{Finding: in.Finding, Decision: mapping.Decision{Outcome: mapping.Remediate, Key: steps.ReleaseKey,
			Reason: "a release request asks to undo guardbots' containment of this finding", Actions: []mapping.Action{}}}, nil
	}
	mp, err := m.Mappings.Mapping(ctx)
	if err != nil {
		return steps.Matched{}, fmt.Errorf("match: %w", err)
	}
	d, err := mp.Decide(ctx, in.Finding, m.Options)
	if err != nil {
		return steps.Matched{}, fmt.Errorf("match: %w", err)
	}
	if m.Options.Org != nil {
		// For the notification and its routing, whatever was decided; a lookup that fails here (for a
		// decision that did not need it) is said in the message, not fatal.
		d.Account = org.Summarize(ctx, m.Options.Org, in.Finding.AccountID, m.OwnerTag)
	}
	bots := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		bots[i] = a.Bot
	}
	slog.InfoContext(ctx, "decision", "findingId", in.Finding.ID, "decision", string(d.Outcome),
		"reason", d.Reason, "mappingKey", d.Key, "rule", d.Rule, "scope", d.Scope, "bots", bots)
	return steps.Matched{Finding: in.Finding, Decision: d}, nil
}
