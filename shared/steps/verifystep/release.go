package verifystep

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// ReleaseApprovalTimeoutSeconds is how long each action of a release waits for its approval.
const ReleaseApprovalTimeoutSeconds = mapping.DefaultApprovalTimeoutSeconds

// planRelease answers a release request (steps.ReleaseRequest). Of the input it uses the finding's id,
// account and region, to read GuardDuty's copy — a finding GuardDuty does not hold for that account and
// region is rejected, as for any other input — and nothing else: not the request's decision, actions,
// parameters, modes or any other field of its finding. The plan is every undo bot of the registry that
// acts on the copy's resource kind, each in APPROVE mode with the deployment's own timeout, signed for
// this execution. A release therefore changes nothing until a person with the approver's rights approves
// it, acts only on the resource GuardDuty's finding names, and each undo bot undoes only what its
// containment recorded. A release is not stale with the finding (a person releases after triage), so
// the maximum finding age does not apply; a protected account has nothing to release.
func (v Verifier) planRelease(ctx context.Context, named *finding.Finding, execution string) (steps.Matched, error) {
	if execution == "" {
		return steps.Matched{}, faults.Rejectf("verify: no execution to sign the release of finding %s for", named.ID)
	}
	if v.Disabled {
		// Without GuardDuty's copy there is nothing but the request to plan from: refuse.
		return steps.Matched{}, faults.Rejectf("verify: release of finding %s refused: %s=false, and a release is planned only from GuardDuty's copy of the finding",
			named.ID, deployment.EnvVerifyFindings)
	}
	c, err := v.Checker.Fetch(ctx, named)
	if err != nil {
		slog.WarnContext(ctx, "release not confirmed", "findingId", named.ID, "account", named.AccountID, "region", named.Region,
			"errorType", string(faults.Classify(err)), "error", err.Error())
		return steps.Matched{}, err
	}
	f := c.Finding
	d := mapping.Decision{Outcome: mapping.Remediate, Key: steps.ReleaseKey, Verified: true, Actions: []mapping.Action{},
		Verification: fmt.Sprintf("confirmed by GuardDuty (detector %s in %s): the release is planned from GuardDuty's copy and the bot registry, not from the request", c.DetectorID, c.Region)}
	// Always set, as for a finding (verify.go): the Map hands $.decision.account to every approval request.
	d.Account = org.Summarize(ctx, v.Options.Org, f.AccountID, v.OwnerTag)
	var names []string
	for _, u := range bots.UndoBots() {
		if b, ok := bots.Lookup(u); ok && b.Handles(f.ResourceKind) {
			d.Actions = append(d.Actions, mapping.Action{Bot: u, Params: map[string]any{}, OnError: mapping.Continue,
				Mode: string(mapping.ModeApprove), ApprovalTimeoutSeconds: ReleaseApprovalTimeoutSeconds})
			names = append(names, u)
		}
	}
	switch {
	case v.Options.ProtectedAccounts[f.AccountID]:
		d.Outcome, d.Actions = mapping.Skip, []mapping.Action{}
		d.Reason = "release requested for a finding of protected account " + f.AccountID + ": guardbots changes nothing there, so there is nothing to release"
	case len(d.Actions) == 0:
		d.Outcome = mapping.Skip
		d.Reason = fmt.Sprintf("release requested: no bot undoes a containment of a %s finding", orKind(f.ResourceKind))
	default:
		d.Reason = fmt.Sprintf("release requested: %s, each waiting up to %ds for an approver (a denial or a timeout changes nothing)",
			strings.Join(names, ", "), ReleaseApprovalTimeoutSeconds)
	}
	slog.InfoContext(ctx, "release planned", "findingId", f.ID, "decision", string(d.Outcome), "reason", d.Reason, "verification", d.Verification)
	return v.sign(ctx, steps.Matched{Finding: f, Decision: d}, execution)
}

func orKind(k finding.ResourceKind) string {
	if k == "" {
		return "resource-less"
	}
	return string(k)
}
