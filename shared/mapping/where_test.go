package mapping

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// The organization the tests decide in:
//
//	r-ab12
//	├── ou-ab12-sandbox0  sandbox 111111111111 (environment=sandbox, owner=team-web)
//	└── ou-ab12-workload
//	    └── ou-ab12-prod0000  payments 222222222222 (environment=production, owner=team-payments)
//	                          billing  333333333333 (environment=production, no owner)
const testOrg = `{"accounts": {
  "111111111111": {"name": "sandbox", "ouPath": ["r-ab12", "ou-ab12-sandbox0"], "tags": {"environment": "sandbox", "owner": "team-web"}},
  "222222222222": {"name": "payments", "ouPath": ["r-ab12", "ou-ab12-workload", "ou-ab12-prod0000"], "tags": {"environment": "production", "owner": "team-payments"}},
  "333333333333": {"name": "billing", "ouPath": ["r-ab12", "ou-ab12-workload", "ou-ab12-prod0000"], "tags": {"environment": "production"}}
}}`

const (
	sandbox  = "111111111111"
	payments = "222222222222"
	billing  = "333333333333"
	outside  = "999999999999"
)

// countingOrg is the test organization, counting lookups; err, when set, is every lookup's answer.
type countingOrg struct {
	fixture *org.Fixture
	calls   int
	err     error
}

func (c *countingOrg) Account(ctx context.Context, id string) (org.Account, error) {
	c.calls++
	if c.err != nil {
		return org.Account{}, &org.Error{Account: id, Call: "organizations:ListParents", Err: c.err}
	}
	return c.fixture.Account(ctx, id)
}

func newOrg(t *testing.T) *countingOrg {
	t.Helper()
	f, err := org.ParseFixture([]byte(testOrg))
	if err != nil {
		t.Fatal(err)
	}
	return &countingOrg{fixture: f}
}

func inAccount(f *finding.Finding, account string) *finding.Finding {
	f.AccountID = account
	return f
}

func decide(t *testing.T, m *Mapping, f *finding.Finding, opts MatchOptions) Decision {
	t.Helper()
	d, err := m.Decide(context.Background(), f, opts)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

// The example: AUTO in sandbox OUs, APPROVE in the production OU, NOTIFY in the payments account.
const orgDoc = `{
  "version": 1,
  "rules": [
    {"match": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "where": {"accounts": ["222222222222"]}, "mode": "NOTIFY",
     "note": "payments: tell, never touch"},
    {"match": "UnauthorizedAccess:EC2/*", "mode": "NOTIFY",
     "scopes": [
       {"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "APPROVE"},
       {"where": {"accountTags": {"environment": ["sandbox", "dev"]}}, "mode": "AUTO"}
     ],
     "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop"}]},
    {"match": "Backdoor:EC2/*", "where": {"resourceKinds": ["Instance"], "regions": ["us-east-1"]},
     "actions": [{"bot": "test_stop"}]},
    {"match": "Backdoor:*", "mode": "NOTIFY"}
  ]
}`

func TestDecide_TheSameTypeIsDecidedByWhereTheAccountIs(t *testing.T) {
	m, o := mustParse(t, orgDoc), newOrg(t)
	opts := MatchOptions{Org: o}
	typ := "UnauthorizedAccess:EC2/TorClient"

	d := decide(t, m, inAccount(ec2Finding(typ, 8), sandbox), opts)
	if d.Outcome != Remediate || d.Actions[0].Mode != "AUTO" || d.Rule != "rules[1]" || d.Scope != "rules[1].scopes[1]" {
		t.Errorf("sandbox: %+v", d)
	}
	if !strings.Contains(d.Reason, "is AUTO (scope rules[1].scopes[1])") {
		t.Errorf("sandbox reason %q", d.Reason)
	}
	wantExplain(t, d, "rules[1].scopes[0] (where ous ou-ab12-prod0000) does not hold: account 111111111111 (OU path r-ab12/ou-ab12-sandbox0) is under none of ous ou-ab12-prod0000",
		"rules[1].scopes[1] (where accountTags environment=sandbox|dev) holds: account 111111111111 has tag environment=sandbox; mode AUTO")

	d = decide(t, m, inAccount(ec2Finding(typ, 8), payments), opts)
	if d.Outcome != Remediate || d.Scope != "rules[1].scopes[0]" {
		t.Fatalf("payments: %+v", d)
	}
	for _, a := range d.Actions {
		if a.Mode != "APPROVE" || a.ApprovalTimeoutSeconds != DefaultApprovalTimeoutSeconds {
			t.Errorf("payments action %+v: want APPROVE with the rule's approval timeout", a)
		}
	}
	wantExplain(t, d, "rules[1].scopes[0] (where ous ou-ab12-prod0000) holds: account 222222222222 is under ou-ab12-prod0000 (OU path r-ab12/ou-ab12-workload/ou-ab12-prod0000); mode APPROVE")

	// An account no scope covers keeps the rule's own mode.
	d = decide(t, m, inAccount(ec2Finding(typ, 8), outside), MatchOptions{Org: &fixtureWith{o, outside}})
	if d.Outcome != NotifyOnly || d.Scope != "" || d.Rule != "rules[1]" {
		t.Errorf("outside: %+v", d)
	}
	wantExplain(t, d, "no scope of rules[1] holds: the rule's own mode NOTIFY")
}

// fixtureWith adds one account directly under the root, with no tags.
type fixtureWith struct {
	*countingOrg
	id string
}

func (f *fixtureWith) Account(ctx context.Context, id string) (org.Account, error) {
	if id == f.id {
		return org.Account{ID: id, Name: "new", OUPath: []string{"r-ab12"}}, nil
	}
	return f.countingOrg.Account(ctx, id)
}

func TestDecide_ARuleWhoseWhereFailsIsPassedOverForTheNextByPrecedence(t *testing.T) {
	m, o := mustParse(t, orgDoc), newOrg(t)
	f := inAccount(ec2Finding("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 8), payments)
	d := decide(t, m, f, MatchOptions{Org: o})
	if d.Outcome != NotifyOnly || d.Rule != "rules[0]" || d.Key != "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" {
		t.Errorf("payments: the exact rule for its account decides: %+v", d)
	}
	// In another account the exact rule's where fails: the wildcard rule, next by precedence, decides.
	d = decide(t, m, inAccount(ec2Finding("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 8), sandbox), MatchOptions{Org: o})
	if d.Outcome != Remediate || d.Rule != "rules[1]" || d.Key != "UnauthorizedAccess:EC2/*" {
		t.Errorf("sandbox: %+v", d)
	}
	wantExplain(t, d, "rules[0] (UnauthorizedAccess:EC2/MaliciousIPCaller.Custom, where accounts 222222222222) passed over: account 111111111111 is not in accounts 222222222222")

	// Backdoor on an EKS cluster: the Instance rule is passed over for Backdoor:* (notify).
	eks := &finding.Finding{ID: "f2", Type: "Backdoor:EC2/C&CActivity.B", Severity: 8, AccountID: sandbox, Region: "us-east-1",
		ResourceKind: finding.KindEKSCluster}
	d = decide(t, m, eks, MatchOptions{Org: o})
	if d.Outcome != NotifyOnly || d.Key != "Backdoor:*" {
		t.Errorf("EKS: %+v", d)
	}
	d = decide(t, m, ec2Finding("Backdoor:EC2/C&CActivity.B", 8), MatchOptions{Org: o})
	if d.Outcome != Remediate || d.Key != "Backdoor:EC2/*" {
		t.Errorf("instance: %+v", d)
	}
	other := ec2Finding("Backdoor:EC2/C&CActivity.B", 8)
	other.Region = "eu-west-1"
	if d = decide(t, m, other, MatchOptions{Org: o}); d.Key != "Backdoor:*" {
		t.Errorf("another region: %+v", d)
	}
	// Neither where needed the organization.
	if o.calls != 1 {
		t.Errorf("%d organization lookups, want 1 (only the sandbox decision's scopes needed one)", o.calls)
	}
}

func TestDecide_NoRuleWhoseWhereHoldsIsASkipThatSaysWhy(t *testing.T) {
	m := mustParse(t, `{"version": 1, "rules": [
	  {"match": "Recon:EC2/*", "where": {"accounts": ["222222222222"]}, "mode": "NOTIFY"}]}`)
	d := decide(t, m, ec2Finding("Recon:EC2/Portscan", 5), MatchOptions{})
	if d.Outcome != Skip || !strings.HasPrefix(d.Reason, "no mapping entry for Recon:EC2/Portscan applies") || len(d.Explain) != 1 {
		t.Errorf("%+v", d)
	}
}

func TestDecide_MinSeverityOfTheRuleThatAppliesDoesNotFallThrough(t *testing.T) {
	m := mustParse(t, `{"version": 1, "rules": [
	  {"match": "Backdoor:EC2/Spambot", "where": {"ous": ["ou-ab12-sandbox0"]}, "minSeverity": 8, "actions": [{"bot": "test_stop"}]},
	  {"match": "Backdoor:EC2/*", "actions": [{"bot": "test_snapshot"}]}]}`)
	d := decide(t, m, inAccount(ec2Finding("Backdoor:EC2/Spambot", 5), sandbox), MatchOptions{Org: newOrg(t)})
	if d.Outcome != Skip || d.Rule != "rules[0]" || !strings.Contains(d.Reason, "below the floor 8") {
		t.Errorf("below the floor of the rule that applies: %+v", d)
	}
	d = decide(t, m, inAccount(ec2Finding("Backdoor:EC2/Spambot", 5), payments), MatchOptions{Org: newOrg(t)})
	if d.Outcome != Remediate || d.Rule != "rules[1]" {
		t.Errorf("where the first rule does not apply, the next decides: %+v", d)
	}
}

func TestDecide_OUsMatchDescendantsAndTagsMatchAnyListedValue(t *testing.T) {
	o := newOrg(t)
	for _, tt := range []struct {
		where   string
		account string
		holds   bool
	}{
		{`{"ous": ["ou-ab12-workload"]}`, payments, true}, // the parent of its parent
		{`{"ous": ["r-ab12"]}`, sandbox, true},            // the root holds everywhere
		{`{"ous": ["ou-ab12-workload"]}`, sandbox, false},
		{`{"ous": ["ou-ab12-prod0000", "ou-ab12-sandbox0"]}`, sandbox, true},
		{`{"accountTags": {"environment": "production"}}`, billing, true},
		{`{"accountTags": {"environment": ["dev", "production"]}}`, payments, true},
		{`{"accountTags": {"owner": "team-payments"}}`, billing, false}, // no owner tag at all
		{`{"accountTags": {"Environment": "production"}}`, payments, false},
		{`{"accountTags": {"environment": "production", "owner": "team-payments"}}`, payments, true},
		{`{"accountTags": {"environment": "production", "owner": "team-payments"}}`, billing, false},
		{`{"accounts": ["111111111111"], "ous": ["ou-ab12-sandbox0"]}`, sandbox, true},
		{`{"accounts": ["111111111111"], "ous": ["ou-ab12-prod0000"]}`, sandbox, false},
	} {
		m := mustParse(t, `{"version": 1, "rules": [{"match": "Recon:EC2/*", "mode": "NOTIFY", "where": `+tt.where+`}]}`)
		d := decide(t, m, inAccount(ec2Finding("Recon:EC2/Portscan", 5), tt.account), MatchOptions{Org: o})
		if got := d.Outcome == NotifyOnly; got != tt.holds {
			t.Errorf("where %s for %s: holds %v, want %v (%s; %v)", tt.where, tt.account, got, tt.holds, d.Reason, d.Explain)
		}
	}
}

func TestDecide_AWhereThatCannotBeEvaluatedStopsTheDecision(t *testing.T) {
	m := mustParse(t, orgDoc)
	f := inAccount(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), payments)

	// No lookup configured: an error naming the scope and the setting, never the rule's own (broader or
	// not) mode.
	_, err := m.Decide(context.Background(), f, MatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "rules[1].scopes[0].where needs the organization") ||
		!strings.Contains(err.Error(), deployment.EnvOrgLookups) || !errors.Is(err, ErrNoOrganization) {
		t.Errorf("no lookup: %v", err)
	}
	// The lookup fails: the error names the account and the call.
	o := newOrg(t)
	o.err = errors.New("TooManyRequestsException: slow down")
	_, err = m.Decide(context.Background(), f, MatchOptions{Org: o})
	var le *org.Error
	if err == nil || !errors.As(err, &le) || le.Account != payments || le.Call != "organizations:ListParents" ||
		!strings.Contains(err.Error(), "TooManyRequestsException") {
		t.Errorf("failed lookup: %v", err)
	}
	// A rule's where fails closed the same way, even when a later rule would apply without the organization.
	m2 := mustParse(t, `{"version": 1, "rules": [
	  {"match": "Recon:EC2/Portscan", "where": {"ous": ["ou-ab12-sandbox0"]}, "actions": [{"bot": "test_stop"}]},
	  {"match": "Recon:EC2/*", "mode": "NOTIFY"}]}`)
	if _, err := m2.Decide(context.Background(), ec2Finding("Recon:EC2/Portscan", 5), MatchOptions{Org: o}); err == nil ||
		!strings.Contains(err.Error(), "rules[0].where needs the organization") {
		t.Errorf("rule where: %v", err)
	}
	// The cheap conditions come first: a where that fails on the account never asks.
	o.calls = 0
	m3 := mustParse(t, `{"version": 1, "rules": [
	  {"match": "Recon:EC2/Portscan", "where": {"accounts": ["222222222222"], "ous": ["ou-ab12-prod0000"]}, "actions": [{"bot": "test_stop"}]},
	  {"match": "Recon:EC2/*", "mode": "NOTIFY"}]}`)
	if d, err := m3.Decide(context.Background(), inAccount(ec2Finding("Recon:EC2/Portscan", 5), sandbox), MatchOptions{Org: o}); err != nil || d.Outcome != NotifyOnly || o.calls != 0 {
		t.Errorf("cheap conditions first: %+v %v, %d lookups", d, err, o.calls)
	}
}

func TestDecide_LooksTheOrganizationUpOnlyWhenARuleNeedsItAndOncePerDecision(t *testing.T) {
	o := newOrg(t)
	m := mustParse(t, orgDoc)
	// Recon has no rule, Backdoor's rules need no organization, a NOTIFY decision needs none.
	for _, f := range []*finding.Finding{ec2Finding("Recon:EC2/Portscan", 5), ec2Finding("Backdoor:EC2/Spambot", 8),
		inAccount(ec2Finding("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 8), payments)} {
		decide(t, m, f, MatchOptions{Org: o})
	}
	if o.calls != 0 {
		t.Errorf("%d lookups for decisions that need none", o.calls)
	}
	// Two scopes and a tag condition read the organization: one lookup.
	decide(t, m, inAccount(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), sandbox), MatchOptions{Org: o})
	if o.calls != 1 {
		t.Errorf("%d lookups for one decision, want 1", o.calls)
	}
}

func TestDecide_ProtectedOUsExemptEveryAccountBelowThem(t *testing.T) {
	doc := `{"version": 1, "defaults": {"protectedOUs": ["ou-ab12-workload"]}, "rules": [
	  {"match": "Backdoor:EC2/*", "actions": [{"bot": "test_stop"}]},
	  {"match": "Recon:EC2/*", "mode": "NOTIFY"}]}`
	m, o := mustParse(t, doc), newOrg(t)
	d := decide(t, m, inAccount(ec2Finding("Backdoor:EC2/Spambot", 8), payments), MatchOptions{Org: o})
	if d.Outcome != Skip || d.Reason != "exempt: account 222222222222 is in protected OU ou-ab12-workload" {
		t.Errorf("mapping's protected OU: %+v", d)
	}
	if d = decide(t, m, inAccount(ec2Finding("Backdoor:EC2/Spambot", 8), sandbox), MatchOptions{Org: o}); d.Outcome != Remediate {
		t.Errorf("outside the protected OU: %+v", d)
	}
	// The deployment's list adds to the mapping's.
	d = decide(t, m, inAccount(ec2Finding("Backdoor:EC2/Spambot", 8), sandbox), MatchOptions{Org: o, ProtectedOUs: []string{"r-ab12"}})
	if d.Outcome != Skip || !strings.Contains(d.Reason, "protected OU r-ab12") {
		t.Errorf("deployment's protected root: %+v", d)
	}
	// A notify decision is still made without asking; a remediate one that cannot be checked fails closed.
	o.calls = 0
	if d = decide(t, m, inAccount(ec2Finding("Recon:EC2/Portscan", 8), payments), MatchOptions{Org: o}); d.Outcome != NotifyOnly || o.calls != 0 {
		t.Errorf("notify: %+v, %d lookups", d, o.calls)
	}
	o.err = errors.New("AccessDeniedException")
	if _, err := m.Decide(context.Background(), inAccount(ec2Finding("Backdoor:EC2/Spambot", 8), sandbox), MatchOptions{Org: o}); err == nil ||
		!strings.Contains(err.Error(), "protected OUs ou-ab12-workload needs the organization") {
		t.Errorf("unreadable protected OU: %v", err)
	}
	if got := m.ProtectedOUs(); len(got) != 1 || got[0] != "ou-ab12-workload" {
		t.Errorf("ProtectedOUs = %v", got)
	}
}

func TestParse_WhereAndScopesAreValidated(t *testing.T) {
	rule := func(extra string) string {
		return `{"version": 1, "rules": [{"match": "Recon:EC2/*", "actions": [{"bot": "test_stop"}]` + extra + `}]}`
	}
	for _, tt := range []struct{ doc, key, reason string }{
		{rule(`, "where": {}`), "rules[0].where", "a where needs at least one of"},
		{rule(`, "where": {"accounts": []}`), "rules[0].where.accounts", "empty"},
		{rule(`, "where": {"accounts": ["12345"]}`), "rules[0].where.accounts[0]", "not a 12-digit"},
		{rule(`, "where": {"accounts": ["111111111111", "111111111111"]}`), "rules[0].where.accounts", "listed twice"},
		{rule(`, "where": {"ous": ["Production"]}`), "rules[0].where.ous[0]", "not an OU id"},
		{rule(`, "where": {"accountTags": {"env": []}}`), `rules[0].where.accountTags["env"]`, "empty"},
		{rule(`, "where": {"accountTags": {"env": 3}}`), "rules[0]", "must be a string or a list"},
		{rule(`, "where": {"accountTags": {"": "x"}}`), `rules[0].where.accountTags[""]`, "not an AWS Organizations tag key"},
		{rule(`, "where": {"regions": ["mars-1"]}`), "rules[0].where.regions[0]", "not an AWS region"},
		{rule(`, "where": {"resourceKinds": ["instance"]}`), "rules[0].where.resourceKinds[0]", `"instance" is not a resource kind (Instance, `},
		{rule(`, "where": {"ou": ["ou-ab12-prod0000"]}`), "rules[0]", `unknown field "ou"`},
		{rule(`, "scopes": []`), "rules[0].scopes", "empty"},
		{rule(`, "scopes": [{"mode": "AUTO"}]`), "rules[0].scopes[0].where", "missing"},
		{rule(`, "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}}]`), "rules[0].scopes[0].mode", "missing"},
		{rule(`, "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "auto"}]`), "rules[0].scopes[0].mode", "not AUTO"},
		{rule(`, "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "AUTO", "when": 1}]`), "rules[0].scopes[0]", `unknown field "when"`},
		{`{"version": 1, "rules": [{"match": "Recon:EC2/*", "mode": "NOTIFY", "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "APPROVE"}]}]}`,
			"rules[0].actions", "empty in APPROVE mode"},
		{`{"version": 1, "defaults": {"protectedOUs": ["ou-x"]}, "rules": []}`, "defaults.protectedOUs[0]", "not an OU id"},
	} {
		_, err := Parse([]byte(tt.doc))
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%s: err = %v, want an InvalidError", tt.doc, err)
			continue
		}
		found := false
		for _, p := range inv.Problems {
			if p.Key == tt.key && strings.Contains(p.Reason, tt.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s:\n  problems %v\n  want %s: …%s…", tt.doc, inv.Problems, tt.key, tt.reason)
		}
	}
}

func TestRules_ShowWhereAndScopes(t *testing.T) {
	m := mustParse(t, orgDoc)
	rs := m.Rules()
	if rs[0].Where != "accounts 222222222222" || rs[2].Where != "regions us-east-1; resourceKinds Instance" {
		t.Errorf("where views: %q, %q", rs[0].Where, rs[2].Where)
	}
	if len(rs[1].Scopes) != 2 || rs[1].Scopes[0] != (ScopeView{Where: "ous ou-ab12-prod0000", Mode: ModeApprove}) ||
		rs[1].Scopes[1].Where != "accountTags environment=sandbox|dev" {
		t.Errorf("scope views: %+v", rs[1].Scopes)
	}
	if got := m.NeedsOrganization(); strings.Join(got, " ") != "rules[1].scopes[0].where rules[1].scopes[1].where" {
		t.Errorf("NeedsOrganization = %v", got)
	}
}

func TestMatch_PanicsWhenTheDecisionNeedsTheOrganization(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "needs the organization") {
			t.Errorf("recovered %v", r)
		}
	}()
	mustParse(t, orgDoc).Match(inAccount(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), sandbox), MatchOptions{Org: newOrg(t)})
}

func wantExplain(t *testing.T, d Decision, lines ...string) {
	t.Helper()
	for _, l := range lines {
		found := false
		for _, e := range d.Explain {
			if e == l {
				found = true
			}
		}
		if !found {
			t.Errorf("explain %q\n  lacks %q", d.Explain, l)
		}
	}
}
