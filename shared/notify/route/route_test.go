package route

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/notify"
)

// attrs are the attributes notify sends for a finding in an account with owner and OU path.
func attrs(owner string, ou ...string) map[string]notify.Attribute {
	return notify.Routing{Outcome: notify.OutcomeRemediated, Severity: "HIGH", Account: "111122223333", Owner: owner,
		Kind: "Instance", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", OU: ou}.Attributes()
}

func mustMatch(t *testing.T, p map[string]any, a map[string]notify.Attribute) bool {
	t.Helper()
	// Through JSON, as SNS receives the policy.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	m, err := Matches(back, a)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoutes_EachTeamGetsItsOwnAccountsByOwnerOrOU(t *testing.T) {
	routes, err := Parse([]byte(`[
	  {"name": "payments", "protocol": "email", "endpoint": "payments-oncall@example.com", "owners": ["team-payments"]},
	  {"name": "workloads", "protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:999988887777:workload-alerts", "ous": ["ou-ab12-workload1"]},
	  {"name": "web-failures", "protocol": "https", "endpoint": "https://hooks.example.com/web", "owners": ["team-web"], "ous": ["ou-ab12-sandbox0"], "outcomes": ["failed", "partially-remediated"]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	payments := attrs("team-payments", "r-ab12", "ou-ab12-workload1", "ou-ab12-prod0000")
	web := attrs("team-web", "r-ab12", "ou-ab12-sandbox0")
	webFailed := notify.Routing{Outcome: notify.OutcomeFailed, Account: "555566667777", OU: []string{"r-ab12", "ou-ab12-sandbox0"}}.Attributes()
	noLookup := attrs("")
	for _, tt := range []struct {
		name  string
		attrs map[string]notify.Attribute
		want  map[string]bool
	}{
		{"payments account, below the workload OU", payments, map[string]bool{"payments": true, "workloads": true}},
		{"web account, remediated", web, map[string]bool{}},
		{"a sandbox account without owner tag, failed: the OU branch of $or", webFailed, map[string]bool{"web-failures": true}},
		{"no organization lookup: no owner, no OU", noLookup, map[string]bool{}},
	} {
		for _, r := range routes {
			if got := mustMatch(t, r.FilterPolicy(), tt.attrs); got != tt.want[r.Name] {
				t.Errorf("%s: route %s matches = %v, want %v (policy %v)", tt.name, r.Name, got, tt.want[r.Name], r.FilterPolicy())
			}
		}
	}
}

// An OU route matches accounts at any depth below the OU: the path is a String.Array, and SNS matches
// an array when any element matches.
func TestRoutes_AnOURouteMatchesEveryDepthBelowIt(t *testing.T) {
	r := Route{Name: "root", Protocol: "email", Endpoint: "a@example.com", OUs: []string{"ou-ab12-workload1"}}
	for _, path := range [][]string{
		{"r-ab12", "ou-ab12-workload1"},
		{"r-ab12", "ou-ab12-workload1", "ou-ab12-prod0000"},
		{"r-ab12", "ou-ab12-workload1", "ou-ab12-prod0000", "ou-ab12-payments"},
	} {
		if !mustMatch(t, r.FilterPolicy(), attrs("", path...)) {
			t.Errorf("path %v does not match %v", path, r.FilterPolicy())
		}
	}
	if mustMatch(t, r.FilterPolicy(), attrs("", "r-ab12", "ou-ab12-sandbox0")) {
		t.Error("a sibling OU matched")
	}
}

func TestRoutes_SynthRejectsWhatSNSWouldRefuseOrNeverMatch(t *testing.T) {
	many := func(n int, f string) string {
		var l []string
		for i := range n {
			l = append(l, fmt.Sprintf(f, i))
		}
		return `["` + strings.Join(l, `","`) + `"]`
	}
	for _, tt := range []struct{ doc, want string }{
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com"}]`, "no owners and no ous"},
		{`[{"name": "x", "protocol": "http", "endpoint": "http://a", "owners": ["t"]}]`, `protocol "http"`},
		{`[{"name": "x", "protocol": "https", "endpoint": "http://a", "owners": ["t"]}]`, "not an https:// URL"},
		{`[{"name": "x", "protocol": "sqs", "endpoint": "https://sqs/q", "owners": ["t"]}]`, "not an SQS queue ARN"},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "ous": ["Production"]}]`, "not an OU id"},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ["team \"a\""]}]`, "without quotes"},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ["t"], "outcomes": ["done"]}]`, `outcome "done"`},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ["t"], "severities": ["high"]}]`, `severity "high"`},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ["t", "t"]}]`, "listed twice"},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owner": ["t"]}]`, "unknown field"},
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ["t"]}, {"name": "x", "protocol": "email", "endpoint": "b@example.com", "owners": ["u"]}]`, "used twice"},
		// 151 owners: one key, 151 combinations.
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ` + many(151, "team-%d") + `}]`, "151 value combinations, SNS allows 150"},
		// 40 owners + 40 OUs ($or: 80) × 2 outcomes = 160.
		{`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ` + many(40, "team-%d") + `, "ous": ` + many(40, "ou-ab12-%08d") +
			`, "outcomes": ["failed", "held"]}]`, "160 value combinations"},
	} {
		_, err := Parse([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.80s…) = %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
	// At the limit: 150 owners is accepted.
	if _, err := Parse([]byte(`[{"name": "x", "protocol": "email", "endpoint": "a@example.com", "owners": ` + many(150, "team-%d") + `}]`)); err != nil {
		t.Errorf("150 owners: %v", err)
	}
	var rs []Route
	for i := range MaxRoutesPerTopic + 1 {
		rs = append(rs, Route{Name: fmt.Sprintf("r%d", i), Protocol: "email", Endpoint: "a@example.com", Owners: []string{"t"}})
	}
	if err := Check(rs); err == nil || !strings.Contains(err.Error(), "filter policies per topic") {
		t.Errorf("201 routes: %v", err)
	}
}

func TestMatches_OperatorsAndErrors(t *testing.T) {
	a := attrs("team-web", "r-ab12", "ou-ab12-sandbox0")
	for _, tt := range []struct {
		policy string
		want   bool
	}{
		{`{"owner": [{"prefix": "team-"}]}`, true},
		{`{"owner": [{"anything-but": ["team-web"]}]}`, false},
		{`{"ou": [{"anything-but": "r-ab12"}]}`, true}, // an array matches when any element does
		{`{"missing": [{"exists": false}]}`, true},
		{`{"owner": [{"exists": false}]}`, false},
		{`{"owner": ["team-web"], "severity": ["LOW"]}`, false},
	} {
		var p map[string]any
		if err := json.Unmarshal([]byte(tt.policy), &p); err != nil {
			t.Fatal(err)
		}
		if got, err := Matches(p, a); err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.policy, got, err, tt.want)
		}
	}
	var p map[string]any
	_ = json.Unmarshal([]byte(`{"severity": [{"numeric": [">", 5]}]}`), &p)
	if _, err := Matches(p, a); err == nil {
		t.Error("an operator the evaluator does not know must be an error, not a mismatch")
	}
}
