package verifystep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// Cleanup plans the scheduled clean-up of expired IAM denies (steps.ScheduleRequest): from the state
// table's deny records (bots.DenyRecord), never from the execution's input, one pruneOnly action per
// principal with a deny that expired, for the deny bot that wrote it, with a finding of its own that
// names the principal. verify signs each action as it signs a remediation's, so the bots check it like
// any other; no new principal holds IAM write.
type Cleanup struct {
	// Records are the state table's deny records by key (statetable.ScanPrefix of bots.DenyRecordPrefix).
	Records func(ctx context.Context) (map[string][]byte, error)
	// MaxActions caps one execution's plan (the rest is planned by the next run); 0 means 25.
	MaxActions int
	// Deployed are the deny bots the deployment runs (GUARDBOTS_ENABLED_BOTS); nil means every one. A
	// record of a deny bot that is not deployed (disabled since it wrote the deny) is cleaned up by one
	// that is — each removes the principal's expired denies of either kind — so the plan never names a
	// bot the workflow would answer with "Deny bot not deployed".
	Deployed []string
}

// pruner is the deployed deny bot that cleans up after bot: bot itself when deployed, else the first
// deployed deny bot; "" when none is.
func (c *Cleanup) pruner(bot string) string {
	if c.Deployed == nil || slices.Contains(c.Deployed, bot) {
		return bot
	}
	for _, b := range c.Deployed {
		if prunes(b) {
			return b
		}
	}
	return ""
}

// defaultCleanupActions bounds one clean-up execution: the Map runs its actions one at a time, and the
// plan and its results (a principal's result lists every deny removed) stay well under Step Functions'
// 256 KB state limit. 25 principals an hour is 600 a day.
const defaultCleanupActions = 25

// cleanupTarget is one principal with denies to remove.
type cleanupTarget struct {
	rec   bots.DenyRecord // the earliest expired of its records
	count int             // how many of its records are due
}

// planCleanup answers the schedule's request: the actions of the clean-up, signed for this execution.
// Nothing due is an empty plan (the state machine then ends without a notification).
func (v Verifier) planCleanup(ctx context.Context, execution string) (steps.Matched, error) {
	out := steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies, Key: steps.CleanupKey, Verified: true, Actions: []mapping.Action{}}}
	if v.Cleanup == nil || v.Cleanup.Records == nil {
		return steps.Matched{}, faults.Fail(fmt.Errorf("verify: the schedule asks for the clean-up of expired IAM denies, but no state table is configured to read them from"))
	}
	if execution == "" {
		return steps.Matched{}, faults.Rejectf("verify: no execution to sign the clean-up for (the state machine passes $$.Execution.Id)")
	}
	raw, err := v.Cleanup.Records(ctx)
	if err != nil {
		return steps.Matched{}, fmt.Errorf("verify: read the deny records: %w", err)
	}
	now := v.now()
	due := map[string]*cleanupTarget{}
	var bad []string
	for key, b := range raw {
		var r bots.DenyRecord
		if err := json.Unmarshal(b, &r); err != nil || r.Name == "" || r.ExpiresAt.IsZero() ||
			(r.Principal != "role" && r.Principal != "user") || !prunes(r.Bot) {
			bad = append(bad, key)
			continue
		}
		// Not yet expired; or expired so long ago that retrying is pointless (the principal was gone,
		// exempt or unreachable every hour since): the record's TTL removes it, the statement's own
		// expiry still tells the next write to remove the deny.
		if now.Before(r.ExpiresAt) || !now.Before(r.ExpiresAt.Add(bots.DenyRecordGrace)) {
			continue
		}
		id := strings.Join([]string{r.Partition, r.Account, r.Principal, r.Name}, "#")
		t := due[id]
		if t == nil {
			t = &cleanupTarget{rec: r}
			due[id] = t
		} else if r.ExpiresAt.Before(t.rec.ExpiresAt) {
			t.rec = r
		}
		t.count++
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		slog.WarnContext(ctx, "deny records not understood, left alone", "keys", bad)
	}
	ids := make([]string, 0, len(due))
	for id := range due {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	limit := v.Cleanup.MaxActions
	if limit <= 0 {
		limit = defaultCleanupActions
	}
	later := 0
	if len(ids) > limit {
		later, ids = len(ids)-limit, ids[:limit]
	}
	records := 0
	for _, id := range ids {
		t := due[id]
		bot := v.Cleanup.pruner(t.rec.Bot)
		if bot == "" {
			// No deny bot runs: the denies lapse by their own conditions, the records by the table's TTL.
			slog.WarnContext(ctx, "deny record not planned: no deny bot is deployed", "principal", id, "bot", t.rec.Bot)
			continue
		}
		f, err := cleanupFinding(t.rec, execution, now)
		if err != nil {
			// A record whose principal is not a valid one reaches no AWS call: left alone, named.
			slog.WarnContext(ctx, "deny record not planned", "principal", id, "error", err.Error())
			continue
		}
		d := mapping.Decision{Outcome: mapping.Remediate, Key: steps.CleanupKey,
			Actions: []mapping.Action{{Bot: bot, Params: map[string]any{bots.PruneOnlyParam: true}, OnError: mapping.Continue, Mode: string(mapping.ModeAuto)}}}
		if v.Signer == nil {
			return steps.Matched{}, faults.Fail(fmt.Errorf("verify: no signer for the clean-up's plan"))
		}
		if err := v.Signer.Sign(ctx, f, &d, execution); err != nil {
			return steps.Matched{}, fmt.Errorf("verify: clean-up of %s %s in %s: %w", t.rec.Principal, t.rec.Name, t.rec.Account, err)
		}
		out.Cleanup = append(out.Cleanup, steps.CleanupItem{Finding: f, Action: d.Actions[0], Index: 0, MappingKey: steps.CleanupKey})
		out.Decision.Actions = append(out.Decision.Actions, d.Actions[0])
		records += t.count
	}
	out.Decision.Reason = fmt.Sprintf("%d principal(s) with %d expired IAM deny(s) to remove", len(out.Cleanup), records)
	if later > 0 {
		out.Decision.Reason += fmt.Sprintf("; %d more principal(s) next time (at most %d an execution)", later, limit)
	}
	if len(out.Cleanup) == 0 {
		out.Decision.Reason = "no IAM deny has expired"
	}
	slog.InfoContext(ctx, "clean-up planned", "execution", execution, "principals", len(out.Cleanup), "records", records, "later", later)
	return out, nil
}

// cleanupFinding is the finding a clean-up action is signed for and the runner resolves: the principal
// of the record, in its account, the session of none — made by verify from its own records, never from
// the input. Its id is unique to the execution and the principal, so no claim of an earlier execution
// (or of the deny's own finding) stands in its way.
func cleanupFinding(r bots.DenyRecord, execution string, now time.Time) (*finding.Finding, error) {
	sum := sha256.Sum256([]byte(strings.Join([]string{execution, r.Partition, r.Account, r.Principal, r.Name}, "\x00")))
	ut, raw := finding.UserTypeRole, "Role"
	if r.Principal == "user" {
		ut, raw = finding.UserTypeIAMUser, "IAMUser"
	}
	const typ = "Guardbots:IAMUser/ExpiredDenies"
	parts, _ := finding.ParseType(typ)
	f := &finding.Finding{
		ID: hex.EncodeToString(sum[:16]), Type: typ, TypeParts: parts,
		Title:     fmt.Sprintf("scheduled clean-up of the expired guardbots denies on %s %s", r.Principal, r.Name),
		AccountID: r.Account, Region: r.Region, Partition: r.Partition,
		CreatedAt: now.UTC().Format(time.RFC3339), UpdatedAt: now.UTC().Format(time.RFC3339),
		Source: string(steps.SourceSchedule), ResourceKind: finding.KindAccessKey, ResourceType: "AccessKey",
		AccessKey: &finding.AccessKey{UserName: r.Name, UserType: ut, RawUserType: raw},
	}
	// The record's fields reach AWS calls: they go through the same validation as a finding's.
	if _, err := finding.Targets(f); err != nil {
		return nil, fmt.Errorf("verify: deny record of %s %s in %s: %w", r.Principal, r.Name, r.Account, err)
	}
	return f, nil
}

// prunes reports whether bot is a registered bot the clean-up may run (it takes bots.PruneOnlyParam): a
// record naming any other bot is never planned, whoever wrote it.
func prunes(bot string) bool {
	b, ok := bots.Lookup(bot)
	return ok && b.Prunes()
}

func (v Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
