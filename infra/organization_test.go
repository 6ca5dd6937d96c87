package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/route"
)

// The management account's delegation policy: the three deciding reads to match's and verify's roles,
// ListAccounts to the health check's role, each narrowed by aws:PrincipalArn; nothing else.
func TestOrganization_DelegationPolicyGrantsTheDecidingReadsToMatchAndVerifyOnly(t *testing.T) {
	_, r := only(t, organizationStackID, "AWS::Organizations::ResourcePolicy")
	doc := js(props(r)["Content"])
	var content struct {
		Statement []struct {
			Sid       string
			Effect    string
			Principal map[string]any
			Action    []string
			Resource  string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &content); err != nil {
		t.Fatalf("content %s: %v", doc, err)
	}
	if len(content.Statement) != 2 {
		t.Fatalf("statements = %s", doc)
	}
	// The ARNs are joined with the partition: compare what follows it.
	match, verify, health := ":iam::111122223333:role/gbtest-lambda-match", ":iam::111122223333:role/gbtest-lambda-verify", ":iam::111122223333:role/gbtest-lambda-member_health"
	s := content.Statement[0]
	if s.Effect != "Allow" || strings.Join(s.Action, ",") != strings.Join(decidingReads, ",") ||
		!strings.Contains(js(s.Principal), ":iam::111122223333:root") || !strings.Contains(js(s.Condition["ArnEquals"]["aws:PrincipalArn"]), match) ||
		!strings.Contains(js(s.Condition["ArnEquals"]["aws:PrincipalArn"]), verify) || strings.Contains(js(s.Condition), health) {
		t.Errorf("deciding reads statement = %+v", s)
	}
	h := content.Statement[1]
	if strings.Join(h.Action, ",") != "organizations:ListAccounts" || !strings.Contains(js(h.Condition["ArnEquals"]["aws:PrincipalArn"]), health) ||
		strings.Contains(js(h.Condition), "lambda-match") {
		t.Errorf("health statement = %+v", h)
	}
	// Deployed in the management account, not the security account.
	if got := fixture.Organization.Account(); got == nil || *got != "777788889999" {
		t.Errorf("organization stack account = %v", got)
	}
	// The roles it names are the roles the orchestrator creates.
	for _, fn := range []string{deployment.StepMatch, deployment.StepVerify} {
		_, role := findResource(t, orch, functionRole(t, fn))
		if name, _ := orgRoleName(fixtureCfg.RolePrefix, fn); props(role)["RoleName"] != name {
			t.Errorf("%s role name = %v, want %s", fn, props(role)["RoleName"], name)
		}
	}
}

// The routes are filtered subscriptions whose policies, evaluated as SNS would, send each team the
// messages about its accounts.
func TestOrganization_RoutesAreSubscriptionsFilteringByOwnerOrOU(t *testing.T) {
	subs := resources(t, orch, "AWS::SNS::Subscription")
	policies := map[string]map[string]any{}
	for id, r := range subs {
		p := props(r)
		if p["FilterPolicy"] == nil {
			continue
		}
		if p["FilterPolicyScope"] != "MessageAttributes" {
			t.Errorf("%s: scope %v", id, p["FilterPolicyScope"])
		}
		policies[p["Endpoint"].(string)] = p["FilterPolicy"].(map[string]any)
	}
	payments, workloads := policies["payments-oncall@example.com"], policies["arn:aws:sqs:eu-central-1:999988887777:workload-alerts"]
	if payments == nil || workloads == nil || len(policies) != 2 {
		t.Fatalf("filter policies = %v", policies)
	}
	paymentsFailed := notify.Routing{Outcome: "failed", Owner: "team-payments", OU: []string{"r-abcd", "ou-abcd-workload", "ou-abcd-prod0000"}}.Attributes()
	webRemediated := notify.Routing{Outcome: "remediated", Owner: "team-web", OU: []string{"r-abcd", "ou-abcd-workload"}}.Attributes()
	for _, tt := range []struct {
		name   string
		policy map[string]any
		attrs  map[string]notify.Attribute
		want   bool
	}{
		{"payments gets its failure", payments, paymentsFailed, true},
		{"payments does not get the web team's", payments, webRemediated, false},
		{"workloads gets a failure below its OU", workloads, paymentsFailed, true},
		{"workloads does not get a remediation (outcome filter)", workloads, webRemediated, false},
	} {
		got, err := route.Matches(tt.policy, tt.attrs)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v", tt.name, got, err)
		}
	}
}

func TestOrganization_ContextIsReadAndARouteBeyondSNSLimitsFailsSynth(t *testing.T) {
	get := func(m map[string]any) ContextReader { return func(k string) any { return m[k] } }
	c, err := FromContext(get(map[string]any{
		ctxProtectedOUs: "ou-abcd-prod0000, r-abcd", ctxOwnerTag: "team", ctxOrgLookups: "false", ctxOrgTTL: "5m",
		ctxManagementAccount: "777788889999", ctxHealthSchedule: "rate(12 hours)", ctxHealthAccounts: []any{"444455556666"},
		ctxRoutes: `[{"name": "t", "protocol": "email", "endpoint": "a@example.com", "ous": ["ou-abcd-prod0000"]}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Organization
	if len(o.ProtectedOUs) != 2 || o.OwnerTag != "team" || o.Lookups || o.TTL.String() != "5m0s" || c.ManagementAccount != "777788889999" ||
		c.HealthSchedule != "rate(12 hours)" || len(c.HealthAccounts) != 1 || len(c.Routes) != 1 {
		t.Errorf("config = %+v %+v", o, c.OrgConfig)
	}
	var owners []string
	for i := range 151 {
		owners = append(owners, "team-"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	b, _ := json.Marshal([]route.Route{{Name: "big", Protocol: "email", Endpoint: "a@example.com", Owners: owners}})
	for key, v := range map[string]any{
		ctxRoutes:            string(b),
		ctxProtectedOUs:      "Production",
		ctxOwnerTag:          "aws:owner",
		ctxOrgTTL:            "soon",
		ctxManagementAccount: "123",
		ctxHealthSchedule:    "daily",
		ctxHealthAccounts:    "12",
	} {
		if _, err := FromContext(get(map[string]any{key: v})); err == nil || !strings.Contains(err.Error(), "context "+key) {
			t.Errorf("%s=%v: %v", key, v, err)
		}
	}
}

// The health check: its state machine, a daily schedule by default, the alarm on denied roles, the
// probe key only its role may sign with, and every bot with a member role told where to check probes.
func TestOrganization_MemberHealthIsScheduledAlarmedAndOnlyItSignsProbes(t *testing.T) {
	health := memberHealthStackID
	var sm map[string]any
	for _, r := range resources(t, health, "AWS::StepFunctions::StateMachine") {
		if props(r)["StateMachineName"] == deployment.HealthStateMachineName {
			sm = props(r)
		}
	}
	if sm == nil {
		t.Fatal("no member-health state machine")
	}
	def := js(sm["DefinitionString"])
	for _, b := range []string{"ec2_stop_instance", "iam_deactivate_access_key"} {
		if !strings.Contains(def, `\"`+b+`\":\"`) {
			t.Errorf("the definition does not name bot %s's function: %s", b, def)
		}
	}
	if strings.Contains(def, "notify_only") {
		t.Error("notify_only has no member role to probe")
	}
	found := false
	for _, r := range resources(t, health, "AWS::Events::Rule") {
		if props(r)["ScheduleExpression"] == "cron(0 6 * * ? *)" {
			found = true
		}
	}
	if !found {
		t.Error("no rule on the configured schedule")
	}
	for _, r := range resources(t, defaultOf(memberHealthStackID), "AWS::Events::Rule") {
		if s, ok := props(r)["ScheduleExpression"]; ok && s != deployment.DefaultHealthSchedule {
			t.Errorf("default schedule %v", s)
		}
	}
	alarm := false
	for _, r := range resources(t, health, "AWS::CloudWatch::Alarm") {
		p := props(r)
		if p["MetricName"] == deployment.HealthMetric && p["Namespace"] == deployment.HealthNamespace && strings.Contains(js(p["Dimensions"]), `"denied"`) {
			alarm = true
		}
	}
	if !alarm {
		t.Error("no alarm on denied member roles")
	}
	keyDeny := false
	for id, r := range resources(t, orch, "AWS::KMS::Key") {
		if strings.HasPrefix(id, "ProbeSigningKey") && strings.Contains(js(props(r)["KeyPolicy"]), "OnlyTheHealthCheckSigns") {
			keyDeny = true
		}
	}
	if !keyDeny {
		t.Error("the probe key does not deny kms:Sign to everyone but the health check")
	}
	for _, fn := range resources(t, orch, "AWS::Lambda::Function") {
		env := js(props(fn)["Environment"])
		if strings.Contains(env, deployment.EnvAccountID) && strings.Contains(env, deployment.EnvStateTable) && !strings.Contains(env, deployment.EnvProbeKey) {
			// notify_only has no member role, but every bot is told: a probe to it is refused by the bot itself.
			t.Errorf("a bot without %s: %s", deployment.EnvProbeKey, env)
		}
	}
}

// The health check knows the management account and the bots with a role there: with every key set
// (managementAccount, managementAccountMember, managementAccountIamBots naming iam_revoke_role_sessions)
// it is told the account and those bots — iam_quarantine_user, an IAM-writing bot not named again, is
// not among them — and may not ask Organizations; with no context it is told no bot and asks which
// account is the management account.
func TestOrganization_MemberHealthKnowsTheManagementAccountsRoles(t *testing.T) {
	for _, c := range []struct {
		stack, account, bots string
		describes            bool
	}{
		{memberHealthStackID, "777788889999", "", false},
		{defaultOf(memberHealthStackID), "", "", true},
	} {
		_, fn := only(t, c.stack, "AWS::Lambda::Function")
		env := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
		account, _ := env[deployment.EnvHealthManagementAccount].(string)
		bots, _ := env[deployment.EnvHealthManagementBots].(string)
		if account != c.account {
			t.Errorf("%s: management account %q, want %q", c.stack, account, c.account)
		}
		list := strings.Split(bots, ",")
		if c.describes {
			if bots != "" {
				t.Errorf("%s: management bots %q with no member stack there", c.stack, bots)
			}
		} else if !slices.Contains(list, "iam_revoke_role_sessions") || !slices.Contains(list, "ec2_stop_instance") || slices.Contains(list, "iam_quarantine_user") {
			t.Errorf("%s: management bots %q", c.stack, bots)
		}
		describes := false
		for _, p := range resources(t, c.stack, "AWS::IAM::Policy") {
			describes = describes || strings.Contains(js(props(p)["PolicyDocument"]), "organizations:DescribeOrganization")
		}
		if describes != c.describes {
			t.Errorf("%s: organizations:DescribeOrganization granted %v, want %v", c.stack, describes, c.describes)
		}
	}
}
