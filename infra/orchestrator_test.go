package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/statemachine"
)

const orch = orchestratorStackID

func TestOrchestrator_RuleStartsWorkflowForGuardDutyFindingsAtOrAboveTheFloor(t *testing.T) {
	assertCDK(t, "GuardDuty rule", func() {
		fixtureAssert[orch].HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"State": "ENABLED",
			"EventPattern": map[string]any{
				"source":      []any{"aws.guardduty"},
				"detail-type": []any{"GuardDuty Finding"},
				"detail":      map[string]any{"severity": []any{map[string]any{"numeric": []any{">=", fixtureCfg.SeverityFloor}}}},
			},
			"Targets": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Arn":              map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Workflow"))},
				"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^FindingsDLQ")), "Arn"}}},
				"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 7200},
			})}),
		})
	})
}

// securityHubRule is the Security Hub rule of a build.
func securityHubRule(t *testing.T, stack string) map[string]any {
	t.Helper()
	for _, r := range resources(t, stack, "AWS::Events::Rule") {
		if strings.Contains(js(props(r)["EventPattern"]), "aws.securityhub") {
			return props(r)
		}
	}
	t.Fatalf("%s: no Security Hub rule", stack)
	return nil
}

func TestOrchestrator_SecurityHubRuleIsOffByDefault(t *testing.T) {
	if DefaultConfig().SecurityHubRule {
		t.Fatal("the Security Hub rule must default to off")
	}
	if p := securityHubRule(t, defaultOf(orch)); p["State"] != "DISABLED" {
		t.Errorf("no context: the Security Hub rule is %v", p["State"])
	}
	if p := securityHubRule(t, orch); p["State"] != "ENABLED" {
		t.Errorf("securityHubRule true: the rule is %v", p["State"])
	}
}

// A custom Security Hub integration may write any ProductName but imports only under its own product
// ARN: the rule accepts GuardDuty's product ARN, in each region findings come from, and nothing else.
func TestOrchestrator_SecurityHubRuleAcceptsOnlyGuardDutysProductArn(t *testing.T) {
	arn := func(region string) any {
		return map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":securityhub:" + region + "::product/aws/guardduty"}}}
	}
	for stack, want := range map[string]map[string]any{
		orch: {
			"ProductArn": []any{arn("eu-central-1"), arn("eu-west-1"), arn("ap-southeast-2")},
			"Severity":   map[string]any{"Label": []any{"MEDIUM", "HIGH", "CRITICAL"}},
		},
		defaultOf(orch): {
			"ProductArn": []any{arn("us-east-1")},
			"Severity":   map[string]any{"Label": []any{"MEDIUM", "HIGH", "CRITICAL"}},
		},
	} {
		p := securityHubRule(t, stack)
		pattern := map[string]any{
			"source":      []any{"aws.securityhub"},
			"detail-type": []any{"Security Hub Findings - Imported"},
			"detail":      map[string]any{"findings": want},
		}
		if js(p["EventPattern"]) != js(pattern) {
			t.Errorf("%s: pattern\n%s\nwant\n%s", stack, js(p["EventPattern"]), js(pattern))
		}
		if strings.Contains(js(p["EventPattern"]), "ProductName") {
			t.Errorf("%s: the pattern still reads ProductName, which any integration may set", stack)
		}
	}
}

func TestOrchestrator_DeadLetterQueueIsEncryptedTLSOnlyAndAlarmed(t *testing.T) {
	id := logicalID(t, orch, "AWS::SQS::Queue", `^FindingsDLQ[0-9A-F]{8}$`)
	_, q := findResource(t, orch, id)
	if props(q)["SqsManagedSseEnabled"] != true {
		t.Errorf("DLQ not encrypted: %s", js(props(q)))
	}
	policy := js(resources(t, orch, "AWS::SQS::QueuePolicy"))
	if !strings.Contains(policy, `"aws:SecureTransport":"false"`) {
		t.Errorf("DLQ policy does not deny plain HTTP: %s", policy)
	}
	found := false
	for _, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
		p := props(a)
		if p["MetricName"] == "ApproximateNumberOfMessagesVisible" && strings.Contains(js(p["Dimensions"]), id) {
			found = p["Threshold"] == float64(1) && strings.Contains(js(p["AlarmActions"]), "NotificationsTopic")
		}
	}
	if !found {
		t.Error("no alarm at depth 1 on the DLQ notifying the topic")
	}
}

func TestOrchestrator_WorkflowIsStandardTracedAndLogsAllEventsWithRetention(t *testing.T) {
	_, sm := only(t, orch, "AWS::StepFunctions::StateMachine")
	p := props(sm)
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("type %v, want STANDARD", p["StateMachineType"])
	}
	if js(p["TracingConfiguration"]) != `{"Enabled":true}` {
		t.Errorf("tracing %s", js(p["TracingConfiguration"]))
	}
	// Every event, but no execution data: task tokens (the approval Task's parameters) and findings stay
	// out of CloudWatch Logs; the console's execution history does not depend on this log.
	logging := p["LoggingConfiguration"].(map[string]any)
	if logging["Level"] != "ALL" || logging["IncludeExecutionData"] != false {
		t.Errorf("logging %s, want ALL without execution data", js(logging))
	}
	if p["StateMachineName"] != statemachine.Name {
		t.Errorf("state machine name %v: the bots' roles and environment name %s", p["StateMachineName"], statemachine.Name)
	}
	group := js(logging["Destinations"])
	for id, lg := range resources(t, orch, "AWS::Logs::LogGroup") {
		if props(lg)["RetentionInDays"] != float64(fixtureCfg.LogRetentionDays) {
			t.Errorf("log group %s retention %v", id, props(lg)["RetentionInDays"])
		}
		if strings.Contains(group, id) {
			group = ""
		}
	}
	if group != "" {
		t.Errorf("state machine logs to %s, not a log group of the stack", group)
	}
	if !strings.Contains(js(p["DefinitionString"]), fmt.Sprintf(`\"TimeoutSeconds\":%d`, statemachine.ExecutionTimeoutSeconds)) &&
		!strings.Contains(js(p["DefinitionString"]), fmt.Sprintf(`\"TimeoutSeconds\": %d`, statemachine.ExecutionTimeoutSeconds)) {
		t.Errorf("the definition has no execution timeout of %ds", statemachine.ExecutionTimeoutSeconds)
	}
}

func TestOrchestrator_DefinitionIsTheGeneratedOneWithEveryFunctionArnSubstituted(t *testing.T) {
	_, sm := only(t, orch, "AWS::StepFunctions::StateMachine")
	p := props(sm)
	def, err := statemachine.Definition()
	if err != nil {
		t.Fatal(err)
	}
	if p["DefinitionString"] != string(def) {
		t.Error("DefinitionString is not statemachine.Definition() verbatim")
	}
	subs := p["DefinitionSubstitutions"].(map[string]any)
	want := statemachine.Placeholders()
	if len(subs) != len(want) {
		t.Errorf("%d substitutions, want %d", len(subs), len(want))
	}
	for key, fn := range want {
		got := js(subs[key])
		if !regexp.MustCompile(`^\{"Fn::GetAtt":\["(Step|Bot)-?` + regexp.QuoteMeta(strings.ReplaceAll(fn, "_", "")) + `[A-Za-z]*Function[0-9A-F]{8}","Arn"\]\}$`).MatchString(got) {
			t.Errorf("%s = %s, want the ARN of function %s", key, got, fn)
		}
	}
	// The workflow may invoke exactly the stack's functions, with no wildcard.
	for _, pol := range resources(t, orch, "AWS::IAM::Policy") {
		for _, st := range statements(props(pol)["PolicyDocument"]) {
			if slices.Contains(strs(st["Action"]), "lambda:InvokeFunction") && strings.Contains(js(st["Resource"]), "*") {
				t.Errorf("lambda:InvokeFunction granted on a wildcard: %s", js(st["Resource"]))
			}
		}
	}
}

// A deployment that does not enable every bot deploys the committed definition narrowed to its bots
// (statemachine.Deployed): a bot it does not run has no Task, no substitution and no function.
func TestOrchestrator_DefinitionNarrowedToTheEnabledBotsWithNoContext(t *testing.T) {
	stack := defaultOf(orch)
	_, sm := only(t, stack, "AWS::StepFunctions::StateMachine")
	p := props(sm)
	def, err := statemachine.Definition()
	if err != nil {
		t.Fatal(err)
	}
	enabled := defaultFixture.Config.EnabledBots
	want, err := statemachine.Deployed(def, enabled)
	if err != nil {
		t.Fatal(err)
	}
	if p["DefinitionString"] != string(want) || string(want) == string(def) {
		t.Error("DefinitionString is not the committed definition narrowed to the enabled bots")
	}
	subs := p["DefinitionSubstitutions"].(map[string]any)
	if len(subs) != len(deployment.Steps)+len(enabled) {
		t.Errorf("%d substitutions for %d steps and %d bots", len(subs), len(deployment.Steps), len(enabled))
	}
	for key := range subs {
		if fn := statemachine.Placeholders()[key]; !slices.Contains(deployment.Steps, fn) && !slices.Contains(enabled, fn) {
			t.Errorf("substitution %s for %s, which is not enabled", key, fn)
		}
	}
	if fns := resources(t, stack, "AWS::Lambda::Function"); len(fns) != len(deployment.Steps)+len(enabled) {
		t.Errorf("%d functions for %d steps and %d bots", len(fns), len(deployment.Steps), len(enabled))
	}

	// The only difference between the committed ASL and the synthesized one: each branch of a bot not
	// enabled leads to "Bot not deployed", and that bot's Task and failed state are gone. Undo exactly
	// that on the synthesized definition and the committed one must come back, byte for byte as JSON.
	var committed, synthesized map[string]any
	if err := json.Unmarshal(def, &committed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(p["DefinitionString"].(string)), &synthesized); err != nil {
		t.Fatal(err)
	}
	inner := func(d map[string]any) map[string]any {
		return d["States"].(map[string]any)[statemachine.StateRemediate].(map[string]any)["ItemProcessor"].(map[string]any)["States"].(map[string]any)
	}
	was, is := inner(committed), inner(synthesized)
	var substituted []string
	for _, c := range asSlice(is[statemachine.StateWhichBot].(map[string]any)["Choices"]) {
		c := c.(map[string]any)
		bot := c["StringEquals"].(string)
		if c["Next"] != statemachine.StateBotNotDeployed {
			continue
		}
		substituted = append(substituted, bot)
		c["Next"] = bot
		for _, name := range []string{bot, statemachine.BotFailedState(bot)} {
			if _, ok := is[name]; ok {
				t.Errorf("%s is substituted but its state %q is left", bot, name)
			}
			is[name] = was[name]
		}
	}
	var notEnabled []string
	for _, b := range bots.Names() {
		if !slices.Contains(enabled, b) {
			notEnabled = append(notEnabled, b)
		}
	}
	if !slices.Equal(sortedUnique(substituted), sortedUnique(notEnabled)) {
		t.Errorf("substituted %v, want every bot not enabled: %v", substituted, notEnabled)
	}
	if js(synthesized) != js(committed) {
		t.Error("the synthesized definition differs from the committed one in more than the substituted branches")
	}
}

// Every function, its role and the workflow's role are named "<prefix>-…": what the fence and the SCP in
// infra/scp name.
func TestOrchestrator_FunctionsAndRolesAreNamedWithThePrefix(t *testing.T) {
	fns := deployment.Functions(fixtureCfg.Settings, deployment.Resources{})
	names := map[string]bool{}
	for _, f := range resources(t, orch, "AWS::Lambda::Function") {
		names[props(f)["FunctionName"].(string)] = true
	}
	roles := map[string]bool{}
	for _, r := range resources(t, orch, "AWS::IAM::Role") {
		name, _ := props(r)["RoleName"].(string)
		if !strings.HasPrefix(name, fixtureCfg.RolePrefix+"-") {
			t.Errorf("role %q is not named %s-…", name, fixtureCfg.RolePrefix)
		}
		roles[name] = true
	}
	for _, f := range fns {
		role, _ := lambdaRoleName(fixtureCfg.RolePrefix, f.Name)
		if !names[fixtureCfg.RolePrefix+"-"+f.Name] || !roles[role] {
			t.Errorf("%s: function %s-%s or role %s missing", f.Name, fixtureCfg.RolePrefix, f.Name, role)
		}
	}
	if !roles[fixtureCfg.RolePrefix+"-workflow"] || !roles[fixtureCfg.RolePrefix+"-approver"] {
		t.Errorf("roles %v: want the workflow's and the approver's named", roles)
	}
	for id := range fixtureTmpl {
		if !strings.HasPrefix(id, forwarderStackID) {
			continue
		}
		_, r := only(t, id, "AWS::IAM::Role")
		if js(props(r)["RoleName"]) != `{"Fn::Sub":"`+fixtureCfg.RolePrefix+`-forwarder-${AWS::Region}"}` {
			t.Errorf("%s: forwarder role name %s", id, js(props(r)["RoleName"]))
		}
	}
}

// An IAM-writing bot's Lambda role acts in the orchestrator's own account as its member role does: with
// the same fence, and only such a bot's.
func TestOrchestrator_IAMWritingBotLambdasCarryTheFence(t *testing.T) {
	for _, b := range bots.Registered() {
		var fence map[string]any
		for _, p := range resources(t, orch, "AWS::IAM::Policy") {
			if !strings.Contains(js(props(p)["Roles"]), `"`+functionRole(t, b.Name)+`"`) {
				continue
			}
			for _, s := range statements(props(p)["PolicyDocument"]) {
				if s["Effect"] == "Deny" {
					fence = s
				}
			}
		}
		if !deployment.WritesIAM(b) {
			if fence != nil {
				t.Errorf("%s writes no IAM policy but carries %s", b.Name, js(fence))
			}
			continue
		}
		if fence == nil || fence["Sid"] != fenceSid || !reflect.DeepEqual(strs(fence["Action"]), deployment.FencedRoleActions) ||
			len(asSlice(fence["Resource"])) != 2*(1+len(fixtureCfg.ProtectedRoles)) {
			t.Errorf("%s: fence %s", b.Name, js(fence))
		}
	}
}

func TestOrchestrator_ExecutionFailureAlarmCoversFailedTimedOutAndAborted(t *testing.T) {
	found := false
	for _, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
		p := props(a)
		m := js(p["Metrics"])
		if strings.Contains(m, "failed + timedOut + aborted") {
			found = true
			for _, metric := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} {
				if !strings.Contains(m, metric) {
					t.Errorf("alarm lacks %s", metric)
				}
			}
			if p["Threshold"] != float64(1) || !strings.Contains(js(p["AlarmActions"]), "NotificationsTopic") {
				t.Errorf("alarm %s", js(p))
			}
		}
	}
	if !found {
		t.Error("no alarm on failed + timed-out + aborted executions")
	}
}

func TestOrchestrator_EveryLambdaIsProvidedAL2023Arm64WithItsOwnRoleAndLogGroup(t *testing.T) {
	fns := resources(t, orch, "AWS::Lambda::Function")
	if want := len(deployment.Steps) + len(bots.Registered()); len(fns) != want {
		t.Fatalf("%d functions, want %d (%d steps + every registered bot)", len(fns), want, len(deployment.Steps))
	}
	roles := map[string]string{}
	for id, f := range fns {
		p := props(f)
		if p["Runtime"] != "provided.al2023" || js(p["Architectures"]) != `["arm64"]` || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v", id, p["Runtime"], p["Architectures"])
		}
		// Sized from the measured peak (shared/deployment/memory.go), with a Go soft memory limit under it.
		if js(p["MemorySize"]) != "256" || !strings.Contains(js(p["Environment"]), `"GOMEMLIMIT":"230MiB"`) {
			t.Errorf("%s: memory %v, environment %s: want lambdaMemoryMiB's 256 MB and GOMEMLIMIT 230MiB", id, p["MemorySize"], js(p["Environment"]))
		}
		role := js(p["Role"])
		if other, dup := roles[role]; dup {
			t.Errorf("%s and %s share role %s", id, other, role)
		}
		roles[role] = id
		if !strings.Contains(js(p["LoggingConfig"]), "LogGroup") {
			t.Errorf("%s: no log group of its own", id)
		}
	}
	assertCDK(t, "no managed policies", func() {
		fixtureAssert[orch].AllResourcesProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"ManagedPolicyArns": assertions.Match_Absent(),
		})
	})
}

// functionRole finds the logical id of the role of a function built by newGoFunction.
func functionRole(t *testing.T, fn string) string {
	t.Helper()
	return functionRoleIn(t, orch, fn)
}

// functionRoleIn is functionRole in any orchestrator build.
func functionRoleIn(t *testing.T, stack, fn string) string {
	t.Helper()
	prefix := "Bot" + strings.ReplaceAll(fn, "_", "")
	for _, s := range deployment.Steps {
		if s == fn {
			prefix = "Step" + strings.ReplaceAll(fn, "_", "")
		}
	}
	for id := range resources(t, stack, "AWS::IAM::Role") {
		if regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `Role[0-9A-F]{8}$`).MatchString(id) {
			return id
		}
	}
	t.Fatalf("no role for function %s", fn)
	return ""
}

var logActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

func TestOrchestrator_StepRolesHoldOnlyWhatTheirHandlersCall(t *testing.T) {
	actions := rolePolicyActions(t, orch)
	publish := []string{"kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"}
	want := map[string][]string{
		"parse":     logActions,
		"transform": logActions,
		// match and verify read the organization (the fixture leaves organizationLookups on); Scan: the deny
		// records verify plans the scheduled clean-up from (the deny bots are deployed).
		"match":            append(append([]string{"ssm:GetParameter"}, decidingReads...), logActions...),
		"verify":           append(append([]string{"guardduty:GetFindings", "guardduty:ListDetectors", "ssm:GetParameter", "kms:Sign", "dynamodb:Scan"}, decidingReads...), logActions...),
		"request_approval": append(append([]string{}, publish...), logActions...),
		// The fixture's closeFindings is archive.
		// Closing the loop checks the signed plan: the key's public half and the execution.
		"notify": append(append([]string{"events:PutEvents", "guardduty:ArchiveFindings", "guardduty:ListDetectors", "guardduty:UpdateFindingsFeedback",
			"securityhub:BatchUpdateFindings", "kms:GetPublicKey", "states:DescribeExecution"}, publish...), logActions...),
	}
	if len(want) != len(deployment.Steps) {
		t.Fatalf("the test covers %d steps, the stack has %d", len(want), len(deployment.Steps))
	}
	for fn, w := range want {
		if got := actions[functionRole(t, fn)]; !reflect.DeepEqual(sortedUnique(got), sortedUnique(w)) {
			t.Errorf("%s role: %v, want %v", fn, got, sortedUnique(w))
		}
	}
}

func TestOrchestrator_BotRolesHoldExactlyTheirDeclaredActionsAndOwnMemberRole(t *testing.T) {
	actions := rolePolicyActions(t, orch)
	policies := resources(t, orch, "AWS::IAM::Policy")
	for _, b := range bots.Registered() {
		roleID := functionRole(t, b.Name)
		// Every bot checks its plan: the key's public half, its execution, and an approval in its history.
		want := append([]string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
			"kms:GetPublicKey", "states:DescribeExecution", "states:GetExecutionHistory"}, logActions...)
		if len(b.IAMActions()) > 0 {
			// A bot with a member role also checks the health check's probes (the probe key, its executions).
			want = append(want, "sts:AssumeRole", "sts:SetSourceIdentity", "kms:GetPublicKey", "states:DescribeExecution")
			want = append(want, b.IAMActions()...)
		}
		if got := sortedUnique(actions[roleID]); !reflect.DeepEqual(got, sortedUnique(want)) {
			t.Errorf("%s: %v\nwant %v", b.Name, got, sortedUnique(want))
		}
		for _, p := range policies {
			if !strings.Contains(js(props(p)["Roles"]), roleID) {
				continue
			}
			for _, s := range statements(props(p)["PolicyDocument"]) {
				if strings.Contains(js(s["Resource"]), "Audit") && js(s["Action"]) != `"dynamodb:PutItem"` {
					t.Errorf("%s may %s on the audit table, want only dynamodb:PutItem", b.Name, js(s["Action"]))
				}
				if strs(s["Action"])[0] == "states:DescribeExecution" {
					wantRes := `:execution:` + statemachine.Name + `:*"]]}`
					probes := `:execution:` + deployment.HealthStateMachineName + `:*"]]}`
					if !strings.HasSuffix(js(s["Resource"]), wantRes) && (s["Sid"] != "ReadHealthExecutions" || !strings.HasSuffix(js(s["Resource"]), probes)) {
						t.Errorf("%s may describe %s, want only the guardbots state machine's executions", b.Name, js(s["Resource"]))
					}
				}
				if strs(s["Action"])[0] == "kms:GetPublicKey" && !strings.Contains(js(s["Resource"]), "PlanSigningKey") &&
					(s["Sid"] != "ReadProbeKey" || !strings.Contains(js(s["Resource"]), "ProbeSigningKey")) {
					t.Errorf("%s may read the public key of %s, want the plan-signing key", b.Name, js(s["Resource"]))
				}
				if strs(s["Action"])[0] == "sts:AssumeRole" {
					wantRes := fmt.Sprintf(`:iam::*:role/%s-%s"]]}`, fixtureCfg.RolePrefix, b.Name)
					if !strings.HasSuffix(js(s["Resource"]), wantRes) {
						t.Errorf("%s assumes %s, want only its own member role", b.Name, js(s["Resource"]))
					}
				}
			}
		}
		_, r := findResource(t, orch, roleID)
		if name, _ := lambdaRoleName(fixtureCfg.RolePrefix, b.Name); props(r)["RoleName"] != name {
			t.Errorf("%s: role name %v, want %s", b.Name, props(r)["RoleName"], name)
		}
	}
}

// With organizationId, a bot Lambda assumes its member role only in accounts of the organization, and it
// may set only its own source identity.
func TestOrchestrator_BotLambdasAssumeOnlyInsideTheOrganizationWithTheirOwnSourceIdentity(t *testing.T) {
	for stack, org := range map[string]string{orch: fixtureCfg.OrganizationID, defaultOf(orch): ""} {
		for _, b := range enabledIn(stack) {
			if len(b.IAMActions()) == 0 {
				continue
			}
			var assume, source map[string]any
			for _, s := range roleStatements(t, stack, functionRoleIn(t, stack, b.Name)) {
				switch s["Sid"] {
				case "AssumeOwnMemberRole":
					assume = s
				case "OwnSourceIdentity":
					source = s
				}
			}
			if assume == nil || source == nil {
				t.Fatalf("%s %s: statements AssumeOwnMemberRole %v, OwnSourceIdentity %v", stack, b.Name, assume, source)
			}
			wantCond := "null"
			if org != "" {
				wantCond = `{"StringEquals":{"aws:ResourceOrgID":"` + org + `"}}`
			}
			if js(assume["Action"]) != `"sts:AssumeRole"` || js(assume["Condition"]) != wantCond {
				t.Errorf("%s %s: %s, want sts:AssumeRole with condition %s", stack, b.Name, js(assume), wantCond)
			}
			if js(source["Action"]) != `"sts:SetSourceIdentity"` || js(source["Resource"]) != js(assume["Resource"]) ||
				js(source["Condition"]) != `{"StringEquals":{"sts:SourceIdentity":"`+awsenv.SourceIdentity(b.Name)+`"}}` {
				t.Errorf("%s %s: %s, want sts:SetSourceIdentity of %s on its member role", stack, b.Name, js(source), awsenv.SourceIdentity(b.Name))
			}
		}
	}
}

func findResource(t *testing.T, stack, id string) (string, map[string]any) {
	t.Helper()
	r, ok := template(stack)["Resources"].(map[string]any)[id].(map[string]any)
	if !ok {
		t.Fatalf("%s: no resource %s", stack, id)
	}
	return r["Type"].(string), r
}

func TestAllStacks_NoWildcardActionInAnyIdentityPolicy(t *testing.T) {
	for stack := range fixtureTmpl {
		for role, actions := range rolePolicyActions(t, stack) {
			for _, a := range actions {
				if strings.Contains(a, "*") {
					t.Errorf("%s/%s allows %s", stack, role, a)
				}
			}
		}
	}
}

// The stack deploys exactly shared/deployment's functions: each one's timeout, memory and environment
// (the values the settings decide; the resources' are CloudFormation references), and no other.
func TestOrchestrator_DeploysExactlyTheDeploymentsFunctions(t *testing.T) {
	deployed := map[string]map[string]any{}
	for id, f := range resources(t, orch, "AWS::Lambda::Function") {
		deployed[id] = props(f)
	}
	fns := deployment.Functions(fixtureCfg.Settings, deployment.Resources{AccountID: "ref", TopicArn: "ref", MailTopicArn: "ref", ChatTopicArn: "ref", EventBus: "default",
		ApproverRoleArn: "ref", StateTable: "ref", AuditTable: "ref", SigningKey: "ref", StateMachineArn: "ref",
		ProbeKey: "ref", HealthStateMachineArn: "ref"})
	if len(fns) != len(deployed) {
		t.Fatalf("%d functions deployed, shared/deployment lists %d", len(deployed), len(fns))
	}
	for _, f := range fns {
		prefix := "Step"
		if f.Bot {
			prefix = "Bot"
		}
		prefix += strings.ReplaceAll(f.Name, "_", "") + "Function"
		var p map[string]any
		for id, d := range deployed {
			if regexp.MustCompile(`^` + prefix + `[0-9A-F]{8}$`).MatchString(id) {
				p = d
			}
		}
		if p == nil {
			t.Errorf("%s is not deployed", f.Name)
			continue
		}
		if js(p["Timeout"]) != fmt.Sprint(f.Timeout.Seconds()) || js(p["MemorySize"]) != fmt.Sprint(f.MemoryMiB) {
			t.Errorf("%s: timeout %v, memory %v; want %v, %d", f.Name, p["Timeout"], p["MemorySize"], f.Timeout, f.MemoryMiB)
		}
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if len(vars) != len(f.Env) {
			t.Errorf("%s: environment %s, want the %d variables of %v", f.Name, js(vars), len(f.Env), f.Env)
		}
		for k, v := range f.Env {
			got, ok := vars[k]
			if !ok || (v != "ref" && got != v) {
				t.Errorf("%s: %s = %s, want %q", f.Name, k, js(got), v)
			}
		}
	}
}

func TestOrchestrator_BotLambdasGetTheirConfiguration(t *testing.T) {
	for id, f := range resources(t, orch, "AWS::Lambda::Function") {
		env, _ := props(f)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		switch {
		case strings.HasPrefix(id, "Stepmatch"):
			if vars[deployment.EnvMappingParameter] != fixtureCfg.MappingParameter || vars[deployment.EnvMappingTTL] != "1m30s" || vars[deployment.EnvAllowSamples] != "true" ||
				vars[deployment.EnvProtectedAccounts] != "210987654321,123456789012" {
				t.Errorf("match env %s", js(vars))
			}
		case strings.HasPrefix(id, "Stepnotify"):
			// Closing the loop (archive in the fixture) checks the plan as the bots do.
			if !strings.Contains(js(vars[deployment.EnvTopicArn]), "NotificationsTopic") || vars[deployment.EnvCloseFindings] != "archive" ||
				!planEnvIsSet(vars) {
				t.Errorf("notify env %s", js(vars))
			}
		case strings.HasPrefix(id, "Stepverify"):
			// verify re-makes the mapping decision on GuardDuty's copy: match's mapping settings, exactly.
			if vars[deployment.EnvVerifyFindings] != "true" || vars[deployment.EnvMaxFindingAge] != "3h0m0s" ||
				vars[deployment.EnvMappingParameter] != fixtureCfg.MappingParameter || vars[deployment.EnvMappingTTL] != "1m30s" ||
				vars[deployment.EnvAllowSamples] != "true" || vars[deployment.EnvProtectedAccounts] != "210987654321,123456789012" ||
				!strings.Contains(js(vars[deployment.EnvSigningKey]), "PlanSigningKey") {
				t.Errorf("verify env %s", js(vars))
			}
		case strings.HasPrefix(id, "Steprequestapproval"):
			if !strings.Contains(js(vars[deployment.EnvApprovalTopicArn]), "NotificationsTopic") ||
				!strings.HasPrefix(js(vars[deployment.EnvApproverRoleArn]), `{"Fn::GetAtt":["Approver`) || vars[deployment.EnvDryRun] != "false" {
				t.Errorf("request_approval env %s", js(vars))
			}
		case strings.HasPrefix(id, "Bot"):
			if vars[deployment.EnvRolePrefix] != fixtureCfg.RolePrefix || vars[deployment.EnvExternalID] != fixtureCfg.ExternalID ||
				vars[deployment.EnvDryRun] != "false" || js(vars[deployment.EnvAccountID]) != `{"Ref":"AWS::AccountId"}` ||
				!strings.Contains(js(vars[deployment.EnvStateTable]), "State") || !planEnvIsSet(vars) {
				t.Errorf("%s env %s", id, js(vars))
			}
			rails := map[string]string{
				deployment.EnvDedupWindow: "12h0m0s", deployment.EnvDedupLease: "20m0s",
				deployment.EnvBlastPerAccount: "7", deployment.EnvBlastGlobal: "30", deployment.EnvAuditRetention: "400d",
				deployment.EnvTrustedNetworks: "203.0.113.0/24,2001:db8::/32",
				// The bots' own check refuses the roles the fence denies.
				deployment.EnvProtectedRoles: strings.Join(fixtureCfg.ProtectedRoles, ","),
			}
			for k, v := range rails {
				if vars[k] != v {
					t.Errorf("%s: %s = %v, want %s", id, k, vars[k], v)
				}
			}
			if !strings.Contains(js(vars[deployment.EnvAuditTable]), `{"Ref":"Audit`) {
				t.Errorf("%s: %s = %s, want the audit table", id, deployment.EnvAuditTable, js(vars[deployment.EnvAuditTable]))
			}
		}
	}
}

func TestOrchestrator_VerifyGetsMatchsMappingSettingsAndTheDefaultAgeWithNoContext(t *testing.T) {
	env := func(step string) map[string]any {
		for id, f := range resources(t, defaultOf(orch), "AWS::Lambda::Function") {
			if strings.HasPrefix(id, "Step"+step) {
				e, _ := props(f)["Environment"].(map[string]any)
				v, _ := e["Variables"].(map[string]any)
				return v
			}
		}
		t.Fatalf("no %s function", step)
		return nil
	}
	match, verify := env("match"), env("verify")
	for _, k := range []string{deployment.EnvMappingParameter, deployment.EnvMappingTTL, deployment.EnvAllowSamples, deployment.EnvProtectedAccounts} {
		if js(verify[k]) != js(match[k]) {
			t.Errorf("%s: verify %s, match %s", k, js(verify[k]), js(match[k]))
		}
	}
	if _, ok := verify[deployment.EnvProtectedAccounts]; ok {
		t.Errorf("no protected accounts, yet verify gets %s", js(verify[deployment.EnvProtectedAccounts]))
	}
	if verify[deployment.EnvMaxFindingAge] != "6h0m0s" || verify[deployment.EnvVerifyFindings] != "true" {
		t.Errorf("verify env %s, want GUARDBOTS_MAX_FINDING_AGE 6h0m0s and verification on", js(verify))
	}
}

func TestOrchestrator_StateTableIsEncryptedWithPointInTimeRecoveryAndTTL(t *testing.T) {
	assertCDK(t, "state table", func() {
		fixtureAssert[orch].HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"GlobalSecondaryIndexes":           assertions.Match_Absent(),
			"KeySchema":                        []any{map[string]any{"AttributeName": statetable.PartitionKey, "KeyType": "HASH"}},
			"AttributeDefinitions":             []any{map[string]any{"AttributeName": statetable.PartitionKey, "AttributeType": "S"}},
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": statetable.TTLAttribute, "Enabled": true},
		})
	})
}

func TestOrchestrator_MappingParameterHoldsTheValidatedMappingInTheSmallestTier(t *testing.T) {
	_, p := only(t, orch, "AWS::SSM::Parameter")
	if props(p)["Value"] != string(mapping.Default()) || props(p)["Tier"] != "Standard" || props(p)["Name"] != fixtureCfg.MappingParameter {
		t.Errorf("mapping parameter %s", js(props(p)))
	}
}

func TestOrchestrator_TopicIsEncryptedWithARotatedKeyAlarmsMayUse(t *testing.T) {
	keyID := logicalID(t, orch, "AWS::KMS::Key", `^NotificationsKey[0-9A-F]{8}$`)
	_, key := findResource(t, orch, keyID)
	if props(key)["EnableKeyRotation"] != true {
		t.Error("key rotation off")
	}
	cw := false
	for _, s := range statements(props(key)["KeyPolicy"]) {
		if js(s["Principal"]) == `{"Service":"cloudwatch.amazonaws.com"}` {
			cw = reflect.DeepEqual(strs(s["Action"]), []string{"kms:Decrypt", "kms:GenerateDataKey*"})
		}
	}
	if !cw {
		t.Error("key policy does not let CloudWatch alarms encrypt for the topic")
	}
	topics := resources(t, orch, "AWS::SNS::Topic")
	for id, topic := range topics {
		if !strings.Contains(js(props(topic)["KmsMasterKeyId"]), keyID) {
			t.Errorf("%s key %s, want %s", id, js(props(topic)["KmsMasterKeyId"]), keyID)
		}
	}
	policies := resources(t, orch, "AWS::SNS::TopicPolicy")
	if len(topics) != 3 || len(policies) != 3 {
		t.Errorf("%d topics, %d topic policies: want the JSON, the mail and the chat topic, each with its policy", len(topics), len(policies))
	}
	for id, tp := range policies {
		if !strings.Contains(js(props(tp)), `"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"`) {
			t.Errorf("%s does not deny plain HTTP: %s", id, js(props(tp)))
		}
	}
	// The notificationEmail subscription, unfiltered (routes, filtered, are organization_test.go's).
	var unfiltered []map[string]any
	for _, sub := range resources(t, orch, "AWS::SNS::Subscription") {
		if props(sub)["FilterPolicy"] == nil {
			unfiltered = append(unfiltered, sub)
		}
	}
	if len(unfiltered) != 1 || props(unfiltered[0])["Protocol"] != "email" || props(unfiltered[0])["Endpoint"] != fixtureCfg.NotificationEmail {
		t.Errorf("unfiltered subscriptions %s", js(unfiltered))
	}
}

func TestOrchestrator_TemplateNamesNoAccount(t *testing.T) {
	// Environment-agnostic in the account: synth needs no credentials, and one template fits any account.
	if strings.Contains(js(fixtureTmpl[orch]), fixtureCfg.OrchestratorAccount) {
		t.Error("the orchestrator template hard-codes an account id")
	}
}

// planEnvIsSet: the plan-signing key and the guardbots state machine's ARN, by its name.
func planEnvIsSet(vars map[string]any) bool {
	return strings.Contains(js(vars[deployment.EnvSigningKey]), "PlanSigningKey") &&
		strings.HasSuffix(js(vars[deployment.EnvStateMachineArn]), `:stateMachine:`+statemachine.Name+`"]]}`)
}

// The plan-signing key: asymmetric, for signing, and a key policy that denies kms:Sign to every principal
// but verify's role — whatever an administrator's own policies allow.
func TestOrchestrator_PlanSigningKeyIsAnECCSigningKeyOnlyVerifyMaySignWith(t *testing.T) {
	for _, stack := range []string{orch, defaultOf(orch)} {
		_, key := findResource(t, stack, logicalID(t, stack, "AWS::KMS::Key", `^PlanSigningKey[0-9A-F]{8}$`))
		p := props(key)
		if p["KeySpec"] != "ECC_NIST_P256" || p["KeyUsage"] != "SIGN_VERIFY" || p["EnableKeyRotation"] == true {
			t.Errorf("%s: key %s", stack, js(p))
		}
		var deny map[string]any
		for _, st := range statements(p["KeyPolicy"]) {
			if st["Sid"] == "OnlyVerifySigns" {
				deny = st
			}
		}
		verifyRole := functionRoleIn(t, stack, "verify")
		if deny == nil || deny["Effect"] != "Deny" || js(deny["Principal"]) != `{"AWS":"*"}` || js(deny["Action"]) != `"kms:Sign"` ||
			js(deny["Condition"]) != `{"ArnNotEquals":{"aws:PrincipalArn":{"Fn::GetAtt":["`+verifyRole+`","Arn"]}}}` {
			t.Errorf("%s: no Deny of kms:Sign to all but verify's role: %s", stack, js(deny))
		}
	}
	// Without closeFindings, notify checks no plan: neither the variables nor the grants.
	for id, f := range resources(t, defaultOf(orch), "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "Stepnotify") {
			vars, _ := props(f)["Environment"].(map[string]any)["Variables"].(map[string]any)
			if _, ok := vars[deployment.EnvSigningKey]; ok {
				t.Errorf("notify without closeFindings gets %s", deployment.EnvSigningKey)
			}
		}
	}
	for _, a := range rolePolicyActions(t, defaultOf(orch))[functionRoleIn(t, defaultOf(orch), "notify")] {
		if strings.HasPrefix(a, "states:") || a == "kms:GetPublicKey" {
			t.Errorf("notify without closeFindings may %s", a)
		}
	}
}
