package demo

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/route"
)

// The same finding type in two accounts of the demo organization: AUTO in the sandbox account (the
// rule's own mode), APPROVE in the production account (the workload OU's scope) — decided by match and
// again by verify, both reading the organization from the stand-in — and each notification carries the
// routing attributes, so a team's route gets its own account's and not the other's.
func TestWorkflow_SameFindingIsAUTOInTheSandboxAndAPPROVEInProductionAndEachNotificationIsRouted(t *testing.T) {
	s := newStack(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runAs := func(name string) *Execution {
		f, err := FindingNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := s.Run(ctx, tools(t), name, s.Resources.Substitute(f.Event), RunOptions{InstantRetries: true, Overrides: ApprovalWaitStandIn()})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	sandbox, prod := runAs("ec2_malicious_ip_caller_custom"), runAs("ec2_malicious_ip_caller_custom_production")
	wantClean(t, sandbox, Expectations(false)["ec2_malicious_ip_caller_custom"])
	wantClean(t, prod, Expectations(false)["ec2_malicious_ip_caller_custom_production"])

	sn, pn := oneNotification(t, sandbox), oneNotification(t, prod)
	for _, a := range sn.Body.Decision.Actions {
		if a.Mode != "AUTO" {
			t.Errorf("sandbox action %s mode %s, want AUTO", a.Bot, a.Mode)
		}
	}
	if sn.Body.Decision.Scope != "" || pn.Body.Decision.Scope != "rules[0].scopes[0]" || pn.Body.Decision.Rule != "rules[0]" {
		t.Errorf("scopes: sandbox %q, production rule %q scope %q", sn.Body.Decision.Scope, pn.Body.Decision.Rule, pn.Body.Decision.Scope)
	}
	// The production bots never ran: nobody approved (the wait's stand-in times out).
	if got := prod.Calls(); slices.Contains(got, "ec2_stop_instance") || slices.Contains(got, "ec2_tag_instance") {
		t.Errorf("production calls %v: a bot ran without approval", got)
	}
	// Both deciding steps asked the organization (through the stand-in), for the finding's account.
	for _, ex := range []*Execution{sandbox, prod} {
		if !slices.ContainsFunc(ex.StandIns, func(c string) bool { return strings.HasPrefix(c, "organizations:ListParents") }) {
			t.Errorf("%s: stand-in calls %v, want the organization read", ex.Name, ex.StandIns)
		}
	}

	wantAttrs := map[*Notification]map[string]string{
		&sn: {"account": "111122223333", "owner": "team-web", "kind": "Instance", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "severity": "MEDIUM"},
		&pn: {"account": "444455556666", "owner": "team-payments", "kind": "Instance", "type": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"},
	}
	for n, want := range wantAttrs {
		for k, v := range want {
			if a := n.Attributes[k]; a.Value != v || a.DataType != "String" {
				t.Errorf("%s: attribute %s = %+v, want %s", n.Subject, k, a, v)
			}
		}
	}
	var ou []string
	if a := pn.Attributes[notify.AttrOU]; a.DataType != "String.Array" || json.Unmarshal([]byte(a.Value), &ou) != nil ||
		!slices.Equal(ou, []string{"r-demo", "ou-demo-workload", "ou-demo-prod0000"}) {
		t.Errorf("production ou attribute = %+v", pn.Attributes[notify.AttrOU])
	}
	if pn.Body.Account == nil || pn.Body.Account.Name != "payments-prod" || !strings.Contains(pn.Body.Summary, "payments-prod, owner team-payments") {
		t.Errorf("production body account %+v, summary %q", pn.Body.Account, pn.Body.Summary)
	}
	// Routes, evaluated as SNS would on what the subscriber received.
	payments := route.Route{Name: "payments", Protocol: "email", Endpoint: "p@example.com", Owners: []string{"team-payments"}}
	workload := route.Route{Name: "workload", Protocol: "email", Endpoint: "w@example.com", OUs: []string{"ou-demo-workload"}}
	for _, tt := range []struct {
		r    route.Route
		n    Notification
		want bool
	}{{payments, pn, true}, {payments, sn, false}, {workload, pn, true}, {workload, sn, false}} {
		if got, err := route.Matches(tt.r.FilterPolicy(), tt.n.Attributes); err != nil || got != tt.want {
			t.Errorf("route %s on %q: %v, %v; want %v", tt.r.Name, tt.n.Subject, got, err, tt.want)
		}
	}
}
