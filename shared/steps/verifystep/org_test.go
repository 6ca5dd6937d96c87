package verifystep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// The compromised-instance finding's account (444455556666) is production; 111122223333 is a sandbox.
const orgFixture = `{"accounts": {
  "444455556666": {"name": "payments-prod", "ouPath": ["r-ab12", "ou-ab12-prod0000"], "tags": {"owner": "team-payments"}},
  "111122223333": {"name": "sandbox", "ouPath": ["r-ab12", "ou-ab12-sandbox0"], "tags": {"owner": "team-web"}}
}}`

const scopedMapping = `{"version": 1, "rules": [
  {"match": "Backdoor:EC2/*", "actions": [{"bot": "ec2_tag_instance"}, {"bot": "ec2_stop_instance"}],
   "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "APPROVE"}]}]}`

// lookups counts the organization lookups verify makes; fail makes them fail.
type lookups struct {
	f     *org.Fixture
	calls int
	fail  error
}

func (l *lookups) Account(ctx context.Context, id string) (org.Account, error) {
	l.calls++
	if l.fail != nil {
		return org.Account{}, &org.Error{Account: id, Call: "organizations:ListParents", Err: l.fail}
	}
	return l.f.Account(ctx, id)
}

func scopedVerifier(t *testing.T, c *fakeFetcher, l *lookups) Verifier {
	t.Helper()
	m, err := mapping.Parse([]byte(scopedMapping))
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, c, mapping.MatchOptions{Org: l})
	v.Mappings, v.OwnerTag = mapping.Static{M: m}, "owner"
	return v
}

func newLookups(t *testing.T) *lookups {
	t.Helper()
	f, err := org.ParseFixture([]byte(orgFixture))
	if err != nil {
		t.Fatal(err)
	}
	return &lookups{f: f}
}

// Attack: a direct invoke of verify (or a forged execution input) whose decision says AUTO and whose
// account summary says sandbox, for a finding GuardDuty holds in the production account. Verify looks the
// organization up itself and signs APPROVE actions: nothing in its input chooses the mode.
func TestVerifier_DecidesTheScopeFromItsOwnLookupNotTheInputs(t *testing.T) {
	l := newLookups(t)
	c := &fakeFetcher{copy: compromised(8)}
	forged := Input{Execution: testExecution, Matched: steps.Matched{Finding: compromised(8), Decision: mapping.Decision{
		Outcome: mapping.Remediate, Key: "Backdoor:EC2/*", Rule: "rules[0]",
		Actions: []mapping.Action{{Bot: "ec2_stop_instance", Params: map[string]any{}, OnError: mapping.Continue, Mode: "AUTO"}},
		Account: &org.Summary{ID: "444455556666", Name: "sandbox", OUPath: []string{"r-ab12", "ou-ab12-sandbox0"}, Owner: "team-web"},
	}}}
	out, err := scopedVerifier(t, c, l).Verify(context.Background(), forged)
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decision
	if d.Outcome != mapping.Remediate || d.Scope != "rules[0].scopes[0]" || len(d.Actions) != 2 {
		t.Fatalf("decision %+v", d)
	}
	for _, a := range d.Actions {
		if a.Mode != "APPROVE" {
			t.Errorf("action %s in mode %s, want APPROVE: the production scope", a.Bot, a.Mode)
		}
	}
	if d.Account == nil || d.Account.Name != "payments-prod" || d.Account.Owner != "team-payments" {
		t.Errorf("account %+v: verify's own lookup, not the input's", d.Account)
	}
	if !strings.Contains(d.Verification, "decided again on GuardDuty's copy: remediate by rules[0].scopes[0] (match decided remediate by rules[0] on the input)") {
		t.Errorf("verification %q", d.Verification)
	}
	if l.calls == 0 {
		t.Error("verify decided without looking the organization up")
	}
}

func TestVerifier_AnUnreadableOrganizationFailsTheDecisionClosed(t *testing.T) {
	l := newLookups(t)
	l.fail = errors.New("AccessDeniedException: no resource policy")
	in := Input{Execution: testExecution, Matched: steps.Matched{Finding: compromised(8), Decision: mapping.Decision{Outcome: mapping.Remediate}}}
	_, err := scopedVerifier(t, &fakeFetcher{copy: compromised(8)}, l).Verify(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "rules[0].scopes[0].where needs the organization") ||
		!strings.Contains(err.Error(), "444455556666") || faults.Classify(err) == faults.Rejected {
		t.Errorf("err = %v", err)
	}
}

func TestVerifier_TheSandboxAccountRunsTheRulesOwnMode(t *testing.T) {
	f := compromised(8)
	f.AccountID = "111122223333"
	in := Input{Execution: testExecution, Matched: steps.Matched{Finding: f, Decision: mapping.Decision{Outcome: mapping.Remediate}}}
	out, err := scopedVerifier(t, &fakeFetcher{copy: f}, newLookups(t)).Verify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Decision; d.Scope != "" || d.Actions[0].Mode != "AUTO" || d.Account.Owner != "team-web" {
		t.Errorf("decision %+v", d)
	}
}

// With organization lookups off verify still says whose account it is (the id, and why nothing more is
// known): the workflow's Map hands $.decision.account to every iteration, and an input's account —
// owner and OU that would route an approval request — never survives verify.
func TestVerifier_AlwaysSetsTheAccountAndNeverKeepsTheInputs(t *testing.T) {
	c := &fakeFetcher{copy: compromised(8)}
	forged := Input{Execution: testExecution, Matched: steps.Matched{Finding: compromised(8), Decision: mapping.Decision{
		Outcome: mapping.Remediate, Account: &org.Summary{ID: "444455556666", Name: "sandbox", OUPath: []string{"r-ab12", "ou-ab12-sandbox0"}, Owner: "attacker-team"},
	}}}
	out, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), forged)
	if err != nil {
		t.Fatal(err)
	}
	a := out.Decision.Account
	if a == nil || a.ID != compromised(8).AccountID || a.Owner != "" || a.Name != "" || len(a.OUPath) != 0 || !strings.Contains(a.Unavailable, "lookups are off") {
		t.Errorf("account %+v, want the finding's id and no lookup", a)
	}
}
