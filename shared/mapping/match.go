package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
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

// Match decides what to do with a finding. Precedence when several entries match: an exact finding
// type beats every wildcard; among wildcards the one with more literal characters wins, then the longer
// literal prefix, then the earlier rule in the document. Only the winning entry is consulted: when the
// finding is below its severity floor the decision is Skip (it does not fall through to a less
// specific rule).
//
// Actions is never nil, so the state machine's Map always receives a list.
func (m *Mapping) Match(f *finding.Finding, opts MatchOptions) Decision {
	switch {
	case f == nil:
		return skip("", "no finding")
	case f.Archived:
		return skip("", "finding is archived")
	case f.Sample && !opts.AllowSamples:
		return skip("", "GuardDuty sample finding (set "+deployment.EnvAllowSamples+"=true to act on samples)")
	}
	if opts.MaxAge > 0 {
		if reason := stale(f, opts); reason != "" {
			return skip("", reason)
		}
	}
	e, ok := m.lookup(f.Type)
	if !ok {
		return skip("", "no mapping entry for "+f.Type)
	}
	r, key := e.rule, e.pat.raw
	if f.Severity < r.minSeverity {
		return skip(key, fmt.Sprintf("severity %s is below the floor %s of mapping entry %s",
			formatSeverity(f.Severity), formatSeverity(r.minSeverity), key))
	}
	if r.mode == ModeNotify {
		return Decision{Outcome: NotifyOnly, Reason: "mapping entry " + key + " is NOTIFY: notify only", Key: key, Actions: []Action{}}
	}
	// A protected account is still notified (above), never changed: not even a dry run, whose reads
	// would need the member role there.
	if m.protected[f.AccountID] || opts.ProtectedAccounts[f.AccountID] {
		return skip(key, "exempt: account "+f.AccountID+" is protected")
	}

	actions := make([]Action, 0, len(r.actions))
	var names, refused []string
	for _, a := range r.actions {
		if !a.bot.Handles(f.ResourceKind) {
			refused = append(refused, fmt.Sprintf("%s does not act on %s findings", a.bot.Name, kindName(f.ResourceKind)))
			continue
		}
		act := cloneAction(a.action)
		act.Mode = string(r.mode)
		if r.mode == ModeApprove {
			act.ApprovalTimeoutSeconds = r.approvalTimeout
		}
		actions = append(actions, act)
		names = append(names, a.bot.Name)
	}
	if len(actions) == 0 {
		return skip(key, "mapping entry "+key+": "+strings.Join(refused, "; ")+"; no action left to run")
	}
	reason := "mapping entry " + key + " is " + string(r.mode) + ": " + strings.Join(names, ", ")
	switch r.mode {
	case ModeDryRun:
		reason += " (dry run: the bots report what they would do and change nothing)"
	case ModeApprove:
		reason += fmt.Sprintf(" (each action waits up to %ds for an approver; a denial or a timeout changes nothing)", r.approvalTimeout)
	}
	if len(refused) > 0 {
		reason += "; skipped: " + strings.Join(refused, "; ")
	}
	return Decision{Outcome: Remediate, Reason: reason, Key: key, Actions: actions}
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
