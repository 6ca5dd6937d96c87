package verifystep

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// FindingFetcher reads GuardDuty's own copy of a finding (verify.Checker).
type FindingFetcher interface {
	Fetch(ctx context.Context, f *finding.Finding) (verify.Copy, error)
}

// PlanSigner signs every action of a decision for the finding and the execution (plan.Signer).
type PlanSigner interface {
	Sign(ctx context.Context, f *finding.Finding, d *mapping.Decision, execution string) error
}

// Input is verify's input: match's output, and the execution it runs in. The state machine's Task sets
// execution from the context object ($$.Execution.Id), which only Step Functions writes.
type Input struct {
	steps.Matched
	Execution string `json:"execution"`
}

// Verifier is the verify step. The state machine runs it only on a remediate decision of match, and
// before any bot. Match decided on the input, which is whatever the sender wrote; the verifier reads the
// finding back from GuardDuty and decides again on GuardDuty's copy, with the same mapping logic and
// options match used plus the maximum finding age. Its output replaces the state: from here on, bots,
// notify and closing the loop see GuardDuty's copy and the decision made on it, never the input. A
// finding GuardDuty does not hold, or holds for another account or region, is rejected (notified, no bot
// runs); one whose copy decides skip or notify (below a floor, archived, a sample, stale, a protected
// account, another type) goes no further than the notification.
type Verifier struct {
	Checker  FindingFetcher
	Mappings mapping.Source
	// Options are match's (samples, protected accounts and OUs, the organization lookup) plus MaxAge;
	// Now is set per call.
	Options mapping.MatchOptions
	// OwnerTag is the account tag naming its owner (deployment.EnvOwnerTag), for the notification.
	OwnerTag string
	// Disabled skips the check, and says so in the decision (GUARDBOTS_VERIFY_FINDINGS=false): the
	// input then acts as it is, and closing the loop records nothing on it.
	Disabled bool
	// Now is the clock MaxAge is measured with (time.Now when nil).
	Now func() time.Time
	// Signer signs the plan of a remediate decision, action by action: bots act only on a signed plan.
	// Nil signs nothing (tests of the decision alone); the Lambda always has one.
	Signer PlanSigner
	// Cleanup plans the scheduled clean-up of expired IAM denies (steps.ScheduleRequest); nil refuses it.
	Cleanup *Cleanup
}

// Verify reads the finding back from GuardDuty and returns GuardDuty's copy with the decision made on it,
// each action of a remediate decision signed for this finding in this execution.
func (v Verifier) Verify(ctx context.Context, input Input) (steps.Matched, error) {
	in := input.Matched
	if in.Decision.Outcome == steps.OutcomeExpireDenies {
		// The schedule's request: planned from the state table alone, whatever else the input says.
		return v.planCleanup(ctx, input.Execution)
	}
	f := in.Finding
	if f == nil {
		return steps.Matched{}, faults.Rejectf("verify: input has no finding")
	}
	if steps.IsRelease(f) {
		// A release request: planned from GuardDuty's copy and the registry alone (release.go).
		return v.planRelease(ctx, f, input.Execution)
	}
	// Whatever arrived claiming to be verified is not: only this step's own output is.
	in.Decision.Verified = false
	for i := range in.Decision.Actions {
		in.Decision.Actions[i].Signature = nil
	}
	if in.Decision.Outcome != mapping.Remediate {
		return in, nil
	}
	if in.Decision.Actions == nil {
		in.Decision.Actions = []mapping.Action{}
	}
	if input.Execution == "" {
		return steps.Matched{}, faults.Rejectf("verify: no execution to sign the plan of finding %s for (the state machine passes $$.Execution.Id)", f.ID)
	}
	if v.Disabled {
		in.Decision.Verification = "not checked: " + deployment.EnvVerifyFindings + "=false; the input finding acts as it came"
		slog.WarnContext(ctx, "finding not verified", "findingId", f.ID, "reason", in.Decision.Verification)
		return v.sign(ctx, in, input.Execution)
	}
	c, err := v.Checker.Fetch(ctx, f)
	if err != nil {
		slog.WarnContext(ctx, "finding not confirmed", "findingId", f.ID, "type", f.Type, "account", f.AccountID,
			"region", f.Region, "errorType", string(faults.Classify(err)), "error", err.Error())
		return steps.Matched{}, err
	}
	m, err := v.Mappings.Mapping(ctx)
	if err != nil {
		return steps.Matched{}, fmt.Errorf("verify: %w", err)
	}
	opts := v.Options
	opts.Now = time.Now()
	if v.Now != nil {
		opts.Now = v.Now()
	}
	// The organization is looked up again, by this step, for GuardDuty's account: nothing match put in
	// the input counts (a direct invoke of verify could put anything there, and verify signs).
	d, err := m.Decide(ctx, c.Finding, opts)
	if err != nil {
		return steps.Matched{}, fmt.Errorf("verify: %w", err)
	}
	// Always set (lookups off: the account id and why nothing more is known): the workflow's Map hands
	// $.decision.account to every iteration, so an approval request is routed to the owning team like
	// every other message, and a JSONPath to a missing field would fail the execution.
	d.Account = org.Summarize(ctx, opts.Org, c.Finding.AccountID, v.OwnerTag)
	d.Verified = true
	diffs := verify.Differences(f, c.Finding)
	d.Verification = verification(c, diffs, in.Decision, d)
	attrs := []any{"findingId", c.Finding.ID, "decision", string(d.Outcome), "reason", d.Reason, "mappingKey", d.Key, "rule", d.Rule, "scope", d.Scope,
		"verification", d.Verification}
	if len(diffs) > 0 {
		// An input that disagrees with GuardDuty was edited on its way or replayed: worth an alarm.
		slog.WarnContext(ctx, "input differs from GuardDuty's copy", append(attrs, "differences", diffs)...)
	} else {
		slog.InfoContext(ctx, "finding verified", attrs...)
	}
	return v.sign(ctx, steps.Matched{Finding: c.Finding, Decision: d}, input.Execution)
}

// sign signs out's plan when it is a remediation: what the bots will be given, and only that.
func (v Verifier) sign(ctx context.Context, out steps.Matched, execution string) (steps.Matched, error) {
	if out.Decision.Outcome != mapping.Remediate || v.Signer == nil {
		return out, nil
	}
	if err := v.Signer.Sign(ctx, out.Finding, &out.Decision, execution); err != nil {
		return steps.Matched{}, fmt.Errorf("verify: finding %s: %w", out.Finding.ID, err)
	}
	slog.InfoContext(ctx, "plan signed", "findingId", out.Finding.ID, "execution", execution, "actions", len(out.Decision.Actions))
	return out, nil
}

// verification is the decision's verification text: where the copy came from, how the input differed
// from it, and whether the decision changed.
func verification(c verify.Copy, diffs []string, before, after mapping.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "confirmed by GuardDuty (detector %s in %s): GuardDuty's copy of the finding replaces the input", c.DetectorID, c.Region)
	if len(diffs) == 0 {
		b.WriteString(", which agreed with it")
	} else {
		fmt.Fprintf(&b, "; the input differed from it in %s", strings.Join(diffs, ", "))
	}
	switch {
	case after.Rule != before.Rule || after.Scope != before.Scope:
		// Another rule or scope: the copy's resource kind, type or severity placed it elsewhere.
		fmt.Fprintf(&b, "; decided again on GuardDuty's copy: %s%s (match decided %s%s on the input)",
			after.Outcome, ruleOf(after), before.Outcome, ruleOf(before))
	case after.Outcome != before.Outcome || after.Key != before.Key:
		fmt.Fprintf(&b, "; decided again on GuardDuty's copy: %s (match decided %s on the input)", after.Outcome, before.Outcome)
	}
	s := b.String()
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "") + "…"
	}
	return s
}

// ruleOf names the rule and scope a decision came from, for the verification text.
func ruleOf(d mapping.Decision) string {
	switch {
	case d.Scope != "":
		return " by " + d.Scope
	case d.Rule != "":
		return " by " + d.Rule
	}
	return ""
}
