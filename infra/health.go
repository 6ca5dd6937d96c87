package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// The member-role health check (shared/health): a state machine of one task, run on a schedule, whose
// Lambda signs a probe per bot with a key of its own and invokes each bot's Lambda with it; the bots
// assume their own member roles (what they may already do) and nothing gains trust in member roles.

// healthStateMachineArn is the member-health state machine's ARN, by name (the bots name it in their
// environment before it exists, as for the remediation state machine).
func healthStateMachineArn() string { return stateMachineArnNamed(deployment.HealthStateMachineName) }

func healthExecutionsArn() string { return executionsArnNamed(deployment.HealthStateMachineName) }

// newProbeKey is the probe-signing key: never the plan key, since KMS signs any digest and a role that
// may sign probes with the plan key could sign plans.
func newProbeKey(scope constructs.Construct, id string) awskms.Key {
	return newSigningKey(scope, id, "guardbots: the member-role health check signs its probes; bots verify with the public key")
}

// grantProbes lets every bot with a member role check probes, and makes the probe key refuse kms:Sign to
// everyone but the health check's role (named, not referenced: it lives in the member-health stack).
func grantProbes(o *Orchestrator, cfg Config, probeKey awskms.Key) {
	roleName, _ := orgRoleName(cfg.RolePrefix, deployment.HealthFunction)
	probeKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheHealthCheckSigns"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Sign"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": fmt.Sprintf("arn:%s:iam::%s:role/%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID(), roleName)}},
	}), jsii.Bool(false))
	for _, b := range deployment.Bots(cfg.Settings) {
		if len(b.IAMActions()) > 0 {
			grantCheckProbe(o.Functions[b.Name].Role, probeKey)
		}
	}
}

// NewMemberHealthStack is the member-role health check, in the security account beside the orchestrator
// (a stack of its own: it only reads what the orchestrator exports — the bots' functions, the topic, the
// probe key — and the orchestrator depends on nothing of it).
func NewMemberHealthStack(scope constructs.Construct, id string, cfg Config, o *Orchestrator, assetDir string) (awscdk.Stack, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Description: jsii.String("guardbots member-role health check: every bot probes its member role in every account, daily"),
		Env:         &awscdk.Environment{Region: jsii.String(cfg.HomeRegion)},
	})
	return stack, newMemberHealth(stack, cfg, o, o.Alerts, o.ProbeKey, assetDir, retentionByDays[cfg.LogRetentionDays])
}

// newMemberHealth adds the health function, its state machine, the schedule and the alarms.
func newMemberHealth(stack awscdk.Stack, cfg Config, o *Orchestrator, alerts notifications, probeKey awskms.Key, assetDir string, retention awslogs.RetentionDays) error {
	roleName, _ := orgRoleName(cfg.RolePrefix, deployment.HealthFunction)
	// The management account has member roles only for the bots the deployment gives it (none by
	// default): the check probes only those there.
	var mgmtBots []string
	if cfg.ManagementAccountMember {
		for _, b := range cfg.ManagementAccountBots() {
			if len(b.IAMActions()) > 0 {
				mgmtBots = append(mgmtBots, b.Name)
			}
		}
	}
	f := deployment.Health(cfg.Settings, deployment.Resources{ProbeKey: *probeKey.KeyArn(), TopicArn: *alerts.Topic.TopicArn()},
		deployment.HealthEnv{StackSet: cfg.RolePrefix + "-member-roles", Accounts: cfg.HealthAccounts,
			ManagementAccount: cfg.ManagementAccount, ManagementBots: mgmtBots})
	// Named like every guardbots function and role: the fence covers the role, and the SCP in infra/scp
	// names the function (only the health workflow may invoke it) and the role (it invokes the bots).
	fn := newGoFunction(stack, "MemberHealth", goFunctionProps{Function: f, AssetDir: assetDir, RoleName: roleName,
		FunctionName: functionName(cfg.RolePrefix, deployment.HealthFunction), Retention: retention})
	role := fn.Role
	grantPublish(role, alerts)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("SignProbes"), Actions: jsii.Strings("kms:Sign"), Resources: jsii.Strings(*probeKey.KeyArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("PutProbeMetrics"), Actions: jsii.Strings("cloudwatch:PutMetricData"), Resources: jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": deployment.HealthNamespace}},
	}))
	if len(cfg.HealthAccounts) == 0 {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ListTheOrganizationsAccounts"), Actions: jsii.Strings(healthReads...), Resources: jsii.Strings("*"),
		}))
	}
	if cfg.ManagementAccount == "" {
		// Which account is the management account: any account of the organization may ask.
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("NameTheManagementAccount"), Actions: jsii.Strings("organizations:DescribeOrganization"), Resources: jsii.Strings("*"),
		}))
	}

	// The bots with a member role: each may be probed, and checks probes as it checks plans.
	functions := map[string]string{}
	var arns []string
	for _, b := range deployment.Bots(cfg.Settings) {
		if len(b.IAMActions()) == 0 {
			continue
		}
		bf, ok := o.Functions[b.Name]
		if !ok {
			return fmt.Errorf("member health: bot %s has no function", b.Name)
		}
		functions[b.Name] = "${" + healthPlaceholder(b) + "}"
		arns = append(arns, *bf.Function.FunctionArn())
	}
	sort.Strings(arns)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("InvokeBotsWithProbes"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: jsii.Strings(arns...),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"cloudwatch:PutMetricData, organizations:ListAccounts and organizations:DescribeOrganization support no resource-level permissions (the metric's "+
			"namespace is fixed by condition); the actions are exact.", "Resource::*")

	def, subs, err := healthDefinition(functions, fn, o)
	if err != nil {
		return err
	}
	logs := awslogs.NewLogGroup(stack, jsii.String("MemberHealthWorkflowLogs"), &awslogs.LogGroupProps{
		Retention: retention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	smRole := awsiam.NewRole(stack, jsii.String("MemberHealthWorkflowRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(healthWorkflowRoleName(cfg.RolePrefix)),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("guardbots: the member-role health check (Step Functions) invokes its function"),
	})
	sm := awsstepfunctions.NewStateMachine(stack, jsii.String("MemberHealthWorkflow"), &awsstepfunctions.StateMachineProps{
		Role:                    smRole,
		StateMachineName:        jsii.String(deployment.HealthStateMachineName),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(def)),
		DefinitionSubstitutions: &subs,
		TracingEnabled:          jsii.Bool(true),
		// Every state's events, without their data (the report holds account ids; the console keeps it).
		Logs: &awsstepfunctions.LogOptions{Destination: logs, Level: awsstepfunctions.LogLevel_ALL, IncludeExecutionData: jsii.Bool(false)},
	})
	sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("InvokeHealthFunction"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: jsii.Strings(*fn.Function.FunctionArn()),
	}))
	suppress(smRole, "AwsSolutions-IAM5",
		"CDK's grants for execution logging and X-Ray tracing: these APIs support no resource-level permissions.", "Resource::*")

	awsevents.NewRule(stack, jsii.String("MemberHealthSchedule"), &awsevents.RuleProps{
		Description: jsii.String("guardbots: probe every bot's member role in every account (" + cfg.HealthSchedule + ")"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.HealthSchedule)),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(map[string]any{}),
			Role: awsiam.NewRole(stack, jsii.String("StartMemberHealthRole"), &awsiam.RoleProps{
				RoleName:    jsii.String(cfg.RolePrefix + "-start-member-health"),
				AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
				Description: jsii.String("guardbots: EventBridge starts the member-role health check on its schedule"),
			}),
		})},
	})

	denied := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(deployment.HealthNamespace), MetricName: jsii.String(deployment.HealthMetric),
		DimensionsMap: &map[string]*string{"State": jsii.String("denied")},
		Statistic:     jsii.String("Maximum"), Period: awscdk.Duration_Hours(jsii.Number(1)),
	})
	deniedAlarm := denied.CreateAlarm(stack, jsii.String("MemberRolesDeniedAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: a bot cannot assume its member role in some account (missing role or broken trust): see the health check's notification"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alerts.alarm(deniedAlarm)
	// A check that cannot run says nothing about the roles: that is an alarm of its own.
	failed := sm.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Hours(jsii.Number(1))})
	failedAlarm := failed.CreateAlarm(stack, jsii.String("MemberHealthFailedAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: the member-role health check failed to run"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alerts.alarm(failedAlarm)
	return nil
}

// healthWorkflowRoleName is the member-health state machine's role, "<prefix>-member-health-workflow":
// the one principal the SCP in infra/scp lets invoke the health function.
func healthWorkflowRoleName(prefix string) string { return prefix + "-member-health-workflow" }

func healthPlaceholder(b bots.Bot) string { return "probe_" + b.Name }

// healthDefinition is the member-health state machine: one Task, given the execution's input, its own
// ARN and the bot functions — from the definition, never from the input.
func healthDefinition(functions map[string]string, fn goFunction, o *Orchestrator) (string, map[string]*string, error) {
	subs := map[string]*string{"health": fn.Function.FunctionArn()}
	for bot := range functions {
		subs["probe_"+bot] = o.Functions[bot].Function.FunctionArn()
	}
	def := map[string]any{
		"Comment": "guardbots member-role health check: every bot probes its member role in every account (shared/health)",
		"StartAt": "Probe member roles",
		"States": map[string]any{
			"Probe member roles": map[string]any{
				"Type":     "Task",
				"Resource": "${health}",
				"Parameters": map[string]any{
					"input.$": "$", "execution.$": "$$.Execution.Id", "functions": functions,
				},
				"TimeoutSeconds": int(deployment.HealthTimeout.Seconds()) + 60,
				"Retry": []any{map[string]any{
					"ErrorEquals":     []string{"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"},
					"IntervalSeconds": 30, "MaxAttempts": 3, "BackoffRate": 2,
				}},
				"End": true,
			},
		},
	}
	b, err := json.Marshal(def)
	return string(b), subs, err
}

// grantCheckProbe lets a bot check a probe: the probe key's public half and the member-health
// executions.
func grantCheckProbe(role awsiam.Role, key awskms.Key) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ReadProbeKey"), Actions: jsii.Strings("kms:GetPublicKey"), Resources: jsii.Strings(*key.KeyArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ReadHealthExecutions"), Actions: jsii.Strings("states:DescribeExecution"), Resources: jsii.Strings(healthExecutionsArn()),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"Executions are created at run time: the wildcard is the execution id, under the member-health state machine's own name.",
		"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"+deployment.HealthStateMachineName+":*")
}
