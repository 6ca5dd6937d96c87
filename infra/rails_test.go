package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine"
)

// roleStatements returns every Allow statement of the identity policies attached to a role.
func roleStatements(t *testing.T, stack, roleID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range resources(t, stack, "AWS::IAM::Policy") {
		if !strings.Contains(js(props(p)["Roles"]), `"`+roleID+`"`) {
			continue
		}
		for _, s := range statements(props(p)["PolicyDocument"]) {
			if s["Effect"] == "Allow" {
				out = append(out, s)
			}
		}
	}
	return out
}

// resourceOf returns the rendered Resource of the statement granting action, failing when none does.
func resourceOf(t *testing.T, sts []map[string]any, action string) string {
	t.Helper()
	for _, s := range sts {
		if slices.Contains(strs(s["Action"]), action) {
			return js(s["Resource"])
		}
	}
	t.Fatalf("no statement grants %s", action)
	return ""
}

const wantHub = `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":securityhub:*:",{"Ref":"AWS::AccountId"},":hub/default"]]}`

// GuardDuty's finding APIs list no resource type in the Service Authorization Reference, so AWS grants
// them only on "*": a statement naming detector ARNs would deny verify every finding in a real account.
func TestOrchestrator_VerifyReadsFindingsOnStarAndTheMappingParameterOnly(t *testing.T) {
	for _, stack := range []string{orch, defaultOf(orch)} {
		sts := roleStatements(t, stack, functionRoleIn(t, stack, "verify"))
		for _, a := range []string{"guardduty:GetFindings", "guardduty:ListDetectors"} {
			if got := resourceOf(t, sts, a); got != `"*"` {
				t.Errorf("%s: %s on %s, want \"*\"", stack, a, got)
			}
		}
		param, _ := only(t, stack, "AWS::SSM::Parameter")
		if got := resourceOf(t, sts, "ssm:GetParameter"); !strings.Contains(got, `{"Ref":"`+param+`"}`) || strings.Contains(got, "*") {
			t.Errorf("%s: ssm:GetParameter on %s, want the mapping parameter %s only", stack, got, param)
		}
		match := roleStatements(t, stack, functionRoleIn(t, stack, "match"))
		if got, want := resourceOf(t, sts, "ssm:GetParameter"), resourceOf(t, match, "ssm:GetParameter"); got != want {
			t.Errorf("%s: verify reads %s, match reads %s: the same parameter, the same way", stack, got, want)
		}
	}
}

func TestOrchestrator_NotifyClosesFindingsOnStarAndOnlyThisAccountsHub(t *testing.T) {
	sts := roleStatements(t, orch, functionRole(t, "notify"))
	for _, a := range []string{"guardduty:ListDetectors", "guardduty:UpdateFindingsFeedback", "guardduty:ArchiveFindings"} {
		if got := resourceOf(t, sts, a); got != `"*"` {
			t.Errorf("%s on %s, want \"*\"", a, got)
		}
	}
	if got := resourceOf(t, sts, "securityhub:BatchUpdateFindings"); got != wantHub {
		t.Errorf("BatchUpdateFindings on %s, want %s", got, wantHub)
	}
	// closeFindings off (the default): no GuardDuty or Security Hub write at all.
	for _, a := range rolePolicyActions(t, defaultOf(orch))[functionRoleIn(t, defaultOf(orch), "notify")] {
		if strings.HasPrefix(a, "guardduty:") || strings.HasPrefix(a, "securityhub:") {
			t.Errorf("closeFindings off, yet notify may %s", a)
		}
	}
}

func TestCloseFindingsActions_OffGrantsNothingAndOnlyArchiveMayArchive(t *testing.T) {
	if gd, sh := closeFindingsActions("false"); gd != nil || sh != nil {
		t.Errorf("false: %v %v, want nothing", gd, sh)
	}
	gd, sh := closeFindingsActions("true")
	if !reflect.DeepEqual(gd, []string{"guardduty:UpdateFindingsFeedback"}) || !reflect.DeepEqual(sh, []string{"securityhub:BatchUpdateFindings"}) {
		t.Errorf("true: %v %v", gd, sh)
	}
	if gd, _ := closeFindingsActions("archive"); !slices.Contains(gd, "guardduty:ArchiveFindings") {
		t.Errorf("archive: %v lacks ArchiveFindings", gd)
	}
}

func TestOrchestrator_RequestApprovalPublishesOnlyToTheTopic(t *testing.T) {
	sts := roleStatements(t, orch, functionRole(t, "request_approval"))
	if got := resourceOf(t, sts, "sns:Publish"); !strings.Contains(got, "NotificationsTopic") {
		t.Errorf("sns:Publish on %s, want the topic", got)
	}
	if got := resourceOf(t, sts, "kms:GenerateDataKey"); !strings.Contains(got, "NotificationsKey") {
		t.Errorf("kms:GenerateDataKey on %s, want the topic's key", got)
	}
}

func TestOrchestrator_StateMachineMayInvokeRequestApprovalForTheTaskTokenWait(t *testing.T) {
	_, sm := only(t, orch, "AWS::StepFunctions::StateMachine")
	def := props(sm)["DefinitionString"].(string)
	if !strings.Contains(def, statemachine.WaitForTaskToken) || !strings.Contains(def, "${RequestApprovalFunctionArn}") {
		t.Fatalf("the definition has no %s Task calling request_approval", statemachine.WaitForTaskToken)
	}
	smRole := js(props(sm)["RoleArn"])
	approval := js(map[string]any{"Fn::GetAtt": []any{functionLogicalID(t, "request_approval"), "Arn"}})
	for _, p := range resources(t, orch, "AWS::IAM::Policy") {
		if !strings.Contains(smRole, strings.Trim(js(asSlice(props(p)["Roles"])[0].(map[string]any)["Ref"]), `"`)) {
			continue
		}
		for _, s := range statements(props(p)["PolicyDocument"]) {
			if slices.Contains(strs(s["Action"]), "lambda:InvokeFunction") && strings.Contains(js(s["Resource"]), approval) {
				return
			}
		}
	}
	t.Errorf("the state machine's role may not invoke %s", approval)
}

// functionLogicalID finds the logical id of a step or bot function.
func functionLogicalID(t *testing.T, fn string) string {
	t.Helper()
	role := functionRole(t, fn)
	for id, f := range resources(t, orch, "AWS::Lambda::Function") {
		if strings.Contains(js(props(f)["Role"]), `"`+role+`"`) {
			return id
		}
	}
	t.Fatalf("no function %s", fn)
	return ""
}

func TestOrchestrator_ExecutionTimeoutCoversApprovalWaitsAndTheAlarmCatchesTimeouts(t *testing.T) {
	// Approvals wait up to a day each; the execution's 7 days must outlast them, and an execution that
	// still times out is a finding nobody acted on, which the failure alarm reports.
	if statemachine.ExecutionTimeoutSeconds < mapping.MaxApprovalTimeoutSeconds || statemachine.ExecutionTimeoutSeconds != 7*24*3600 {
		t.Errorf("execution timeout %ds", statemachine.ExecutionTimeoutSeconds)
	}
	_, sm := only(t, orch, "AWS::StepFunctions::StateMachine")
	if !strings.Contains(props(sm)["DefinitionString"].(string), `"TimeoutSeconds": 604800`) {
		t.Error("the deployed definition does not carry the 7-day execution timeout")
	}
	var timedOut bool
	for _, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
		timedOut = timedOut || strings.Contains(js(props(a)["Metrics"]), "ExecutionsTimedOut")
	}
	if !timedOut {
		t.Error("no alarm on timed-out executions")
	}
}

func TestOrchestrator_ApproverRoleNeedsMFAByDefaultAndMaySendOnlyTaskResults(t *testing.T) {
	var id string
	var role map[string]any
	stack := defaultOf(orch)
	for rid, r := range resources(t, stack, "AWS::IAM::Role") {
		if props(r)["RoleName"] == DefaultConfig().RolePrefix+"-approver" {
			id, role = rid, r
		}
	}
	if role == nil {
		t.Fatalf("no role %s-approver", DefaultConfig().RolePrefix)
	}
	trust := statements(props(role)["AssumeRolePolicyDocument"])
	if len(trust) != 1 || js(trust[0]["Condition"]) != `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}` ||
		!strings.Contains(js(trust[0]["Principal"]), ":root") {
		t.Errorf("trust %s, want this account's root with MFA", js(trust))
	}
	if got := rolePolicyActions(t, stack)[id]; !reflect.DeepEqual(got, []string{"states:SendTaskFailure", "states:SendTaskSuccess"}) {
		t.Errorf("approver may %v", got)
	}
}

func TestApproverRole_TrustsOnlyTheConfiguredPrincipal(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("ApproverOnly"), nil)
	cfg := DefaultConfig()
	cfg.ApproverPrincipalArn = "arn:aws:iam::999988887777:role/SecOpsOnCall"
	newApproverRole(stack, "Approver", cfg)
	assertCDK(t, "approver trust", func() {
		assertions.Template_FromStack(stack, nil).HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"RoleName": "guardbots-approver",
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action":    "sts:AssumeRole",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": cfg.ApproverPrincipalArn},
			}}},
		})
	})
}

func TestOrchestrator_AuditTableIsEncryptedRecoverableQueryableByResourceAndExpires(t *testing.T) {
	assertCDK(t, "audit table", func() {
		fixtureAssert[orch].HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": statetable.PartitionKey, "KeyType": "HASH"},
				map[string]any{"AttributeName": statetable.AuditSortKey, "KeyType": "RANGE"},
			},
			"AttributeDefinitions": assertions.Match_ArrayWith(&[]any{
				map[string]any{"AttributeName": statetable.AuditResourceKey, "AttributeType": "S"},
			}),
			"GlobalSecondaryIndexes": []any{map[string]any{
				"IndexName": statetable.AuditResourceGSI,
				"KeySchema": []any{
					map[string]any{"AttributeName": statetable.AuditResourceKey, "KeyType": "HASH"},
					map[string]any{"AttributeName": statetable.AuditSortKey, "KeyType": "RANGE"},
				},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}},
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": statetable.TTLAttribute, "Enabled": true},
		})
	})
	for id, tbl := range resources(t, orch, "AWS::DynamoDB::Table") {
		if tbl["DeletionPolicy"] != "Retain" {
			t.Errorf("table %s is deleted with the stack", id)
		}
	}
}

func TestOrchestrator_RailEventsAreCountedInEveryBotLogGroupAndAlarmed(t *testing.T) {
	filters := resources(t, orch, "AWS::Logs::MetricFilter")
	for _, e := range railEvents {
		groups := map[string]bool{}
		for _, f := range filters {
			p := props(f)
			tr := asSlice(p["MetricTransformations"])[0].(map[string]any)
			if p["FilterPattern"] == `{ $.event = "`+e.Event+`" }` && tr["MetricName"] == e.Metric && tr["MetricNamespace"] == metricNamespace {
				groups[js(p["LogGroupName"])] = true
			}
		}
		for _, b := range bots.Registered() {
			lg := functionRole(t, b.Name)
			lg = strings.TrimSuffix(lg[:len(lg)-8], "Role") + "Logs"
			found := false
			for g := range groups {
				found = found || strings.Contains(g, `"`+lg)
			}
			if !found {
				t.Errorf("%s: no %s filter on bot %s's log group", e.Event, e.Metric, b.Name)
			}
		}
		alarmed := false
		for _, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
			p := props(a)
			if p["MetricName"] == e.Metric && p["Namespace"] == metricNamespace {
				alarmed = p["Threshold"] == float64(1) && p["Statistic"] == "Sum" &&
					strings.Contains(js(p["AlarmActions"]), "NotificationsTopic")
			}
		}
		if !alarmed {
			t.Errorf("no alarm at 1 on %s notifying the topic", e.Metric)
		}
	}
	if railFilterPattern(deployment.EventBlastRadiusHeld) != `{ $.event = "guardbots.blast_radius_held" }` ||
		railFilterPattern(deployment.EventAuditFailed) != `{ $.event = "guardbots.audit_write_failed" }` {
		t.Error("filter patterns do not match the runner's log events")
	}
}

// The clean-up of expired IAM denies runs as an hourly execution of the workflow itself, started with
// the schedule's request; verify plans it with a Scan of the state table and nothing more of it (the
// deny bots, with their own roles, remove the denies and the records). No new principal writes IAM.
func TestOrchestrator_ExpiredDeniesAreCleanedUpHourlyByTheWorkflow(t *testing.T) {
	var schedule map[string]any
	for _, r := range resources(t, orch, "AWS::Events::Rule") {
		if props(r)["ScheduleExpression"] != nil {
			if schedule != nil {
				t.Fatal("more than one scheduled rule")
			}
			schedule = props(r)
		}
	}
	if schedule == nil || schedule["ScheduleExpression"] != "rate(1 hour)" || schedule["State"] != "ENABLED" {
		t.Fatalf("schedule rule %s", js(schedule))
	}
	targets, _ := schedule["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets %s", js(schedule["Targets"]))
	}
	target := targets[0].(map[string]any)
	if p, err := steps.Parse(t.Context(), []byte(fmt.Sprint(target["Input"]))); err != nil || p.Source != steps.SourceSchedule || !strings.HasPrefix(js(target["Arn"]), `{"Ref":"Workflow`) ||
		!strings.Contains(js(target["DeadLetterConfig"]), "FindingsDLQ") {
		t.Errorf("target %s", js(target))
	}
	state := logicalID(t, orch, "AWS::DynamoDB::Table", `^State[0-9A-F]{8}$`)
	var dynamo []string
	for _, s := range roleStatements(t, orch, functionRoleIn(t, orch, "verify")) {
		for _, a := range strs(s["Action"]) {
			if strings.HasPrefix(a, "dynamodb:") {
				dynamo = append(dynamo, a)
				if want := `{"Fn::GetAtt":["` + state + `","Arn"]}`; js(s["Resource"]) != want {
					t.Errorf("verify: %s on %s, want the state table %s only", a, js(s["Resource"]), want)
				}
			}
		}
	}
	if !slices.Equal(dynamo, []string{"dynamodb:Scan"}) {
		t.Errorf("verify may call %v on DynamoDB, want only dynamodb:Scan", dynamo)
	}
	var env map[string]any
	for _, f := range resources(t, orch, "AWS::Lambda::Function") {
		if strings.Contains(js(props(f)["Role"]), functionRoleIn(t, orch, "verify")) {
			env, _ = props(f)["Environment"].(map[string]any)
		}
	}
	if !strings.Contains(js(env), deployment.EnvStateTable) {
		t.Errorf("verify's environment %s names no state table", js(env))
	}
}

// A deployment whose enabled bots write no expiring deny (the undo bots remove denies, they write none)
// has no hourly clean-up: no schedule, and verify neither reads nor may scan the state table.
func TestOrchestrator_NoEnabledDenyBotNoCleanup(t *testing.T) {
	root, err := deployment.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets, err := fakeAssets()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(assets)
	m := filepath.Join(t.TempDir(), "mapping.json")
	if err := os.WriteFile(m, []byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/TorClient", "actions": [{"bot": "ec2_stop_instance"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MappingFile = m
	cfg.EnabledBots = []string{"ec2_stop_instance", "notify_only", "iam_undo_deny_session"}
	s, err := synthesize(cfg, root, assets)
	if err != nil {
		t.Fatal(err)
	}
	orch := js(s.tmpl[orchestratorStackID])
	for _, absent := range []string{"ScheduleExpression", "ExpireDenies", "dynamodb:Scan", "Clean up with iam_deny_session"} {
		if strings.Contains(orch, absent) {
			t.Errorf("the orchestrator template has %s", absent)
		}
	}
	// The bots' environments name the state table, verify's does not.
	if n := strings.Count(orch, deployment.EnvStateTable); n != len(cfg.EnabledBots) {
		t.Errorf("%s is in %d environments, want the %d bots'", deployment.EnvStateTable, n, len(cfg.EnabledBots))
	}
}
