package mapping

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
)

// MaxSequencePairs is the most (action, member) pairs one attack sequence's decision plans. Every pair
// is an iteration of the state machine's Map, one at a time, each with its result kept in the state
// (Step Functions keeps at most 256 KB of it) and, in APPROVE mode, its own wait for a person; past
// the cap the members are listed with the pairs not planned, for a person to act on.
const MaxSequencePairs = 20

// MaxSequenceMembers is the most members a decision lists (Decision.Members); the rest are counted in
// the reason.
const MaxSequenceMembers = 50

// MemberPlan is one attack-sequence member and what the decision plans for it.
type MemberPlan struct {
	finding.Member
	// Name and Type are GuardDuty's name and resource type of the member, for the message.
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	// Actions are the places in Decision.Actions of this member's pairs, in order.
	Actions []int `json:"actions,omitempty"`
	// Notes say why an action of the rule is not planned for it (a protected account, no target of the
	// bot's kind, a malformed identifier, the cap), or that no action of the rule acts on its kind.
	Notes []string `json:"notes,omitempty"`
}

// pairCap is how many pairs fit: MaxSequencePairs, and in APPROVE mode no more than can each wait their
// whole approval timeout, one after another, within an execution's lifetime (less an hour for the rest).
func pairCap(mode Mode, timeoutSeconds int) int {
	if mode != ModeApprove || timeoutSeconds <= 0 {
		return MaxSequencePairs
	}
	n := int((deployment.ExecutionTimeout - time.Hour) / (time.Duration(timeoutSeconds) * time.Second))
	return max(1, min(MaxSequencePairs, n))
}

// decideSequence turns the rule's actions into (action, member) pairs for an attack sequence: in the
// rule's order of actions, each action for every member of a kind its bot acts on whose identifier
// resolves to a target of the bot's kinds (finding.MemberView, then the bot's own TargetsOf) and whose
// account is not protected (the mapping's and the deployment's accounts and OUs, looked up for the
// member's account). An action whose bot acts on the attack sequence itself (notify_only) stays one
// action. Pairs are APPROVE unless the rule or the scope that decided sets a mode itself: AUTO by
// default is raised to APPROVE. The bot runner acts on each pair's member through MemberView of the
// finding verify read back, so every rail reads the member in its own account and region.
func (m *Mapping) decideSequence(ctx context.Context, f *finding.Finding, r *rule, key string, mode Mode, sc *scope,
	opts MatchOptions, explain []string) (Decision, error) {
	raised, ruleMode := "", mode
	if mode == ModeAuto && sc == nil && !r.modeSet {
		mode, raised = ModeApprove, "; AUTO by default is APPROVE for an attack sequence's members (set the rule's mode to AUTO to run them unasked)"
	}
	limit := pairCap(mode, r.approvalTimeout)
	res := f.Sequence.Resources
	plans := make([]MemberPlan, len(res))
	views := make([]*finding.Finding, len(res))
	accounts := map[string]*accountView{}
	for i, sr := range res {
		mb := finding.MemberOf(f, i)
		plans[i] = MemberPlan{Member: mb, Name: sr.Name, Type: sr.Type}
		view, err := finding.MemberView(f, mb)
		if err != nil {
			plans[i].Notes = append(plans[i].Notes, "not acted on: "+err.Error())
			continue
		}
		v := accounts[mb.Account]
		if v == nil {
			v = &accountView{ctx: ctx, lookup: opts.Org, id: mb.Account}
			accounts[mb.Account] = v
		}
		why, _, err := m.protectedAccount(v, opts)
		if err != nil {
			return Decision{}, fmt.Errorf("mapping: finding %s: %s: %w", clip(f.ID), mb, err)
		}
		if why != "" {
			plans[i].Notes = append(plans[i].Notes, why)
			continue
		}
		views[i] = view
	}

	actions := []Action{}
	var names []string
	capped := 0
	for _, a := range r.actions {
		act := cloneAction(a.action)
		act.Mode = string(mode)
		if mode == ModeApprove {
			act.ApprovalTimeoutSeconds = r.approvalTimeout
		}
		if a.bot.Handles(finding.KindAttackSequence) {
			// An action on the sequence as a whole (notify_only) keeps the rule's own mode: no member is
			// changed, so nothing is raised to APPROVE.
			act.Mode, act.ApprovalTimeoutSeconds = string(ruleMode), 0
			if ruleMode == ModeApprove {
				act.ApprovalTimeoutSeconds = r.approvalTimeout
			}
			actions = append(actions, act)
			names = append(names, a.bot.Name)
			continue
		}
		for i, v := range views {
			if v == nil || !a.bot.Handles(v.ResourceKind) {
				continue
			}
			ts, skip, err := a.bot.TargetsOf(v)
			if err == nil && skip == "" {
				skip, err = relatedSkip(a.bot, v, ts)
			}
			switch {
			case err != nil:
				plans[i].Notes = append(plans[i].Notes, "not acted on: "+err.Error())
				continue
			case skip != "":
				plans[i].Notes = append(plans[i].Notes, a.bot.Name+" not planned: "+skip)
				continue
			case len(actions) >= limit:
				plans[i].Notes = append(plans[i].Notes, fmt.Sprintf("%s not planned: the decision holds at most %d (action, member) pairs; act on it by hand", a.bot.Name, limit))
				capped++
				continue
			}
			pair := cloneAction(act)
			mb := plans[i].Member
			pair.Member = &mb
			plans[i].Actions = append(plans[i].Actions, len(actions))
			actions = append(actions, pair)
			names = append(names, a.bot.Name+" on "+string(mb.Kind)+" "+mb.ID)
		}
	}
	for i := range plans {
		if len(plans[i].Actions) == 0 && len(plans[i].Notes) == 0 {
			plans[i].Notes = []string{fmt.Sprintf("no action of mapping entry %s acts on %s members", key, plans[i].Kind)}
		}
	}
	// The first MaxSequenceMembers, and every member a pair acts on wherever it is.
	listed := plans
	more := ""
	if len(plans) > MaxSequenceMembers {
		listed = slices.Clone(plans[:MaxSequenceMembers])
		for _, p := range plans[MaxSequenceMembers:] {
			if len(p.Actions) > 0 {
				listed = append(listed, p)
			}
		}
		more = fmt.Sprintf(" (%d listed)", len(listed))
	}
	scoped := ""
	if sc != nil {
		scoped = " (scope " + sc.path + ")"
	}
	d := Decision{Rule: r.path, Explain: explain, Key: key, Members: listed, Actions: actions}
	if sc != nil {
		d.Scope = sc.path
	}
	head := fmt.Sprintf("mapping entry %s is %s%s: attack sequence of %d members%s", key, mode, scoped, len(res), more)
	if f.Sequence.Omitted > 0 {
		head += fmt.Sprintf(" (and %d items past the first %d of each list, left out by transform: see GuardDuty)", f.Sequence.Omitted, finding.MaxSequenceItems)
	}
	if len(actions) == 0 {
		d.Outcome, d.Reason = Skip, head+": no action of the rule acts on any member (see members)"
		return d, nil
	}
	d.Outcome = Remediate
	d.Reason = head + ": " + strings.Join(names, ", ") + raised
	if mode == ModeApprove {
		d.Reason += fmt.Sprintf(" (each pair waits up to %ds for an approver; a denial or a timeout changes nothing)", r.approvalTimeout)
	}
	if capped > 0 {
		d.Reason += fmt.Sprintf("; %d more pairs not planned: at most %d per decision", capped, limit)
	}
	return d, nil
}

// protectedAccount says why acct's account is never changed ("" when it may be): a protected account, or
// one in or under a protected OU (a lookup through acct, which caches it; a failed one is an error).
// explain is the line saying where the account sits, for a protected OU.
func (m *Mapping) protectedAccount(acct *accountView, opts MatchOptions) (why string, explain []string, err error) {
	if m.protected[acct.id] || opts.ProtectedAccounts[acct.id] {
		return "exempt: account " + acct.id + " is protected", nil, nil
	}
	ous := slices.Concat(m.protectedOUs, opts.ProtectedOUs)
	if len(ous) == 0 {
		return "", nil, nil
	}
	a, err := acct.get("protected OUs " + strings.Join(ous, ","))
	if err != nil {
		return "", nil, err
	}
	if i := slices.IndexFunc(ous, a.Under); i >= 0 {
		return "exempt: account " + acct.id + " is in protected OU " + ous[i],
			[]string{fmt.Sprintf("account %s is under protected OU %s (OU path %s)", a.ID, ous[i], a.Path())}, nil
	}
	return "", nil, nil
}

// relatedSkip says why the runner would find none of b's related targets from targets ("" when the
// way there is in the finding): a member names only its identifier, so an instance member has no
// instance profile to reach a role by, and such a pair would only ask a person to approve a skip.
func relatedSkip(b bots.Bot, v *finding.Finding, targets []finding.Target) (string, error) {
	for _, r := range b.Related {
		spec, _ := finding.RelationOf(r)
		for _, from := range targets {
			if from.Kind != spec.From {
				continue
			}
			if _, skip, err := spec.Via(v, from); err != nil || skip != "" {
				return skip, err
			}
		}
	}
	return "", nil
}
