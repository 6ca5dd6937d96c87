package steps

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/mapping"
)

// Transformed is transform's output and match's input.
type Transformed struct {
	Finding *finding.Finding `json:"finding"`
	// Scheduled is the task of the schedule's request (TaskExpireDenies), which names no finding.
	Scheduled string `json:"scheduled,omitempty"`
}

// Matched is match's output: the finding and what to do with it. The state machine's Choice reads
// decision.decision and its Map iterates decision.actions.
type Matched struct {
	Finding  *finding.Finding `json:"finding"`
	Decision mapping.Decision `json:"decision"`
	// Cleanup is the scheduled clean-up's plan (verify's answer to the schedule's request): one signed
	// action per principal whose guardbots deny expired. The state machine's clean-up Map iterates it.
	Cleanup []CleanupItem `json:"cleanup,omitempty"`
}

// Parse is the parse step: any supported envelope → the GuardDuty finding. The raw event goes no further.
// The schedule's request (ScheduleRequest) is recognized as itself: a parse with no finding.
func Parse(_ context.Context, raw []byte) (*guardduty.Parsed, error) {
	// The schedule's request is asked about only when raw is no finding: no input is both (a finding
	// has members the request's single "guardbots" cannot be), and the question, a search of the
	// whole input for the task's name, was a tenth of a finding's parse → transform → match.
	p, err := guardduty.Parse(raw)
	if err != nil && scheduled(raw) {
		return &guardduty.Parsed{Source: SourceSchedule}, nil
	}
	return p, err
}

// Transform is the transform step: GuardDuty finding → normalized remediation finding.
func Transform(ctx context.Context, in *guardduty.Parsed) (Transformed, error) {
	if in != nil && in.Source == SourceSchedule && in.Finding == nil {
		return Transformed{Scheduled: TaskExpireDenies}, nil
	}
	if in == nil || in.Finding == nil {
		return Transformed{}, faults.Rejectf("transform: input has no GuardDuty finding")
	}
	f, err := finding.FromGuardDuty(in)
	if err != nil {
		return Transformed{}, fmt.Errorf("transform: %w", err)
	}
	slog.InfoContext(ctx, "finding", "findingId", f.ID, "type", f.Type, "account", f.AccountID,
		"region", f.Region, "resourceKind", string(f.ResourceKind), "severity", f.Severity, "source", f.Source)
	return Transformed{Finding: f}, nil
}

// BotInput is one iteration of the state machine's Map over the decision's actions.
type BotInput struct {
	Finding *finding.Finding `json:"finding"`
	Action  mapping.Action   `json:"action"`
	// Execution is the execution ARN ($$.Execution.Id), recorded in tags and results.
	Execution string `json:"execution,omitempty"`
	// DryRun is the workflow-wide switch; an action's DRYRUN mode also makes it a dry run.
	DryRun bool `json:"dryRun,omitempty"`
	// Index is the action's position in the decision ($$.Map.Item.Index): an action with
	// onError "stop" that fails ends the actions after it, and only those.
	Index int `json:"index"`
	// MappingKey is the mapping entry that chose the action ($.decision.mappingKey), for the audit record.
	MappingKey string `json:"mappingKey,omitempty"`
}

// Decide runs parse → transform → match in process: what explain prints and what the benchmark measures.
func Decide(ctx context.Context, raw []byte, m *mapping.Mapping, opts mapping.MatchOptions) (*finding.Finding, mapping.Decision, error) {
	p, err := Parse(ctx, raw)
	if err != nil {
		return nil, mapping.Decision{}, err
	}
	f, err := finding.FromGuardDuty(p)
	if err != nil {
		return nil, mapping.Decision{}, err
	}
	d, err := m.Decide(ctx, f, opts)
	if err != nil {
		return f, mapping.Decision{}, err
	}
	return f, d, nil
}
