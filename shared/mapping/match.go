package mapping

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// MatchOptions tune Match.
type MatchOptions struct {
	// AllowSamples acts on GuardDuty sample findings (CreateSampleFindings), for demos and tests.
	AllowSamples bool
	// ProtectedAccounts are never changed, in addition to the mapping's defaults.protectedAccounts
	// (the deployment's list, deployment.EnvProtectedAccounts).
	ProtectedAccounts map[string]bool
	// MaxAge, when set, skips a finding GuardDuty last updated (updatedAt) longer ago than MaxAge
	// ("stale"), and one without a readable updatedAt: an old finding replayed after the duplicate-
	// suppression window must not act again. The verify step sets it, on GuardDuty's own copy; match
	// leaves it off, since the input's updatedAt is whatever the sender wrote.
	MaxAge time.Duration
	// Now is when MaxAge is measured (time.Now when zero).
	Now time.Time
	// Org looks the finding's account up in the organization, for a where (or protected OU) that needs
	// it: the steps pass a cached AWS Organizations reader, explain a fixture. Nil: such a rule stops the
	// decision with an error.
	Org org.Lookup
	// ProtectedOUs are OUs (or roots) whose accounts, at any depth, are never changed, in addition to the
	// mapping's defaults.protectedOUs (the deployment's list, deployment.EnvProtectedOUs).
	ProtectedOUs []string
}

// ParseAccountList reads deployment.EnvProtectedAccounts' value: 12-digit account ids separated by commas.
func ParseAccountList(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !IsAccountID(a) {
			return nil, fmt.Errorf("%q is not a 12-digit AWS account id", clip(a))
		}
		out[a] = true
	}
	return out, nil
}

// Match is Decide for callers that look nothing up (tests, benchmarks): its options carry no
// organization lookup, and a decision that needs one panics. Use Decide wherever a mapping may use
// where or protectedOUs.
func (m *Mapping) Match(f *finding.Finding, opts MatchOptions) Decision {
	opts.Org = nil
	d, err := m.Decide(context.Background(), f, opts)
	if err != nil {
		panic("mapping: Match: " + err.Error())
	}
	return d
}

// Decide decides what to do with a finding. Precedence when several entries match its type: an exact
// finding type beats every wildcard; among wildcards the one with more literal characters wins, then the
// longer literal prefix, then the earlier rule in the document. A rule whose where does not hold for the
// finding is passed over for the next one by that precedence. The first rule that applies decides alone:
// when the finding is below its severity floor the decision is Skip (it does not fall through to a less
// specific rule); its first scope whose where holds sets the mode of its actions, else its own mode does.
//
// A where, scope or protected OU that needs the organization looks the account up (opts.Org) only when
// it is reached; when that lookup fails, or there is none, Decide returns the error: the decision stops
// rather than fall back to another rule or mode.
//
// Actions is never nil, so the state machine's Map always receives a list.
func (m *Mapping) Decide(ctx context.Context, f *finding.Finding, opts MatchOptions) (Decision, error) {
	switch {
	case f == nil:
		return skip("", "no finding"), nil
	case f.Archived:
		return skip("", "finding is archived"), nil
	case f.Sample && !opts.AllowSamples:
		return skip("", "GuardDuty sample finding (set "+deployment.EnvAllowSamples+"=true to act on samples)"), nil
	}
	if opts.MaxAge > 0 {
		if reason := stale(f, opts); reason != "" {
			return skip("", reason), nil
		}
	}
	acct := &accountView{ctx: ctx, lookup: opts.Org, id: f.AccountID}
	r, key, explain, err := m.choose(acct, f)
	if err != nil {
		return Decision{}, fmt.Errorf("mapping: finding %s: %w", clip(f.ID), err)
	}
	if r == nil {
		reason := "no mapping entry for " + f.Type
		if len(explain) > 0 {
			reason += " applies to this finding (every matching rule's where failed: see explain)"
		}
		d := skip("", reason)
		d.Explain = explain
		return d, nil
	}
	at := func(d Decision) Decision {
		d.Rule, d.Explain = r.path, explain
		return d
	}
	if f.Severity < r.minSeverity {
		return at(skip(key, fmt.Sprintf("severity %s is below the floor %s of mapping entry %s",
			formatSeverity(f.Severity), formatSeverity(r.minSeverity), key))), nil
	}
	mode, sc, why, err := r.modeFor(acct, f)
	explain = append(explain, why...)
	if err != nil {
		return Decision{}, fmt.Errorf("mapping: finding %s: %w", clip(f.ID), err)
	}
	scoped := ""
	at = func(d Decision) Decision {
		d.Rule, d.Explain = r.path, explain
		if sc != nil {
			d.Scope = sc.path
		}
		return d
	}
	if sc != nil {
		scoped = " (scope " + sc.path + ")"
	}
	if mode == ModeNotify {
		return at(Decision{Outcome: NotifyOnly, Reason: "mapping entry " + key + " is NOTIFY" + scoped + ": notify only", Key: key, Actions: []Action{}}), nil
	}
	if f.ResourceKind == finding.KindAttackSequence && f.Sequence != nil && len(f.Sequence.Resources) > 0 {
		// Each (action, member) pair in its member's account: protected accounts are checked per member.
		return m.decideSequence(ctx, f, r, key, mode, sc, opts, explain)
	}
	// A protected account is still notified (above), never changed: not even a dry run, whose reads
	// would need the member role there.
	exempt, where, err := m.protectedAccount(acct, opts)
	if err != nil {
		return Decision{}, fmt.Errorf("mapping: finding %s: %w", clip(f.ID), err)
	}
	if exempt != "" {
		explain = append(explain, where...)
		return at(skip(key, exempt)), nil
	}

	actions := make([]Action, 0, len(r.actions))
	var names, refused []string
	for _, a := range r.actions {
		if !a.bot.Handles(f.ResourceKind) {
			refused = append(refused, fmt.Sprintf("%s does not act on %s findings", a.bot.Name, kindName(f.ResourceKind)))
			continue
		}
		act := cloneAction(a.action)
		act.Mode = string(mode)
		if mode == ModeApprove {
			act.ApprovalTimeoutSeconds = r.approvalTimeout
		}
		actions = append(actions, act)
		names = append(names, a.bot.Name)
	}
	if len(actions) == 0 {
		return at(skip(key, "mapping entry "+key+": "+strings.Join(refused, "; ")+"; no action left to run")), nil
	}
	reason := "mapping entry " + key + " is " + string(mode) + scoped + ": " + strings.Join(names, ", ")
	switch mode {
	case ModeDryRun:
		reason += " (dry run: the bots report what they would do and change nothing)"
	case ModeApprove:
		reason += fmt.Sprintf(" (each action waits up to %ds for an approver; a denial or a timeout changes nothing)", r.approvalTimeout)
	}
	if len(refused) > 0 {
		reason += "; skipped: " + strings.Join(refused, "; ")
	}
	return at(Decision{Outcome: Remediate, Reason: reason, Key: key, Actions: actions}), nil
}

// choose finds the rule that decides f: the most specific entry for its type (see Decide) whose where
// holds, and its matching pattern. why names each rule passed over and why; a where that cannot be
// evaluated is an error.
func (m *Mapping) choose(acct *accountView, f *finding.Finding) (*rule, string, []string, error) {
	var why []string
	var tried []*rule
	try := func(e entry) (bool, error) {
		r := e.rule
		if r.where == nil {
			return true, nil
		}
		if slices.Contains(tried, r) {
			return false, nil // another of its patterns matched first, and its where failed then
		}
		tried = append(tried, r)
		ok, reason, err := r.where.holds(acct, f)
		if err != nil {
			return false, err
		}
		if ok {
			why = append(why, fmt.Sprintf("%s (%s, where %s) holds: %s", r.path, e.pat.raw, r.where, reason))
			return true, nil
		}
		why = append(why, fmt.Sprintf("%s (%s, where %s) passed over: %s", r.path, e.pat.raw, r.where, reason))
		return false, nil
	}
	if e, ok := m.exact[f.Type]; ok {
		if ok, err := try(e); err != nil || ok {
			return e.rule, e.pat.raw, why, err
		}
	}
	for i := range m.wild {
		e := m.wild[i]
		if !e.pat.match(f.Type) {
			continue
		}
		if ok, err := try(e); err != nil || ok {
			return e.rule, e.pat.raw, why, err
		}
	}
	return nil, "", why, nil
}

// stale says why f is too old to act on ("" when it is not): updatedAt is GuardDuty's last change to the
// finding (a new occurrence updates it, so a finding still happening stays fresh).
func stale(f *finding.Finding, opts MatchOptions) string {
	updated, err := time.Parse(time.RFC3339, f.UpdatedAt)
	if err != nil {
		return fmt.Sprintf("stale: the finding has no readable updatedAt (%q), so its age is unknown", clip(f.UpdatedAt))
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if age := now.Sub(updated); age > opts.MaxAge {
		return fmt.Sprintf("stale: GuardDuty last updated the finding at %s, %s ago, longer than the maximum finding age of %s",
			updated.UTC().Format(time.RFC3339), age.Round(time.Second), opts.MaxAge)
	}
	return ""
}

// lookup finds the most specific entry matching a finding type.
func (m *Mapping) lookup(typ string) (entry, bool) {
	if e, ok := m.exact[typ]; ok {
		return e, true
	}
	for i := range m.wild {
		if m.wild[i].pat.match(typ) {
			return m.wild[i], true
		}
	}
	return entry{}, false
}

func skip(key, reason string) Decision {
	return Decision{Outcome: Skip, Reason: reason, Key: key, Actions: []Action{}}
}

func kindName(k finding.ResourceKind) string {
	if k == "" {
		return "unknown-resource"
	}
	return string(k)
}

func formatSeverity(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }
