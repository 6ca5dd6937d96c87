package iambots

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// How a guardbots deny lives on a role or a user, for the deny bots (iam_deny_session,
// iam_deny_source_ip) and their undo bots:
//
//   - one inline policy per kind of deny and finding, "guardbots-deny-<kind>-<finding id>", holding one
//     Deny statement whose Sid names the kind and the finding ("GuardbotsDenySession<finding id>"). One
//     policy per finding means no bot ever rewrites another finding's deny, so two executions acting
//     on the same role at once cannot lose each other's statement (IAM has no conditional write);
//   - a record in the state table per policy (denyRecord), written before the policy: what was added,
//     for whom, and until when — what the undo bots and the scheduled clean-up read;
//   - an expiry, read from the statement itself so that a lost record never keeps a deny forever: a
//     session deny (tokens issued before T) is useless once every such token has expired, at
//     T + max(the role's MaxSessionDuration, 12h) on a role (EC2, ECS and Lambda credentials are not
//     bounded by MaxSessionDuration) and T + 36h on a user (GetSessionToken and federation tokens); an
//     address deny carries its own end (aws:CurrentTime), so it stops applying then even if nothing
//     removes it.
//
// Expired denies, of either kind, are removed by every write of a deny bot on the principal, and by the
// scheduled clean-up (the deny bots with pruneOnly). A principal's inline policies together stay under
// IAM's limits (10,240 characters on a role, 2,048 on a user): a bot that would exceed them fails,
// naming the sizes, rather than dropping an older deny.

// denyKind is one kind of deny.
type denyKind struct {
	// bot writes it, undo removes it.
	bot, undo string
	// part names it in the policy name ("session": guardbots-deny-session-<id>); sid starts its Sid.
	part, sid string
	// noun is what it denies, in messages.
	noun string
}

var (
	sessionDeny = &denyKind{bot: denySessionBot, undo: undoSessionBot, part: "session", sid: "GuardbotsDenySession", noun: "session deny"}
	addressDeny = &denyKind{bot: denySourceIPBot, undo: undoSourceIPBot, part: "source-ip", sid: "GuardbotsDenySourceIp", noun: "address deny"}
	denyKinds   = []*denyKind{sessionDeny, addressDeny}
)

// denyPolicyPrefix starts the name of every inline policy the deny bots write.
const denyPolicyPrefix = "guardbots-deny-"

// Expiry windows of a session deny (see above).
const (
	roleSessionFloor = 12 * time.Hour
	userSessionLimit = 36 * time.Hour
)

// denyClock is the deny bots' clock, replaced by tests.
var denyClock = time.Now

// sidFindingRE is what a finding id must be to name a policy and a Sid (letters and digits only in a
// Sid; GuardDuty's ids are 32 hex characters).
// The length is checked apart: a counted repetition ({1,64}) compiles into a copy of its class per
// count, built by the Lambda at every start.
var sidFindingRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func isSidFinding(s string) bool { return len(s) <= 64 && sidFindingRE.MatchString(s) }

func (k *denyKind) policyName(findingID string) string {
	return denyPolicyPrefix + k.part + "-" + findingID
}

func (k *denyKind) sidOf(findingID string) string { return k.sid + findingID }

// checkFindingID rejects a finding id that cannot name a policy and a Sid.
func checkFindingID(bot, id string) error {
	if !isSidFinding(id) {
		return faults.Rejectf("%s: finding id %q cannot name an inline policy and a Sid (letters and digits, at most 64)", bot, id)
	}
	return nil
}

// denyStatement is the one statement of a deny policy, in the order IAM shows it.
type denyStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    string                    `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

// denyDocument renders a deny policy: compact, keys in a fixed order. Its wildcards are a Deny the bot
// writes, exempt from the no-wildcard rule on what the bots are allowed.
func denyDocument(s denyStatement) string {
	s.Effect, s.Action, s.Resource = "Deny", "*", "*"
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Version   string          `json:"Version"`
		Statement []denyStatement `json:"Statement"`
	}{"2012-10-17", []denyStatement{s}}); err != nil {
		panic(err) // strings and string lists only
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// iamTime is a time as the deny statements carry it.
func iamTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// liveDeny is a guardbots deny policy found on a principal.
type liveDeny struct {
	kind      *denyKind
	policy    string
	findingID string
	doc       string
	size      int
	// userID and issuedBefore are a session deny's; addresses and until an address deny's.
	userID       string
	issuedBefore time.Time
	addresses    []string
	until        time.Time
}

// parseDeny reads an inline policy as a guardbots deny: ok only when its name and its one Deny
// statement's Sid are a deny bot's for the same finding.
func parseDeny(p inlinePolicy) (liveDeny, bool) {
	var kind *denyKind
	var id string
	for _, k := range denyKinds {
		if rest, ok := strings.CutPrefix(p.name, denyPolicyPrefix+k.part+"-"); ok && isSidFinding(rest) {
			kind, id = k, rest
		}
	}
	if kind == nil {
		return liveDeny{}, false
	}
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(p.doc), &doc) != nil {
		return liveDeny{}, false
	}
	var stmts []struct {
		Sid       string
		Effect    string
		Condition map[string]map[string]json.RawMessage
	}
	if json.Unmarshal(doc.Statement, &stmts) != nil || len(stmts) != 1 {
		return liveDeny{}, false
	}
	s := stmts[0]
	if s.Effect != "Deny" || s.Sid != kind.sidOf(id) {
		return liveDeny{}, false
	}
	d := liveDeny{kind: kind, policy: p.name, findingID: id, doc: p.doc, size: p.size}
	d.userID = firstString(s.Condition["StringEquals"]["aws:userId"])
	d.addresses = strings_(s.Condition["IpAddress"]["aws:SourceIp"])
	d.issuedBefore, _ = time.Parse(time.RFC3339, firstString(s.Condition["DateLessThan"]["aws:TokenIssueTime"]))
	d.until, _ = time.Parse(time.RFC3339, firstString(s.Condition["DateLessThan"]["aws:CurrentTime"]))
	return d, true
}

// expires is when the deny stops mattering on principal p: its own end, or the last expiry of the
// tokens it denies. Zero when the statement says neither (it is then kept: never guess it away).
func (d liveDeny) expires(p *principal) time.Time {
	switch {
	case !d.until.IsZero():
		return d.until
	case !d.issuedBefore.IsZero():
		return d.issuedBefore.Add(sessionWindow(p))
	}
	return time.Time{}
}

// expired reports whether the deny no longer matters at now.
func (d liveDeny) expired(p *principal, now time.Time) bool {
	e := d.expires(p)
	return !e.IsZero() && !now.Before(e)
}

// sessionWindow is how long a token issued just before a session deny may still be used: on a role,
// max(MaxSessionDuration, 12h); on a user, 36h.
func sessionWindow(p *principal) time.Duration {
	if !p.isRole() {
		return userSessionLimit
	}
	return max(time.Duration(p.maxSessionSeconds)*time.Second, roleSessionFloor)
}

func firstString(raw json.RawMessage) string {
	if s := strings_(raw); len(s) > 0 {
		return s[0]
	}
	return ""
}

// strings_ reads a condition value: a string or a list of strings.
func strings_(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// recordKey is the state-table key of the record of kind k's deny for findingID on principal target t,
// in the finding's partition and account (bots.DenyRecordKey).
func (k *denyKind) recordKey(t finding.Target, findingID string) string {
	return bots.DenyRecordKey(k.part, t.Partition, t.Account, finding.Spec(t.Kind).Noun, t.ID, findingID)
}

// putRecord stores the record of a deny, kept until DenyRecordGrace after the deny expires when the
// store can expire records (the orchestrator's state table's TTL).
func putRecord(ctx context.Context, store bots.StateStore, key string, rec bots.DenyRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if s, ok := store.(bots.ExpiringStore); ok {
		return s.PutExpiring(ctx, key, b, rec.ExpiresAt.Add(bots.DenyRecordGrace))
	}
	return store.Put(ctx, key, b)
}

// requireState fails a write when the orchestrator has no state table: a deny nobody could find again is
// one nobody could undo.
func requireState(bot string, req bots.Request) error {
	if req.State != nil || req.DryRun {
		return nil
	}
	return faults.Fail(fmt.Errorf("%s: no state table to record the deny in: set %s", bot, deployment.EnvStateTable))
}

// denyWrite is what a deny bot asks write to put on the principal for the finding.
type denyWrite struct {
	kind *denyKind
	stmt denyStatement
	// expires is when the deny stops mattering; what describes it ("deny session … issued before …").
	expires time.Time
	what    string
	before  map[string]string
	after   map[string]string
}

// inventory is the principal's inline policies, read once per run, and its guardbots denies.
type inventory struct {
	all   []inlinePolicy
	denys []liveDeny
}

func readInventory(ctx context.Context, p *principal) (inventory, error) {
	all, err := p.policies(ctx)
	if err != nil {
		return inventory{}, err
	}
	inv := inventory{all: all}
	for _, pol := range all {
		if d, ok := parseDeny(pol); ok {
			inv.denys = append(inv.denys, d)
		}
	}
	return inv, nil
}

// find is the principal's deny of kind k for findingID, if there is one.
func (inv inventory) find(k *denyKind, findingID string) (liveDeny, bool) {
	for _, d := range inv.denys {
		if d.kind == k && d.findingID == findingID {
			return d, true
		}
	}
	return liveDeny{}, false
}

// expired are the denies that no longer matter at now, but for the policy named keep.
func (inv inventory) expired(p *principal, now time.Time, keep string) []liveDeny {
	var out []liveDeny
	for _, d := range inv.denys {
		if d.policy != keep && d.expired(p, now) {
			out = append(out, d)
		}
	}
	return out
}

// size is the aggregate size of the principal's inline policies without those named in drop.
func (inv inventory) size(drop ...string) int {
	n := 0
	for _, pol := range inv.all {
		if !slices.Contains(drop, pol.name) {
			n += pol.size
		}
	}
	return n
}

// write puts w on principal p for the finding: it removes the expired denies first, checks IAM's
// aggregate limit, records the deny, writes it and marks the principal. res comes from livePrincipal.
func (w denyWrite) write(ctx context.Context, req bots.Request, res bots.Result, p *principal, inv inventory, now time.Time) (bots.Result, error) {
	k, f := w.kind, req.Finding
	name := k.policyName(f.ID)
	w.stmt.Sid = k.sidOf(f.ID)
	doc := denyDocument(w.stmt)
	prune := inv.expired(p, now, name)
	drop := []string{name}
	for _, d := range prune {
		drop = append(drop, d.policy)
	}
	if total := inv.size(drop...) + policySize(doc); total > p.limit() {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s on %s needs %d characters, and %s's inline policies would then hold %d of IAM's %d "+
			"(%d now, after removing %d expired guardbots denies): nothing was written and no older deny was dropped; "+
			"remove or shorten an inline policy of %s, or undo a deny that is no longer needed (%s)",
			k.bot, w.what, p.target.Where(), policySize(doc), p, total, p.limit(), inv.size(), len(prune), p, k.undo))
	}
	res.Before, res.After = w.before, w.after
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = append(pruneLines(prune, p, "would remove"), fmt.Sprintf("would %s (inline policy %s, until %s)", w.what, name, iamTime(w.expires)))
		return res, nil
	}
	if err := requireState(k.bot, req); err != nil {
		return bots.Result{}, err
	}
	if err := removeDenies(ctx, req, p, prune); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", k.bot, err)
	}
	res.Changes = pruneLines(prune, p, "removed")
	rec := bots.DenyRecord{Bot: k.bot, FindingID: f.ID, FindingType: f.Type, Execution: req.Execution,
		Account: p.target.Account, Region: f.Region, Partition: p.target.Partition, Principal: p.noun(), Name: p.name(), ARN: p.arn,
		Policy: name, Document: doc, AddedAt: now, ExpiresAt: w.expires}
	if err := putRecord(ctx, req.State, k.recordKey(p.target, f.ID), rec); err != nil {
		return bots.Result{}, fmt.Errorf("%s: record the %s for %s before writing it: %w", k.bot, k.noun, p.target.Where(), err)
	}
	if err := p.putPolicy(ctx, name, doc); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("%s was deleted before the deny could be written", p)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: %s on %s: %w", k.bot, w.what, p.target.Where(), err)
	}
	slog.InfoContext(ctx, "deny written", "bot", k.bot, "finding", f.ID, "account", p.target.Account, "principal", p.String(),
		"policy", name, "expiresAt", iamTime(w.expires))
	res.Status = bots.StatusRemediated
	res.Changes = append(res.Changes, fmt.Sprintf("%s (inline policy %s, Sid %s, until %s)", w.what, name, w.stmt.Sid, iamTime(w.expires)))
	if err := p.tag(ctx, k.bot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: the deny on %s was written but tagging it failed: %w", k.bot, p.target.Where(), err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", p, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// removeDenies deletes the denies and their records (the policy first: a record without its policy is
// only clutter the clean-up removes, a policy without a record is one only the write-time prune finds).
func removeDenies(ctx context.Context, req bots.Request, p *principal, ds []liveDeny) error {
	for _, d := range ds {
		if err := p.deletePolicy(ctx, d.policy); err != nil {
			return err
		}
		if req.State == nil {
			continue
		}
		if err := req.State.Delete(ctx, d.kind.recordKey(p.target, d.findingID)); err != nil {
			return fmt.Errorf("%s removed, but deleting its record failed: %w", d.policy, err)
		}
	}
	return nil
}

func pruneLines(ds []liveDeny, p *principal, verb string) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s the expired %s %s of finding %s from %s (expired %s)", verb, d.kind.noun, d.policy, d.findingID, p, iamTime(d.expires(p))))
	}
	return out
}

// pruneOnly removes the principal's expired guardbots denies and adds nothing: the scheduled clean-up.
func pruneOnly(ctx context.Context, bot string, req bots.Request, res bots.Result, p *principal) (bots.Result, error) {
	inv, err := readInventory(ctx, p)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", bot, err)
	}
	now := denyClock()
	prune := inv.expired(p, now, "")
	if len(prune) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("no expired guardbots deny on %s (%d in force)", p, len(inv.denys))
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = pruneLines(prune, p, "would remove")
		return res, nil
	}
	if err := removeDenies(ctx, req, p, prune); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", bot, err)
	}
	res.Status = bots.StatusRemediated
	res.Changes = pruneLines(prune, p, "removed")
	res.After = map[string]string{"denies": fmt.Sprint(len(inv.denys) - len(prune))}
	res.Before = map[string]string{"denies": fmt.Sprint(len(inv.denys))}
	return res, nil
}

// pruneOnlyParam is the deny bots' parameter for the scheduled clean-up.
var pruneOnlyParam = bots.Param{Name: bots.PruneOnlyParam, Type: bots.TypeBool, Default: false,
	Description: "Only remove the principal's expired guardbots denies, add none (the scheduled clean-up)."}

// startDeny is how every deny bot starts: the principal read live and the finding id checked; then an
// Identity Center role goes to identityCenter (notify only: the bot says what a person should apply), a
// protected role is skipped, and pruneOnly is answered. done is set when the bot's answer is res.
func startDeny(ctx context.Context, api iamPolicyAPI, bot string, req bots.Request,
	identityCenter func(bots.Result, *principal) bots.Result) (res bots.Result, p *principal, done bool, err error) {
	res, p, err = livePrincipal(ctx, api, bot, req)
	if err != nil {
		return res, nil, false, err
	}
	if err := checkFindingID(bot, req.Finding.ID); err != nil {
		return bots.Result{}, nil, false, err
	}
	prune := req.Params.Bool(pruneOnlyParam.Name)
	if p.identityCenterRole() && !prune {
		return identityCenter(res, p), nil, true, nil
	}
	if r := p.protectedReason(); r != "" {
		return bots.SkipBecause(res, r), nil, true, nil
	}
	if prune {
		res, err = pruneOnly(ctx, bot, req, res, p)
		return res, nil, true, err
	}
	return res, p, false, nil
}

// lastSeen is when GuardDuty last saw the activity of the finding (zero when it does not say).
func lastSeen(f *finding.Finding) time.Time {
	t, _ := findingLastSeen(f)
	return t
}

// undoDeny removes exactly what kind k's bot added for the finding on its role or user: the inline
// policy named for the finding, when its Sid still names it, and the record. Nothing recorded and
// nothing on the principal is a skip (never added, or already removed).
func undoDeny(ctx context.Context, api iamPolicyAPI, k *denyKind, req bots.Request) (bots.Result, error) {
	res, p, err := livePrincipal(ctx, api, k.undo, req)
	if err != nil {
		return res, err
	}
	f := req.Finding
	if err := checkFindingID(k.undo, f.ID); err != nil {
		return bots.Result{}, err
	}
	if r := p.protectedReason(); r != "" {
		return bots.SkipBecause(res, r), nil
	}
	if err := requireState(k.undo, req); err != nil {
		return bots.Result{}, err
	}
	name, key := k.policyName(f.ID), k.recordKey(p.target, f.ID)
	recorded := false
	if req.State != nil {
		_, found, err := req.State.Get(ctx, key)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: read the record of the %s on %s: %w", k.undo, k.noun, p.target.Where(), err)
		}
		recorded = found
	}
	doc, found, err := p.policy(ctx, name)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", k.undo, err)
	}
	var d liveDeny
	ours := false
	if found {
		d, ours = parseDeny(inlinePolicy{name: name, doc: doc, size: policySize(doc)})
		ours = ours && d.kind == k
	}
	switch {
	case !recorded && !found:
		return bots.SkipBecause(res, fmt.Sprintf("no %s of finding %s on %s (never added, or already removed)", k.noun, f.ID, p)), nil
	case found && !ours:
		// Our name, but not our statement: someone wrote it; it is theirs to remove.
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: inline policy %s of %s is not the %s guardbots wrote for finding %s (its statement differs): left alone",
			k.undo, name, p.target.Where(), k.noun, f.ID))
	}
	res.Before = map[string]string{"policy": "absent"}
	if found {
		res.Before = map[string]string{"policy": name, "document": doc}
	}
	res.After = map[string]string{"policy": "absent"}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		if found {
			res.Changes = append(res.Changes, fmt.Sprintf("would remove the %s %s of finding %s from %s", k.noun, name, f.ID, p))
		}
		res.Changes = append(res.Changes, "would delete its record "+key)
		return res, nil
	}
	if found {
		if err := p.deletePolicy(ctx, name); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %w", k.undo, err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("removed the %s %s of finding %s from %s", k.noun, name, f.ID, p))
	}
	if err := req.State.Delete(ctx, key); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s removed, but deleting its record %s failed: %w", k.undo, name, key, err)
	}
	res.Changes = append(res.Changes, "deleted its record "+key)
	slog.InfoContext(ctx, "deny undone", "bot", k.undo, "finding", f.ID, "account", p.target.Account, "principal", p.String(), "policy", name)
	if !found {
		res.Status, res.Reason = bots.StatusAlreadyDone, fmt.Sprintf("%s is no longer on %s: only its record was left", name, p)
		return res, nil
	}
	res.Status = bots.StatusRemediated
	return res, nil
}
