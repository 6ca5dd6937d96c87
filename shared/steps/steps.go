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
// The schedule's request (ScheduleRequest) is recognized as itself: a parse with no finding. A release
// request (release.go) is recognized as itself: a finding with its id, account and region only.
func Parse(_ context.Context, raw []byte) (*guardduty.Parsed, error) {
	// Both requests are asked about only when raw is no finding: neither can be one (a finding needs
	// members they refuse), and the questions, a search of the whole input for their names, were a
	// tenth of a finding's parse → transform → match. An event that is a finding with a "guardbots"
	// member too is a finding, the member ignored, as any other member nothing reads.
	p, err := guardduty.Parse(raw)
	if err == nil {
		return p, nil
	}
	if scheduled(raw) {
		return &guardduty.Parsed{Source: SourceSchedule}, nil
	}
	if r, ok, rerr := releaseRequest(raw); ok {
		if rerr != nil {
			return nil, rerr
		}
		return &guardduty.Parsed{Source: SourceRelease, Finding: &guardduty.Finding{ID: r.FindingID, AccountID: r.AccountID, Region: r.Region}}, nil
	}
	return nil, err
}

// Transform is the transform step: GuardDuty finding → normalized remediation finding.
func Transform(ctx context.Context, in *guardduty.Parsed) (Transformed, error) {
	if in != nil && in.Source == SourceSchedule && in.Finding == nil {
		return Transformed{Scheduled: TaskExpireDenies}, nil
	}
	if in == nil || in.Finding == nil {
		return Transformed{}, faults.Rejectf("transform: input has no GuardDuty finding")
	}
	if in.Source == SourceRelease {
		// Nothing to normalize: verify reads the finding from GuardDuty and plans the release.
		return Transformed{Finding: releaseFinding(in)}, nil
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
	// ApprovalRequestedAt and ApprovedAt are set only on an approved action: when its iteration entered
	// "Prepare approval" and "Run approved action" ($$.State.EnteredTime, ISO 8601: Step Functions' own
	// clock, outside anything an event, the execution input or the approver's answer can write). They
	// time the approval wait (the ApprovalWait metric) and are read for nothing else.
	ApprovalRequestedAt string `json:"approvalRequestedAt,omitempty"`
	ApprovedAt          string `json:"approvedAt,omitempty"`
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
