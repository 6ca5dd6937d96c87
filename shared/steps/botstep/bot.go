package botstep

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

// ConfigResolver gives a bot the AWS configuration for the finding's account and region
// (awsenv.Resolver: the member role when the account is not the orchestrator's).
type ConfigResolver interface {
	ForBot(ctx context.Context, bot, findingID, account, region, partition string) (aws.Config, string, error)
}

// Runner is the handler of one bot's Lambda. Each bot Lambda runs only its own bot: its role holds
// only that bot's permissions, so an input naming another bot is rejected rather than trusted.
type Runner struct {
	Bot      bots.Bot
	Resolver ConfigResolver
	// DryRun forces dry-run for every action (the deployment's global switch).
	DryRun bool
	// State is the orchestrator's state table (nil when not configured: bots that must remember how to
	// undo their work then fail, naming the variable to set).
	State bots.StateStore
	// Rails are exemption, duplicate suppression, the blast-radius limit and the audit trail.
	Rails Rails
	// Plan checks that the workflow vouched for the action (plan.Verifier): verify's signature, a
	// running execution, and any approval in the execution's history. Nil checks nothing (tests of the
	// other rails); the Lambda always has one and refuses to start without its configuration.
	Plan PlanChecker
	// Probes checks the member-role health check's probes (probe.go): the probe key's signature and a
	// running execution of the member-health state machine. Nil refuses every probe.
	Probes ProbeChecker
	// Region is where a probe calls STS (the Lambda's own region).
	Region string
}

// ProbeChecker is plan.Verifier built with the probe key and the member-health state machine.
type ProbeChecker interface {
	CheckProbe(ctx context.Context, bot string, p plan.Probe) error
}

// PlanChecker is plan.Verifier.
type PlanChecker interface {
	Check(ctx context.Context, a plan.Action) error
	Approval(ctx context.Context, a plan.Action) (plan.Evidence, error)
}

// Run applies the rails around the bot, in this order (each one only when the earlier let the action
// through; a rail whose own read fails stops the action with that error — fail closed):
//
//  1. validate the input (bot name, finding, parameters); then the plan: verify signed this action for
//     this finding in this execution, the execution is running on the guardbots state machine, and an
//     approval it carries is in the execution's history — else the input is refused, unaudited (nothing
//     the workflow asked for happened; the log says why); then the resource kind;
//     An (action, member) pair of an attack sequence acts on its member alone (finding.MemberView):
//     every step below reads the member's kind, identifier, account and region;
//  2. resolve the targets: the finding's resources of the kinds the bot acts on, validated (a malformed
//     identifier is rejected), skipping a finding whose target the bot does not act on;
//  3. the stop record: an earlier action of this execution failed with onError stop;
//  4. the related targets the bot declares, found live in the finding's account (with its credentials);
//  5. exemption, read live on every target (bots that change something); a target whose tags cannot be
//     read because it is gone is not changed;
//  6. duplicate suppression: claim (finding, bot, targets) for this execution (not on dry-run);
//  7. the blast-radius count (disruptive and destructive bots, not on dry-run): past it, held — the
//     state machine then asks a person, and an action it held that a person approved is not counted
//     again (see approvedPastLimit);
//  8. run the bot on exactly the targets the rails read;
//  9. audit the outcome — every outcome, skips and failures included;
//  10. mark the claim done, or release it (failure, skip) so a later delivery may act.
//
// The exemption comes before the claim so an exempt resource leaves no claim; the claim before the
// count so a duplicate never uses up the blast radius.
func (r Runner) Run(ctx context.Context, in steps.BotInput) (bots.Result, error) {
	b := r.Bot
	if in.Action.Bot != b.Name {
		return bots.Result{}, faults.Rejectf("bot %s was asked to run %q", b.Name, in.Action.Bot)
	}
	f := in.Finding
	if f == nil || f.ID == "" {
		return bots.Result{}, faults.Rejectf("bot %s: input has no finding", b.Name)
	}
	// The mapping was validated when it was read, but the input is re-validated: anyone able to start
	// an execution controls it.
	params, err := b.ParseParams(in.Action.Params)
	if err != nil {
		return bots.Result{}, faults.Reject(err)
	}
	var approval *plan.Evidence
	if r.Plan != nil {
		if approval, err = r.vouched(ctx, in); err != nil {
			if faults.Classify(err) == faults.Rejected {
				// What a direct invoke looks like: alarmed (infra's metric filter), not audited, since
				// nothing the workflow planned was done and the audit trail is not the attacker's to fill.
				slog.ErrorContext(ctx, "plan rejected", "event", deployment.EventPlanRejected, "bot", b.Name, "findingId", clip(f.ID),
					"execution", clip(in.Execution), "index", in.Index, "error", err.Error())
			}
			return bots.Result{}, err
		}
	}
	if err := cleanupOnly(b, f, params); err != nil {
		slog.ErrorContext(ctx, "plan rejected", "event", deployment.EventPlanRejected, "bot", b.Name, "findingId", clip(f.ID),
			"execution", clip(in.Execution), "index", in.Index, "error", err.Error())
		return bots.Result{}, err
	}
	if m := in.Action.Member; m != nil {
		// One (action, member) pair of an attack sequence: from here on the finding is the member, in
		// its own account and region, taken from the finding the plan was checked on (GuardDuty's copy,
		// by its digest) at the place the signature names.
		if in.Finding, err = finding.MemberView(f, *m); err != nil {
			return bots.Result{}, faults.Reject(fmt.Errorf("bot %s: %w", b.Name, err))
		}
		f = in.Finding
	}
	rails := r.Rails
	now := rails.now()
	dry := r.DryRun || in.DryRun || in.Action.Mode == "DRYRUN"
	res := bots.Result{Bot: b.Name, Account: f.AccountID, Region: f.Region, DryRun: dry}
	// Until they are resolved, skips and failures are audited under what the finding names.
	a := &action{Runner: r, in: in, targets: named(f), approval: approval}
	if !b.Handles(f.ResourceKind) {
		return a.skip(ctx, res, fmt.Sprintf("%s does not act on %s findings", b.Name, f.ResourceKind), now)
	}
	req := bots.Request{Finding: f, Params: params, DryRun: dry, Execution: in.Execution, State: r.State}
	if b.ChecksExemption() && len(b.Targets) == 0 {
		// Nothing to read the exemption of, nothing to claim: fail closed.
		return bots.Result{}, a.failed(ctx, res, faults.Fail(fmt.Errorf("bot %s changes something but declares no kind of target", b.Name)), now)
	}
	targets, skip, err := b.TargetsOf(f)
	if err != nil {
		return bots.Result{}, a.failed(ctx, res, err, now)
	}
	if skip != "" {
		return a.skip(ctx, res, skip, now)
	}
	req.Targets, a.targets = targets, targets
	stop, err := r.stopRecord(ctx, in.Execution)
	if err != nil {
		return bots.Result{}, a.failed(ctx, res, err, now)
	}
	if stop != nil && stop.Index < in.Index {
		return a.skip(ctx, res, fmt.Sprintf("not run: action %d (%s) failed and its onError is stop", stop.Index+1, stop.Bot), now)
	}
	if len(b.Operations) > 0 {
		cfg, role, err := r.Resolver.ForBot(ctx, b.Name, f.ID, f.AccountID, f.Region, f.Partition)
		if err != nil {
			return bots.Result{}, a.failed(ctx, res, fmt.Errorf("bot %s: credentials for account %s in %s: %w", b.Name, f.AccountID, f.Region, err), now)
		}
		req.AWS, res.Role = cfg, role
	}
	if req.Related, skip, err = b.RelatedOf(ctx, req.AWS, f, req.Targets); err != nil {
		return bots.Result{}, a.failed(ctx, res, err, now)
	}
	a.targets = slices.Concat(req.Targets, req.Related)
	if skip != "" {
		return a.skip(ctx, res, skip, now)
	}

	var notes []string
	if rails.Exempt != nil && b.ChecksExemption() {
		v, err := rails.Exempt(ctx, req.AWS, a.targets)
		if err != nil {
			return bots.Result{}, a.failed(ctx, res, fmt.Errorf("bot %s: %w", b.Name, err), now)
		}
		if v.Exempt != nil {
			return a.skip(ctx, res, fmt.Sprintf("exempt: %s is tagged %s", v.Exempt, bots.ExemptionTag), now)
		}
		if len(v.Gone) > 0 {
			var gone string
			if req, gone = withoutGone(req, v.Gone); gone != "" {
				return a.skip(ctx, res, "not changed: "+gone, now)
			}
			for _, g := range v.Gone {
				notes = append(notes, "not changed: "+g.Reason)
			}
		}
	}

	claim := ""
	if rails.Claims != nil && b.ChecksExemption() && !dry {
		key := claimKey(f, b.Name, a.targets)
		holder, granted, err := rails.Claims.Claim(ctx, key, in.Execution, now, rails.DedupLease)
		if err != nil {
			return bots.Result{}, a.failed(ctx, res, fmt.Errorf("bot %s: duplicate-suppression claim: %w", b.Name, err), now)
		}
		if !granted {
			return a.skip(ctx, res, alreadyHandled(holder), now)
		}
		claim = key
	}
	release := func() {
		if claim == "" {
			return
		}
		if err := rails.Claims.Release(ctx, claim, in.Execution); err != nil {
			// The claim then lapses with its lease: later deliveries wait at most that long.
			slog.ErrorContext(ctx, "duplicate-suppression claim not released", "key", claim, "error", err.Error())
		}
	}

	var counted []statetable.Slot
	if approvedPastLimit(in) && countsAgainstBlastRadius(b, f, dry) {
		// The person is the override: the limit asked for them, so it must not refuse their answer.
		slog.WarnContext(ctx, "held action approved: not counted against the blast-radius limit", "bot", b.Name,
			"findingId", f.ID, "account", f.AccountID, "execution", in.Execution, "approver", in.Action.Approval.Approver,
			"held", in.Action.Held)
	} else if rails.Counter != nil && countsAgainstBlastRadius(b, f, dry) {
		held, taken, err := rails.takeBlast(ctx, f.AccountID, now)
		if err != nil {
			release()
			return bots.Result{}, a.failed(ctx, res, fmt.Errorf("bot %s: %w", b.Name, err), now)
		}
		if held != "" {
			release()
			res.Held = true
			slog.ErrorContext(ctx, "action held by the blast-radius limit", "event", deployment.EventBlastRadiusHeld, "bot", b.Name,
				"findingId", f.ID, "account", f.AccountID, "region", f.Region, "execution", in.Execution, "reason", held)
			return a.skip(ctx, res, held, now)
		}
		counted = taken
	}

	out, err := r.run(ctx, req, res)
	if err != nil {
		release()
		if counted != nil {
			rails.giveBlast(ctx, counted)
		}
		return bots.Result{}, a.failed(ctx, res, err, rails.now())
	}
	out.Changes = append(out.Changes, notes...)
	if counted != nil && out.Status != bots.StatusRemediated {
		// Nothing was changed (already done, gone): it does not use up the blast radius.
		rails.giveBlast(ctx, counted)
	}
	done := rails.now()
	out.DoneAt = done.UTC().Format(time.RFC3339Nano)
	if aerr := rails.audit(ctx, in, b, out, nil, a.targets, approval, done); aerr != nil {
		// The action happened and cannot be undone by failing: report it, with the audit gap named.
		out.Warnings = append(out.Warnings, "audit record not written: "+aerr.Error())
	}
	if claim != "" {
		if out.Status == bots.StatusSkipped {
			release()
		} else if err := rails.Claims.Finish(ctx, claim, in.Execution, done, rails.DedupWindow); err != nil {
			slog.ErrorContext(ctx, "duplicate-suppression claim not marked done", "key", claim, "error", err.Error())
			out.Warnings = append(out.Warnings, "duplicate suppression not recorded (a re-delivery may run it again): "+err.Error())
		}
	}
	if stop != nil && stop.Index == in.Index {
		// An earlier attempt of this same action failed and Retry ran it again: it succeeded, so the
		// actions after it may run.
		if err := r.State.Delete(ctx, stopKey(in.Execution)); err != nil {
			return bots.Result{}, fmt.Errorf("bot %s: clear the stop record of execution %s: %w", b.Name, in.Execution, err)
		}
	}
	return out, nil
}

// withoutGone drops from req the targets whose tags could not be read because they are gone: they are
// not changed. gone, when set, is why nothing is left to act on — every target of the finding is gone,
// or a related one the bot acts on is.
func withoutGone(req bots.Request, unreadable []exempt.Unreadable) (out bots.Request, gone string) {
	drop := map[finding.Target]bool{}
	reasons := make([]string, len(unreadable))
	for i, u := range unreadable {
		drop[u.Target], reasons[i] = true, u.Reason
	}
	isGone := func(t finding.Target) bool { return drop[t] }
	if slices.ContainsFunc(req.Related, isGone) {
		return req, strings.Join(reasons, "; ")
	}
	req.Targets = slices.DeleteFunc(slices.Clone(req.Targets), isGone)
	if len(req.Targets) == 0 {
		return req, strings.Join(reasons, "; ")
	}
	return req, ""
}

// named is what the finding names, for the audit records of an action whose targets are not resolved
// (yet): a malformed identifier is left out.
func named(f *finding.Finding) []finding.Target {
	ts, _ := finding.Targets(f)
	return ts
}

// action is one run of the runner: the input, the targets its audit records name, and where the
// execution's history shows its approval (nil when it carries none).
type action struct {
	Runner
	in       steps.BotInput
	targets  []finding.Target
	approval *plan.Evidence
}

// vouched checks in against its plan (see Run, step 1) and returns the history's evidence of the
// approval it carries. The state machine sends held only with the approval of the hold, and an APPROVE
// action only once approved: an input that says otherwise did not come from it.
func (r Runner) vouched(ctx context.Context, in steps.BotInput) (*plan.Evidence, error) {
	a := plan.Action{Finding: in.Finding, Execution: in.Execution, Index: in.Index, MappingKey: in.MappingKey, Action: in.Action}
	if err := r.Plan.Check(ctx, a); err != nil {
		return nil, fmt.Errorf("bot %s: %w", r.Bot.Name, err)
	}
	act := in.Action
	what := fmt.Sprintf("bot %s: action %d", r.Bot.Name, in.Index+1)
	switch {
	case act.Approval == nil && act.Held != "":
		return nil, faults.Rejectf("%s carries a blast-radius hold but no approval of it: the state machine sends a held action only once a person approved it", what)
	case act.Approval == nil && act.Mode == string(mapping.ModeApprove):
		return nil, faults.Rejectf("%s is in APPROVE mode and carries no approval: it runs only once a person approved it in this execution", what)
	case act.Approval == nil:
		return nil, nil
	}
	ev, err := r.Plan.Approval(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &ev, nil
}

// clip bounds a value the input chose before it goes into a log line.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// approvedPastLimit reports whether the action is one the blast-radius limit held and a person then
// approved, which the limit lets through. APPROVE-mode approvals (no Held) still count and can be held:
// their approver was not told about the limit, so the state machine asks again, naming it.
//
// Trust: action.held and action.approval are outside verify's signature (the state machine adds them
// after verify: held from this bot's own held result, approval from the task result of "Wait for
// approval"). The runner honours them only when the execution's own history shows that approval task,
// in this action's iteration and asked about this held reason, succeeding with this answer (Run, step
// 1), so a direct invoke cannot make them up. Within that the check is strict: a held reason, approved
// exactly true, a named approver and an execution to audit it under; exemption, duplicate suppression
// and the stop record still apply.
func approvedPastLimit(in steps.BotInput) bool {
	a := in.Action.Approval
	return in.Action.Held != "" && a != nil && a.Approved && strings.TrimSpace(a.Approver) != "" && in.Execution != ""
}

// alreadyHandled is the skip reason naming the execution that holds the claim.
func alreadyHandled(c statetable.Claim) string {
	if c.State == statetable.ClaimDone {
		return fmt.Sprintf("already handled by execution %s at %s", c.Execution, c.DoneAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("already handled by execution %s at %s (still in progress)", c.Execution, c.ClaimedAt.UTC().Format(time.RFC3339))
}

// skip returns a skipped result, audited.
func (a *action) skip(ctx context.Context, res bots.Result, reason string, now time.Time) (bots.Result, error) {
	res.Status, res.Reason = bots.StatusSkipped, reason
	slog.InfoContext(ctx, "bot result", "bot", a.Bot.Name, "findingId", a.in.Finding.ID, "status", string(res.Status),
		"reason", res.Reason, "account", res.Account, "region", res.Region, "dryRun", res.DryRun, "held", res.Held)
	if err := a.Rails.audit(ctx, a.in, a.Bot, res, nil, a.targets, a.approval, now); err != nil {
		res.Warnings = append(res.Warnings, "audit record not written: "+err.Error())
	}
	return res, nil
}

// failed records onError stop, audits a failure and returns its error, with the audit's own failure
// added (the error chain, and so its fault kind, is kept).
func (a *action) failed(ctx context.Context, res bots.Result, err error, now time.Time) error {
	// Every failure after validation counts for onError stop, not only the bot's own: an action whose
	// exemption read, credentials or claim failed did not run either.
	if a.in.Action.OnError == mapping.Stop {
		err = a.recordStop(ctx, a.in, err)
	}
	if aerr := a.Rails.audit(ctx, a.in, a.Bot, res, err, a.targets, a.approval, now); aerr != nil {
		return fmt.Errorf("%w (and its audit record was not written: %v)", err, aerr)
	}
	return err
}

// run runs the bot with the resolved request and completes its result.
func (r Runner) run(ctx context.Context, req bots.Request, res bots.Result) (bots.Result, error) {
	b, f := r.Bot, req.Finding
	start := time.Now()
	out, err := b.Run(ctx, req)
	if err != nil {
		return bots.Result{}, fmt.Errorf("bot %s on finding %s (account %s, %s): %w", b.Name, f.ID, f.AccountID, f.Region, err)
	}
	if out.Bot == "" {
		out.Bot = res.Bot
	}
	if out.Account == "" {
		out.Account, out.Region = res.Account, res.Region
	}
	if out.Role == "" {
		out.Role = res.Role
	}
	out.DryRun = out.DryRun || req.DryRun
	slog.InfoContext(ctx, "bot result", "bot", b.Name, "findingId", f.ID, "status", string(out.Status),
		"reason", out.Reason, "account", out.Account, "region", out.Region, "dryRun", out.DryRun,
		"durationMs", time.Since(start).Milliseconds())
	return out, nil
}

// stopped is the state-table record an action with onError "stop" leaves when it fails: the actions
// after it in the same execution are skipped. Iterations of the state machine's Map cannot see each
// other's results, so the record is how a later iteration learns of an earlier failure.
type stopped struct {
	Index int    `json:"index"`
	Bot   string `json:"bot"`
	Error string `json:"error"`
}

func stopKey(execution string) string { return "stop#" + execution }

func (r Runner) stopRecord(ctx context.Context, execution string) (*stopped, error) {
	if r.State == nil || execution == "" {
		return nil, nil
	}
	b, found, err := r.State.Get(ctx, stopKey(execution))
	if err != nil {
		return nil, fmt.Errorf("bot %s: read the stop record of execution %s: %w", r.Bot.Name, execution, err)
	}
	if !found {
		return nil, nil
	}
	var s stopped
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, faults.Fail(fmt.Errorf("bot %s: stop record of execution %s is not valid: %w", r.Bot.Name, execution, err))
	}
	return &s, nil
}

// recordStop leaves the stop record for the actions after this one and returns the bot's error (with
// any failure to record it: the notification must not claim the remaining actions were stopped).
func (r Runner) recordStop(ctx context.Context, in steps.BotInput, botErr error) error {
	if r.State == nil || in.Execution == "" {
		return fmt.Errorf("%w (onError stop could not be recorded: no state table or execution id)", botErr)
	}
	b, err := json.Marshal(stopped{Index: in.Index, Bot: r.Bot.Name, Error: botErr.Error()})
	if err == nil {
		err = r.State.Put(ctx, stopKey(in.Execution), b)
	}
	if err != nil {
		return fmt.Errorf("%w (and recording onError stop failed: %v)", botErr, err)
	}
	return botErr
}
