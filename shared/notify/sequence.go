package notify

import (
	"fmt"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
)

// MemberOutcome is one attack-sequence member in the notification: which resource, and what was done to
// it — each of its (action, member) pairs' outcome, then why an action of the rule was not planned for
// it (a protected account, no target of the bot's kind, the cap), or that no action acts on its kind.
type MemberOutcome struct {
	Member string   `json:"member"`
	Type   string   `json:"type,omitempty"`
	Name   string   `json:"name,omitempty"`
	Done   []string `json:"done"`
}

// memberOutcomes lists every member the decision lists, with the results of its pairs. A pair's result
// is the one at its place in the decision when every action has one (the Map keeps the order), else the
// one of the same bot on the same resource in the member's account.
func memberOutcomes(in Input) []MemberOutcome {
	d := in.Decision
	if d == nil || len(d.Members) == 0 {
		return nil
	}
	out := make([]MemberOutcome, 0, len(d.Members))
	for _, mp := range d.Members {
		mo := MemberOutcome{Member: fmt.Sprintf("%s %s in %s/%s", mp.Kind, mp.ID, mp.Account, mp.Region), Type: mp.Type, Name: mp.Name}
		for _, i := range mp.Actions {
			if i < 0 || i >= len(d.Actions) {
				continue
			}
			bot := d.Actions[i].Bot
			if r, ok := pairResult(in, i); ok {
				mo.Done = append(mo.Done, bot+": "+describeResult(r))
			} else {
				mo.Done = append(mo.Done, bot+": not run (no result: the execution stopped before it)")
			}
		}
		mo.Done = append(mo.Done, mp.Notes...)
		out = append(out, mo)
	}
	return out
}

// pairResult is the result of the decision's action i.
func pairResult(in Input, i int) (bots.Result, bool) {
	acts := in.Decision.Actions
	if len(in.Results) == len(acts) {
		return in.Results[i], true
	}
	m := acts[i].Member
	for _, r := range in.Results {
		if r.Bot == acts[i].Bot && m != nil && r.Account == m.Account && r.Region == m.Region && len(r.Resources) > 0 &&
			strings.HasSuffix(m.ID, r.Resources[0]) {
			return r, true
		}
	}
	return bots.Result{}, false
}

// describeResult says what one action did: its status, why when it did nothing, and its changes.
func describeResult(r bots.Result) string {
	s := string(r.Status)
	if r.Held {
		s = "held"
	}
	if r.DryRun {
		s += " (dry run)"
	}
	if r.Reason != "" && (r.Status != bots.StatusRemediated || r.Held) {
		s += ": " + r.Reason
	}
	if len(r.Changes) > 0 {
		s += "; " + strings.Join(r.Changes[:min(len(r.Changes), 5)], "; ")
		if len(r.Changes) > 5 {
			s += fmt.Sprintf("; and %d more changes", len(r.Changes)-5)
		}
	}
	return ellipsize(s, 600)
}

// pairLabel is how the summary names action i: "ec2_quarantine_instance on i-0abc" for a pair.
func pairLabel(in Input, i int, bot string) string {
	if d := in.Decision; d != nil && len(in.Results) == len(d.Actions) && i < len(d.Actions) && d.Actions[i].Member != nil {
		return bot + " on " + d.Actions[i].Member.ID
	}
	return bot
}

// CloseOutcome is the outcome closing the loop records on the finding: OutcomeOf, except that an attack
// sequence counts as remediated only when every one of its (action, member) pairs remediated or was
// already done. One member contained and another denied, timed out or held is not a handled sequence:
// archiving it, or marking it resolved, would hide the members still open.
func CloseOutcome(in Input) string {
	out := OutcomeOf(in)
	d := in.Decision
	if d == nil || len(d.Members) == 0 || (out != OutcomeRemediated && out != OutcomeAlreadyDone) {
		return out
	}
	for i, a := range d.Actions {
		if a.Member == nil {
			continue
		}
		r, ok := pairResult(in, i)
		if !ok || r.Held || (r.Status != bots.StatusRemediated && r.Status != bots.StatusAlreadyDone) {
			return OutcomePartial
		}
	}
	return out
}
