package verifystep

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// FindingChecker re-reads a finding from GuardDuty (verify.Checker).
type FindingChecker interface {
	Check(ctx context.Context, f *finding.Finding) (verify.Verdict, error)
}

// Verifier is the verify step. The state machine runs it only on a remediate decision — a notify or
// skip decision changes nothing, so a forged one can do no harm — and before any bot: a finding
// GuardDuty does not confirm is rejected (notified, no bot runs); one GuardDuty has archived is skipped.
type Verifier struct {
	Checker FindingChecker
	// Disabled skips the check, and says so in the decision (GUARDBOTS_VERIFY_FINDINGS=false).
	Disabled bool
}

// Verify confirms the finding with GuardDuty and returns the decision to carry out.
func (v Verifier) Verify(ctx context.Context, in steps.Matched) (steps.Matched, error) {
	f := in.Finding
	if f == nil {
		return steps.Matched{}, faults.Rejectf("verify: input has no finding")
	}
	if in.Decision.Outcome != mapping.Remediate {
		return in, nil
	}
	if in.Decision.Actions == nil {
		in.Decision.Actions = []mapping.Action{}
	}
	if v.Disabled {
		in.Decision.Verification = "not checked: " + steps.EnvVerifyFindings + "=false"
		slog.WarnContext(ctx, "finding not verified", "findingId", f.ID, "reason", in.Decision.Verification)
		return in, nil
	}
	verdict, err := v.Checker.Check(ctx, f)
	if err != nil {
		slog.WarnContext(ctx, "finding not confirmed", "findingId", f.ID, "type", f.Type, "account", f.AccountID,
			"region", f.Region, "errorType", string(faults.Classify(err)), "error", err.Error())
		return steps.Matched{}, err
	}
	if verdict.Archived {
		// The input may say otherwise; GuardDuty's copy is the one that counts.
		in.Decision = mapping.Decision{Outcome: mapping.Skip, Key: in.Decision.Key, Actions: []mapping.Action{},
			Reason:       fmt.Sprintf("finding is archived in GuardDuty (detector %s in %s): no action", verdict.DetectorID, verdict.Region),
			Verification: "archived in GuardDuty"}
	} else {
		in.Decision.Verification = fmt.Sprintf("confirmed by GuardDuty (detector %s in %s): type, account and resource match",
			verdict.DetectorID, verdict.Region)
	}
	slog.InfoContext(ctx, "finding verified", "findingId", f.ID, "decision", string(in.Decision.Outcome),
		"verification", in.Decision.Verification)
	return in, nil
}
