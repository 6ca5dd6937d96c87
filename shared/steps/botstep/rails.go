package botstep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

// Rails are the safety rails the runner applies around a bot (see Runner.Run for their order). A nil
// store disables its rail: tests of other behaviour leave them out, and RailsFromEnv, which BotLambda
// uses, sets every one.
type Rails struct {
	// Exempt reads the exemption tag on the action's live targets (exempt.Check).
	Exempt func(ctx context.Context, cfg aws.Config, targets []finding.Target) (exempt.Verdict, error)
	// Claims is the duplicate-suppression store; Counter the blast-radius counters (both the state table).
	Claims  ClaimStore
	Counter ActionCounter
	// Audit is the audit table; nil writes the audit record to the log only.
	Audit AuditWriter

	DedupWindow, DedupLease time.Duration
	PerAccount, Global      int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ClaimStore is implemented by statetable.Rails.
type ClaimStore interface {
	Claim(ctx context.Context, key, execution string, now time.Time, lease time.Duration) (statetable.Claim, bool, error)
	Finish(ctx context.Context, key, execution string, now time.Time, window time.Duration) error
	Release(ctx context.Context, key, execution string) error
}

// ActionCounter is implemented by statetable.Rails: a sliding window of at most max actions.
type ActionCounter interface {
	TakeSlot(ctx context.Context, key string, max int, now time.Time, window time.Duration) (statetable.Slot, bool, error)
	GiveSlot(ctx context.Context, slot statetable.Slot) error
}

// AuditWriter is implemented by statetable.Audit.
type AuditWriter interface {
	Write(ctx context.Context, rec statetable.AuditRecord) error
}

// RailsFromEnv builds every rail from the Lambda's environment. The state table is required for a bot
// that changes something: without it there is no duplicate suppression and no blast-radius limit, and
// such a bot must not run at all (fail at init, naming the variable).
func RailsFromEnv(cfg aws.Config, b bots.Bot) (Rails, error) {
	r := Rails{Exempt: exempt.Check}
	var err error
	if r.DedupWindow, err = deployment.EnvDuration(deployment.EnvDedupWindow, deployment.DefaultDedupWindow); err != nil {
		return Rails{}, err
	}
	if r.DedupLease, err = deployment.EnvDuration(deployment.EnvDedupLease, deployment.DefaultDedupLease); err != nil {
		return Rails{}, err
	}
	if r.PerAccount, err = deployment.EnvPositive(deployment.EnvBlastPerAccount, deployment.DefaultBlastPerAcct); err != nil {
		return Rails{}, err
	}
	if r.Global, err = deployment.EnvPositive(deployment.EnvBlastGlobal, deployment.DefaultBlastGlobal); err != nil {
		return Rails{}, err
	}
	if r.PerAccount > deployment.MaxBlastRadius || r.Global > deployment.MaxBlastRadius {
		return Rails{}, fmt.Errorf("%s=%d, %s=%d: at most %d each", deployment.EnvBlastPerAccount, r.PerAccount, deployment.EnvBlastGlobal, r.Global, deployment.MaxBlastRadius)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	if table := os.Getenv(deployment.EnvStateTable); table != "" {
		st := &statetable.Rails{Client: ddb, Name: table}
		r.Claims, r.Counter = st, st
	} else if b.ChecksExemption() {
		return Rails{}, fmt.Errorf("%s is not set: bot %s changes resources and needs the state table for duplicate suppression and the blast-radius limit", deployment.EnvStateTable, b.Name)
	}
	retention, err := statetable.ParseRetention(os.Getenv(deployment.EnvAuditRetention))
	if err != nil {
		return Rails{}, err
	}
	if table := os.Getenv(deployment.EnvAuditTable); table != "" {
		r.Audit = &statetable.Audit{Client: ddb, Name: table, Retention: retention}
	} else {
		slog.Warn("audit table not configured: audit records go to the log only", "variable", deployment.EnvAuditTable, "bot", b.Name)
	}
	return r, nil
}

func (r Rails) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// claimKey names (finding, bot, targets) in the state table; see statetable/rails.go for the layout.
func claimKey(f *finding.Finding, bot string, targets []finding.Target) string {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.String()
	}
	res := strings.Join(ids, ",")
	if res == "" {
		res = string(f.ResourceKind)
	}
	// DynamoDB keys are bounded (2 KB); a finding naming many buckets is keyed by their digest.
	if len(res) > 512 {
		sum := sha256.Sum256([]byte(res))
		res = "sha256:" + hex.EncodeToString(sum[:])
	}
	return "claim#" + f.AccountID + "#" + f.ID + "#" + bot + "#" + res
}

// blastKeys name the account's and the global sliding windows in the state table.
func blastKeys(account string) (acct, global string) {
	return "blast#" + account, "blast#global"
}

// cleanupOnly keeps the scheduled clean-up and the remediations apart, whatever was signed: verify's own
// clean-up findings (steps.SourceSchedule) go only with pruneOnly, which removes expired denies and adds
// nothing, and pruneOnly goes only with them (the mapping may not set it). Verify never signs anything
// else; this is the second lock should it ever be made to.
func cleanupOnly(b bots.Bot, f *finding.Finding, p bots.Params) error {
	cleanup := f.Source == string(steps.SourceSchedule)
	switch prune := b.Prunes() && p.Bool(bots.PruneOnlyParam); {
	case cleanup && !prune:
		return faults.Rejectf("bot %s: a scheduled clean-up finding may only remove expired denies (%s), and this action does not", b.Name, bots.PruneOnlyParam)
	case prune && !cleanup:
		return faults.Rejectf("bot %s: %s is the scheduled clean-up's, and finding %s is not one of its findings", b.Name, bots.PruneOnlyParam, f.ID)
	}
	return nil
}

// countsAgainstBlastRadius: only actions that interrupt a workload count, and only when they act. The
// scheduled clean-up's actions (verify's own findings, steps.SourceSchedule, under its signature) remove
// denies that no longer deny anything: they interrupt nothing, and counting them would hold them for
// approval whenever a day's findings expire together.
func countsAgainstBlastRadius(b bots.Bot, f *finding.Finding, dryRun bool) bool {
	if f != nil && f.Source == string(steps.SourceSchedule) {
		return false
	}
	return !dryRun && (b.Impact == bots.ImpactDisruptive || b.Impact == bots.ImpactDestructive)
}

// takeBlast counts one action against the account's and the global limits, each over the last
// deployment.BlastRadiusWindow (a sliding window: no burst across a clock hour). held names the limit reached
// ("" when the action may run); taken are the slots to give back if the action then does not change
// anything.
func (r Rails) takeBlast(ctx context.Context, account string, now time.Time) (held string, taken []statetable.Slot, err error) {
	acctKey, globalKey := blastKeys(account)
	acct, ok, err := r.Counter.TakeSlot(ctx, acctKey, r.PerAccount, now, deployment.BlastRadiusWindow)
	if err != nil {
		return "", nil, fmt.Errorf("blast-radius window of account %s: %w", account, err)
	}
	if !ok {
		return fmt.Sprintf("held by the blast-radius limit: %d disruptive actions in account %s in the last hour", r.PerAccount, account), nil, nil
	}
	global, ok, err := r.Counter.TakeSlot(ctx, globalKey, r.Global, now, deployment.BlastRadiusWindow)
	if err == nil && !ok {
		held = fmt.Sprintf("held by the blast-radius limit: %d disruptive actions in all accounts in the last hour", r.Global)
	}
	if err != nil || !ok {
		if gerr := r.Counter.GiveSlot(ctx, acct); gerr != nil {
			// Only errs toward holding more actions this hour: logged, not fatal.
			slog.ErrorContext(ctx, "blast-radius slot not given back", "key", acctKey, "error", gerr.Error())
		}
		if err != nil {
			return "", nil, fmt.Errorf("global blast-radius window: %w", err)
		}
		return held, nil, nil
	}
	return "", []statetable.Slot{acct, global}, nil
}

func (r Rails) giveBlast(ctx context.Context, slots []statetable.Slot) {
	for _, sl := range slots {
		if err := r.Counter.GiveSlot(ctx, sl); err != nil {
			slog.ErrorContext(ctx, "blast-radius slot not given back", "key", sl.Key, "error", err.Error())
		}
	}
}

// audit writes one action's record (the table when configured, always the log), naming its targets.
// It returns the write's error; the caller decides what it means for the outcome.
func (r Rails) audit(ctx context.Context, in steps.BotInput, b bots.Bot, res bots.Result, actErr error, targets []finding.Target, approval *plan.Evidence, now time.Time) error {
	f := in.Finding
	rec := statetable.AuditRecord{
		FindingID: f.ID, FindingType: f.Type, MappingKey: in.MappingKey, Execution: in.Execution,
		Bot: b.Name, Role: res.Role, Impact: string(b.Impact), Account: f.AccountID, Region: f.Region,
		Kind: string(f.ResourceKind), Status: string(res.Status), Reason: res.Reason, DryRun: res.DryRun,
		Held: res.Held, Changes: res.Changes, Before: res.Before, After: res.After, Time: now,
	}
	for _, t := range targets {
		rec.ResourceIDs = append(rec.ResourceIDs, t.ID)
	}
	if actErr != nil {
		rec.Status, rec.Error = string(bots.StatusFailed), actErr.Error()
	}
	approver := ""
	if a := in.Action.Approval; a != nil && a.Approved {
		// The name is the approver's own claim: the record says so, and where the authenticated identity
		// is (the SendTaskSuccess call in CloudTrail), once the execution's history confirmed the answer.
		approver = a.Approver
		why := ""
		if in.Action.Held != "" {
			why = " (" + in.Action.Held + ")"
		}
		rec.ApproverClaimed = approver
		rec.Reason = strings.TrimSpace(rec.Reason + "; approved by " + approver + " (claimed)" + why)
		rec.Reason = strings.TrimPrefix(rec.Reason, "; ")
		if approval != nil {
			rec.Approval = approval.String()
		} else {
			rec.Approval = "not confirmed: no execution-history check ran (the runner has no plan checker)"
		}
	}
	slog.InfoContext(ctx, "audit", "event", deployment.EventAudit, "findingId", rec.FindingID, "findingType", rec.FindingType,
		"mappingKey", rec.MappingKey, "execution", rec.Execution, "bot", rec.Bot, "role", rec.Role, "account", rec.Account,
		"region", rec.Region, "resourceKind", rec.Kind, "resourceIds", rec.ResourceIDs, "status", rec.Status,
		"reason", rec.Reason, "approverClaimed", approver, "approval", rec.Approval, "dryRun", rec.DryRun, "held", rec.Held, "before", rec.Before, "after", rec.After, "error", rec.Error)
	if r.Audit == nil {
		return nil
	}
	if err := r.Audit.Write(ctx, rec); err != nil {
		slog.ErrorContext(ctx, "audit record not written", "event", deployment.EventAuditFailed, "bot", b.Name, "findingId", f.ID,
			"execution", in.Execution, "status", rec.Status, "error", err.Error())
		return err
	}
	return nil
}
