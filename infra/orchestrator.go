package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine"
)

// Workflow is the state machine's definition with ${…} placeholders and what each placeholder names
// (statemachine.Definition and statemachine.Placeholders).
type Workflow struct {
	Definition   []byte
	Placeholders map[string]string
}

// OrchestratorProps is what the orchestrator stack is built from.
type OrchestratorProps struct {
	awscdk.StackProps
	Config   Config
	Workflow Workflow
	// AssetDir holds build/<function>/bootstrap for every step and bot.
	AssetDir string
	// Mapping is the validated mapping document and the tier it needs.
	Mapping     []byte
	MappingTier mapping.Tier
}

// Orchestrator is the stack in the security (GuardDuty delegated-admin) account's home region.
type Orchestrator struct {
	awscdk.Stack
	Functions    map[string]goFunction
	StateMachine awsstepfunctions.StateMachine
	AuditTable   awsdynamodb.Table
	// ApproverRole is the only role meant to answer approval requests (see newApproverRole).
	ApproverRole awsiam.Role
	// Alerts and ProbeKey are what the member-health stack uses (health.go).
	Alerts   notifications
	ProbeKey awskms.Key
}

// NewOrchestrator builds rule → state machine → Lambdas, with the mapping parameter, the state table,
// the topic and the alarms.
func NewOrchestrator(scope constructs.Construct, id string, p OrchestratorProps) (*Orchestrator, error) {
	cfg := p.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	o := &Orchestrator{Stack: stack, Functions: map[string]goFunction{}}
	retention := retentionByDays[cfg.LogRetentionDays]

	alerts := newNotifications(stack, "Notifications", cfg.NotificationEmail)

	// The repository's mapping file is the source of truth and every deploy writes it. An emergency
	// edit in SSM takes effect within match's TTL and lasts until the next deploy (commit it first).
	param := awsssm.NewStringParameter(stack, jsii.String("Mapping"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(cfg.MappingParameter),
		StringValue:   jsii.String(string(p.Mapping)),
		Tier:          ssmTier(p.MappingTier),
		Description:   jsii.String("guardbots finding-type → bot mapping; deployed from the repository, validated at synth"),
	})

	table := awsdynamodb.NewTable(stack, jsii.String("State"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(statetable.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		TimeToLiveAttribute: jsii.String(statetable.TTLAttribute),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// Undo records (a quarantined instance's original security groups) must survive the stack.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// The audit trail: append-only for the bots (PutItem under attribute_not_exists), queryable by
	// finding (pk) and by resource (GSI); TTL only cleans up after the configured retention.
	audit := awsdynamodb.NewTable(stack, jsii.String("Audit"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(statetable.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String(statetable.AuditSortKey), Type: awsdynamodb.AttributeType_STRING},
		TimeToLiveAttribute: jsii.String(statetable.TTLAttribute),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// Evidence of what the bots did: it outlives the stack.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	audit.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(statetable.AuditResourceGSI),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(statetable.AuditResourceKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(statetable.AuditSortKey), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	o.AuditTable = audit

	approver := newApproverRole(stack, "Approver", cfg)
	o.ApproverRole = approver
	planKey := newPlanKey(stack, "PlanSigningKey")
	probeKey := newProbeKey(stack, "ProbeSigningKey")
	closing := cfg.CloseFindings != deployment.CloseOff

	// Every function, as shared/deployment describes it from the settings: each role holds only what
	// its handler calls, and a bot's role is named so member trust policies can name it.
	fns := deployment.Functions(cfg.Settings, deployment.Resources{
		// Its own account, so a bot never calls STS to learn it.
		AccountID:       *awscdk.Aws_ACCOUNT_ID(),
		TopicArn:        *alerts.Topic.TopicArn(),
		MailTopicArn:    *alerts.Mail.TopicArn(),
		ChatTopicArn:    *alerts.Chat.TopicArn(),
		EventBus:        "default",
		ApproverRoleArn: *approver.RoleArn(),
		StateTable:      *table.TableName(),
		AuditTable:      *audit.TableName(),
		SigningKey:      *planKey.KeyArn(),
		StateMachineArn: stateMachineArn(),
		ProbeKey:        *probeKey.KeyArn(), HealthStateMachineArn: healthStateMachineArn(),
	})
	botLogs := map[string]awslogs.LogGroup{}
	for _, f := range fns {
		// Every function and role is named "<prefix>-…": a bot's role so member trust policies can name
		// it, and all of them so the IAM-writing bots' fence and the SCP in infra/scp cover them.
		roleName, err := lambdaRoleName(cfg.RolePrefix, f.Name)
		if err != nil {
			return nil, err
		}
		props := goFunctionProps{Function: f, AssetDir: p.AssetDir, Retention: retention,
			RoleName: roleName, FunctionName: functionName(cfg.RolePrefix, f.Name)}
		id := "Step-" + f.Name
		if f.Bot {
			id = "Bot-" + f.Name
		}
		o.Functions[f.Name] = newGoFunction(stack, id, props)
		if f.Bot {
			botLogs[f.Name] = o.Functions[f.Name].LogGroup
		}
	}
	grantReadMapping(o.Functions[deployment.StepMatch].Role, param)
	grantPublish(o.Functions[deployment.StepNotify].Role, alerts)
	grantPublish(o.Functions[deployment.StepRequestApproval].Role, alerts)
	grantVerify(o.Functions[deployment.StepVerify].Role, param)
	if deployment.PrunesDenies(cfg.Settings) {
		grantPlanCleanup(o.Functions[deployment.StepVerify].Role, table)
	}
	grantSign(o.Functions[deployment.StepVerify].Role, planKey)
	restrictSigning(planKey, o.Functions[deployment.StepVerify].Role)
	grantCloseFindings(o.Functions[deployment.StepNotify].Role, cfg.CloseFindings)
	if closing {
		grantCheckPlan(o.Functions[deployment.StepNotify].Role, planKey, false)
	}
	for _, b := range deployment.Bots(cfg.Settings) {
		grantBot(o.Functions[b.Name], b, cfg, table, audit)
		grantCheckPlan(o.Functions[b.Name].Role, planKey, true)
	}
	if cfg.Organization.Lookups {
		grantOrganizationReads(o.Functions[deployment.StepMatch].Role, o.Functions[deployment.StepVerify].Role)
	}
	addRoutes(stack, alerts, cfg.Routes)
	o.Alerts, o.ProbeKey = alerts, probeKey
	grantProbes(o, cfg, probeKey)
	var notifyLogs awslogs.LogGroup
	if closing {
		notifyLogs = o.Functions[deployment.StepNotify].LogGroup
	}
	newRailAlarms(stack, botLogs, notifyLogs, alerts)

	// The committed definition keeps a branch for every bot; this deployment's leads a bot it does not
	// run to "Bot not deployed" and names only its own functions.
	def, err := statemachine.Deployed(p.Workflow.Definition, cfg.EnabledBots)
	if err != nil {
		return nil, err
	}
	wf := Workflow{Definition: def, Placeholders: map[string]string{}}
	for _, key := range statemachine.PlaceholdersIn(def) {
		name, ok := p.Workflow.Placeholders[key]
		if !ok {
			return nil, fmt.Errorf("state machine placeholder %s names no function of the workflow", key)
		}
		wf.Placeholders[key] = name
	}
	sm, err := newWorkflow(stack, "Workflow", wf, o.Functions, cfg.RolePrefix, retention)
	if err != nil {
		return nil, err
	}
	o.StateMachine = sm

	// Failed, timed-out and aborted executions: each one is a finding nobody acted on.
	failures := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("failed + timedOut + aborted"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"failed":   sm.MetricFailed(nil),
			"timedOut": sm.MetricTimedOut(nil),
			"aborted":  sm.MetricAborted(nil),
		},
		Period: awscdk.Duration_Minutes(jsii.Number(5)),
		Label:  jsii.String("executions failed, timed out or aborted"),
	})
	alarm := failures.CreateAlarm(stack, jsii.String("ExecutionsFailedAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: a remediation workflow execution failed, timed out or was aborted"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alerts.alarm(alarm)

	newFindingRules(stack, cfg, sm, alerts)
	newOutcomeEvents(stack, cfg.RolePrefix, cfg.Outputs, o.Functions[deployment.StepNotify].Role, alerts)
	newDashboard(stack, sm, alerts)
	newChat(stack, cfg, alerts, sm)
	return o, nil
}

// lambdaRoleName is a function's role name, "<prefix>-lambda-<function>": deterministic, so a member
// trust policy can name a bot's in aws:PrincipalArn, and distinct from the member role "<prefix>-<bot>",
// which a StackSet may also create in this very account.
func lambdaRoleName(prefix, function string) (string, error) {
	name := prefix + "-lambda-" + function
	if len(name) > 64 { // IAM's limit on role names
		return "", fmt.Errorf("bot %s: role name %q is %d characters, IAM allows 64: shorten context %s", function, name, len(name), ctxRolePrefix)
	}
	return name, nil
}

// functionName is a function's name, "<prefix>-<function>": what the SCP in infra/scp lets only the
// state machine's role invoke. Shorter than its role's name, which lambdaRoleName checks.
func functionName(prefix, function string) string { return prefix + "-" + function }

// workflowRoleName is the state machine's role, "<prefix>-workflow": the one principal the SCP lets
// invoke the functions.
func workflowRoleName(prefix string) string { return prefix + "-workflow" }

// grantBot gives a bot Lambda exactly what the bot declares. Bots without operations never call AWS
// (the runner does not even resolve credentials for them), so they get nothing beyond their logs.
func grantBot(fn goFunction, b bots.Bot, cfg Config, table, audit awsdynamodb.Table) {
	prefix := cfg.RolePrefix
	actions := b.IAMActions()
	// UpdateItem: the duplicate-suppression claims and blast-radius counters are conditional updates.
	fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("StateTable"),
		Actions:   jsii.Strings("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
		Resources: jsii.Strings(*table.TableArn()),
	}))
	// Append only: a bot must not be able to rewrite or erase its own audit trail.
	fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AppendAudit"),
		Actions:   jsii.Strings("dynamodb:PutItem"),
		Resources: jsii.Strings(*audit.TableArn()),
	}))
	if len(actions) == 0 {
		return
	}
	memberRole := fmt.Sprintf("arn:%s:iam::*:role/%s-%s", *awscdk.Aws_PARTITION(), prefix, b.Name)
	assume := &awsiam.PolicyStatementProps{
		Sid:       jsii.String("AssumeOwnMemberRole"),
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: jsii.Strings(memberRole),
	}
	// The account is a wildcard (any member account may own the finding): with an organization, only
	// roles of accounts inside it, so a same-named role elsewhere is never assumed.
	if cfg.OrganizationID != "" {
		assume.Conditions = &map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": cfg.OrganizationID}}
	}
	fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(assume))
	// awsenv sends a source identity, so the member account's CloudTrail names the bot; only its own.
	fn.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OwnSourceIdentity"),
		Actions:    jsii.Strings("sts:SetSourceIdentity"),
		Resources:  jsii.Strings(memberRole),
		Conditions: &map[string]any{"StringEquals": map[string]any{"sts:SourceIdentity": awsenv.SourceIdentity(b.Name)}},
	}))
	// In its own account the Lambda's role acts as a member role would: the same statements, the fence
	// of an IAM-writing bot included.
	for _, st := range botStatements(b, cfg, "ActInOwnAccount") {
		fn.Role.AddToPrincipalPolicy(st)
	}
	suppress(fn.Role, "AwsSolutions-IAM5",
		"The bot acts on whichever resource a finding names, so its exact, declared actions (no wildcard action) "+
			"apply to any resource; an identity policy reaches only this account. Describe* calls support no "+
			"resource-level permissions. Other accounts are reached through the member role, whose name is fixed; "+
			"the account is a wildcard because any member account may own the finding.",
		"Resource::*", fmt.Sprintf("Resource::arn:<AWS::Partition>:iam::*:role/%s-%s", prefix, b.Name))
}

// newWorkflow deploys the generated definition inline, each placeholder replaced by its function's
// ARN, and lets the state machine invoke exactly those functions.
func newWorkflow(scope constructs.Construct, id string, wf Workflow, fns map[string]goFunction, prefix string, retention awslogs.RetentionDays) (awsstepfunctions.StateMachine, error) {
	subs := map[string]*string{}
	var arns []*string
	var keys []string
	for k := range wf.Placeholders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	used := map[string]bool{}
	for _, key := range keys {
		name := wf.Placeholders[key]
		fn, ok := fns[name]
		if !ok {
			return nil, fmt.Errorf("state machine placeholder %s names function %q, which the stack does not build", key, name)
		}
		subs[key] = fn.Function.FunctionArn()
		if !used[name] {
			arns = append(arns, fn.Function.FunctionArn())
		}
		used[name] = true
	}
	var unused []string
	for name := range fns {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return nil, fmt.Errorf("functions %v have no Task in the state machine definition (run go generate ./statemachine)", unused)
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// Named, as the one principal the SCP in infra/scp lets invoke the functions.
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(workflowRoleName(prefix)),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("guardbots: the remediation workflow (Step Functions) invokes its functions"),
	})
	sm := awsstepfunctions.NewStateMachine(scope, jsii.String(id), &awsstepfunctions.StateMachineProps{
		Role:                    role,
		StateMachineName:        jsii.String(statemachine.Name),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(wf.Definition))),
		DefinitionSubstitutions: &subs,
		TracingEnabled:          jsii.Bool(true),
		// Which states ran, when, and how they failed, without their data: no finding and no task token
		// in CloudWatch Logs (the console's execution history keeps the data).
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel(statemachine.LogLevel),
			IncludeExecutionData: jsii.Bool(statemachine.LogIncludeExecutionData),
		},
	})
	sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("InvokeWorkflowFunctions"),
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &arns,
	}))
	suppress(role, "AwsSolutions-IAM5",
		"CDK's grants for execution logging (logs:CreateLogDelivery and friends) and X-Ray tracing "+
			"(xray:PutTraceSegments and friends): these APIs support no resource-level permissions, so AWS "+
			"documents Resource \"*\" for them; the actions are exact.",
		"Resource::*")
	suppress(sm, "AwsSolutions-IAM5",
		"CDK's grants for execution logging (logs:CreateLogDelivery and friends) and X-Ray tracing "+
			"(xray:PutTraceSegments and friends): these APIs support no resource-level permissions, so AWS "+
			"documents Resource \"*\" for them; the actions are exact.",
		"Resource::*")
	return sm, nil
}

func ssmTier(t mapping.Tier) awsssm.ParameterTier {
	if t == mapping.TierAdvanced {
		return awsssm.ParameterTier_ADVANCED
	}
	return awsssm.ParameterTier_STANDARD
}

// newFindingRules routes GuardDuty findings at or above the severity floor to the workflow, with
// retries and a dead-letter queue for events EventBridge could not deliver.
func newFindingRules(stack awscdk.Stack, cfg Config, sm awsstepfunctions.StateMachine, alerts notifications) {
	dlq := awssqs.NewQueue(stack, jsii.String("FindingsDLQ"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(dlq, "AwsSolutions-SQS3",
		"This queue is itself the dead-letter queue of the EventBridge targets; a DLQ of a DLQ would only move the problem.")
	depth := dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
	})
	dlqAlarm := depth.CreateAlarm(stack, jsii.String("FindingsDLQAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: GuardDuty findings could not start the remediation workflow (see the dead-letter queue)"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alerts.alarm(dlqAlarm)

	// One role for both rules, named like every guardbots role (the fence covers it).
	starter := awsiam.NewRole(stack, jsii.String("StartWorkflowRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(cfg.RolePrefix + "-start-workflow"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
		Description: jsii.String("guardbots: EventBridge starts the remediation workflow for a GuardDuty finding"),
	})
	target := func() awsevents.IRuleTarget {
		return awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
			Role:            starter,
			DeadLetterQueue: dlq,
			RetryAttempts:   jsii.Number(8),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		})
	}
	// The clean-up of expired IAM denies is an execution of the same workflow, started every hour with
	// the schedule's request (steps.ScheduleRequest): verify plans it from the state table and signs it,
	// the deny bots act on it with their own roles. No other principal gets IAM write for it.
	if deployment.PrunesDenies(cfg.Settings) {
		awsevents.NewRule(stack, jsii.String("ExpireDeniesSchedule"), &awsevents.RuleProps{
			Description: jsii.String("guardbots: every hour, the remediation workflow removes the IAM denies of its deny bots that expired"),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
				Input: awsevents.RuleTargetInput_FromObject(map[string]any{"guardbots": steps.TaskExpireDenies}),
				// The findings rule's role (<prefix>-start-workflow): no unnamed role of CDK's own.
				Role:            starter,
				DeadLetterQueue: dlq,
				RetryAttempts:   jsii.Number(8),
				// The next hour's run plans again whatever this one missed.
				MaxEventAge: awscdk.Duration_Hours(jsii.Number(1)),
			})},
		})
	}
	awsevents.NewRule(stack, jsii.String("GuardDutyFindings"), &awsevents.RuleProps{
		Description:  jsii.String(fmt.Sprintf("guardbots: GuardDuty findings of severity %v or more start the remediation workflow", cfg.SeverityFloor)),
		EventPattern: guardDutyPattern(cfg.SeverityFloor),
		Targets:      &[]awsevents.IRuleTarget{target()},
	})
	// Off by default: with GuardDuty findings also arriving directly, this rule would run every finding
	// twice. It is for accounts that only see GuardDuty through Security Hub's aggregation.
	awsevents.NewRule(stack, jsii.String("SecurityHubGuardDutyFindings"), &awsevents.RuleProps{
		Description: jsii.String("guardbots: GuardDuty findings imported into Security Hub (enable with context securityHubRule=true)"),
		Enabled:     jsii.Bool(cfg.SecurityHubRule),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.securityhub"),
			DetailType: jsii.Strings("Security Hub Findings - Imported"),
			Detail: &map[string]any{
				"findings": map[string]any{
					"ProductArn": guardDutyProductArns(cfg),
					"Severity":   map[string]any{"Label": securityHubLabels(cfg.SeverityFloor)},
				},
			},
		},
		Targets: &[]awsevents.IRuleTarget{target()},
	})
}

// guardDutyProductArns are GuardDuty's product ARNs in Security Hub for every region findings come from
// (the home region and, through cross-region aggregation, the other regions). A custom integration
// may import findings only under its own account's product ARN, but may write any ProductName, so
// "GuardDuty" proves nothing: GuardDuty's product ARN, exactly, is what the rule accepts.
func guardDutyProductArns(cfg Config) []string {
	regions := append([]string{cfg.HomeRegion}, cfg.OtherRegions...)
	arns := make([]string, len(regions))
	for i, r := range regions {
		arns[i] = fmt.Sprintf("arn:%s:securityhub:%s::product/aws/guardduty", *awscdk.Aws_PARTITION(), r)
	}
	return arns
}

// guardDutyPattern matches GuardDuty findings at or above floor; the floor is in the pattern, so
// lower findings never start (or bill) an execution.
func guardDutyPattern(floor float64) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings("aws.guardduty"),
		DetailType: jsii.Strings("GuardDuty Finding"),
		Detail: &map[string]any{
			"severity": []any{map[string]any{"numeric": []any{">=", floor}}},
		},
	}
}

// securityHubLabels are the ASFF severity labels at or above a GuardDuty severity floor (GuardDuty maps
// 1–3.9 to LOW, 4–6.9 to MEDIUM, 7–8.9 to HIGH, 9–10 to CRITICAL); the floor rounds down to its band.
func securityHubLabels(floor float64) []string {
	switch {
	case floor >= 9:
		return []string{"CRITICAL"}
	case floor >= 7:
		return []string{"HIGH", "CRITICAL"}
	case floor >= 4:
		return []string{"MEDIUM", "HIGH", "CRITICAL"}
	default:
		return []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}
	}
}
