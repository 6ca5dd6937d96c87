package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/deployment"
)

// The orchestrator account's Security Hub hubs, in every region (the finding's region picks one): the
// administrator's hub holds the members' findings, so no other account is ever written.
func hubArns() string {
	return fmt.Sprintf("arn:%s:securityhub:*:%s:hub/default", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID())
}

// How cdk-nag spells the hubs in IAM5 findings.
const nagHubArns = "Resource::arn:<AWS::Partition>:securityhub:*:<AWS::AccountId>:hub/default"

// grantPublish lets a step publish to the KMS-encrypted topic: exact actions, not kms:GenerateDataKey*.
func grantPublish(role awsiam.Role, alerts notifications) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Publish"),
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(alerts.Arns()...),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("EncryptForTopic"),
		Actions:   jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
		Resources: jsii.Strings(*alerts.Key.KeyArn()),
	}))
}

// grantReadMapping lets a step read the mapping parameter, and only it. The parameter is a plain String
// (SecureString cannot be created by CloudFormation), so no KMS grant goes with it.
func grantReadMapping(role awsiam.Role, param awsssm.StringParameter) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadMapping"),
		Actions:   jsii.Strings("ssm:GetParameter"),
		Resources: jsii.Strings(*param.ParameterArn()),
	}))
}

// GuardDuty's finding APIs list no resource type in the Service Authorization Reference: a statement
// naming detector ARNs grants nothing for them, so they take "*" (and no condition key narrows them).
// An identity policy reaches this account's detectors only, and the administrator's detector is the one
// that sees the members' findings.
const guardDutyStarReason = "guardduty:ListDetectors, GetFindings, UpdateFindingsFeedback and ArchiveFindings " +
	"support no resource-level permissions (the Service Authorization Reference lists no resource type for them), " +
	"so AWS evaluates them only against \"*\"; a statement naming detector ARNs would grant nothing. An identity " +
	"policy reaches only this account's detectors."

// grantVerify lets the verify step find the detector and re-read a finding from it, and re-make the
// mapping decision on GuardDuty's copy.
func grantVerify(role awsiam.Role, param awsssm.StringParameter) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadFindings"),
		Actions:   jsii.Strings("guardduty:ListDetectors", "guardduty:GetFindings"),
		Resources: jsii.Strings("*"),
	}))
	grantReadMapping(role, param)
	suppress(role, "AwsSolutions-IAM5", guardDutyStarReason, "Resource::*")
}

// grantPlanCleanup lets verify read the deny records it plans the scheduled clean-up of expired IAM denies
// from: a Scan of the state table, nothing else of it (the bots, not verify, delete the records).
func grantPlanCleanup(role awsiam.Role, table awsdynamodb.Table) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadDenyRecords"),
		Actions:   jsii.Strings("dynamodb:Scan"),
		Resources: jsii.Strings(*table.TableArn()),
	}))
}

// closeFindingsActions are the GuardDuty and Security Hub writes notify needs in a close-the-loop mode
// (none when off; ArchiveFindings only when archiving).
func closeFindingsActions(mode string) (guardDuty, securityHub []string) {
	switch mode {
	case deployment.CloseFeedback:
		return []string{"guardduty:UpdateFindingsFeedback"}, []string{"securityhub:BatchUpdateFindings"}
	case deployment.CloseArchive:
		return []string{"guardduty:UpdateFindingsFeedback", "guardduty:ArchiveFindings"}, []string{"securityhub:BatchUpdateFindings"}
	}
	return nil, nil
}

// grantCloseFindings lets notify record a remediation on the finding when closeFindings is enabled.
func grantCloseFindings(role awsiam.Role, mode string) {
	gd, sh := closeFindingsActions(mode)
	if len(gd) == 0 {
		return
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CloseGuardDutyFindings"),
		Actions:   jsii.Strings(append([]string{"guardduty:ListDetectors"}, gd...)...),
		Resources: jsii.Strings("*"),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CloseSecurityHubFindings"),
		Actions:   jsii.Strings(sh...),
		Resources: jsii.Strings(hubArns()),
	}))
	suppress(role, "AwsSolutions-IAM5",
		guardDutyStarReason+" securityhub:BatchUpdateFindings is limited to this account's hub; the region is a "+
			"wildcard because the finding's region picks the hub.",
		"Resource::*", nagHubArns)
}

// newApproverRole is the role an approver assumes to answer an approval request. With context
// approverPrincipalArn only that principal may assume it; without, any principal of this account that
// signed in with MFA and whose own policies allow sts:AssumeRole on it (the account's IAM decides who).
func newApproverRole(scope constructs.Construct, id string, cfg Config) awsiam.Role {
	var who awsiam.IPrincipal
	if cfg.ApproverPrincipalArn != "" {
		who = awsiam.NewArnPrincipal(jsii.String(cfg.ApproverPrincipalArn))
	} else {
		who = awsiam.NewPrincipalWithConditions(awsiam.NewAccountRootPrincipal(), &map[string]any{
			"Bool": map[string]any{"aws:MultiFactorAuthPresent": "true"},
		})
	}
	role := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		RoleName:           jsii.String(cfg.RolePrefix + "-approver"),
		Description:        jsii.String("guardbots approver: answers APPROVE actions with states:SendTaskSuccess / SendTaskFailure"),
		AssumedBy:          who,
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AnswerApprovals"),
		Actions:   jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure"),
		Resources: jsii.Strings("*"),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"states:SendTaskSuccess and SendTaskFailure support no resource-level permissions (the Service "+
			"Authorization Reference lists no resource type for them), so AWS requires Resource \"*\"; the "+
			"unguessable task token in the approval message names the one waiting task. Two exact actions, "+
			"no others. To make this the only role that can answer, deny both actions to every other principal "+
			"with an SCP (aws:PrincipalArn not equal to this role).",
		"Resource::*")
	return role
}

// Log events of the bot runner that need a person: each becomes a metric over all bot log groups and an
// alarm on the topic.
var railEvents = []struct {
	Event, Metric, Description string
	// Notify: notify logs it too (closing the loop checks the plan).
	Notify bool
}{
	{deployment.EventBlastRadiusHeld, "BlastRadiusHeld",
		"guardbots: an action was held by the blast-radius limit (too many disruptive actions in the last hour); the execution asks for an approval (see the approval request on the topic)", false},
	{deployment.EventAuditFailed, "AuditWriteFailed",
		"guardbots: a bot could not write an audit record; the action is in the bot's log but not in the audit table", false},
	{deployment.EventPlanRejected, "PlanRejected",
		"guardbots: a bot (or notify closing the loop) refused an input the workflow did not sign, an execution that is not running or an approval its history does not show: a direct invoke of a guardbots Lambda? (the log says what was refused)", true},
}

const metricNamespace = "guardbots"

// railFilterPattern matches one runner event in the JSON log lines slog writes.
func railFilterPattern(event string) string { return `{ $.event = "` + event + `" }` }

// newRailAlarms adds a metric filter per event to every bot log group (all feed one metric), and to
// notify's when it logs the event too (notify: nil when it does not check plans), and an alarm per event.
func newRailAlarms(stack awscdk.Stack, groups map[string]awslogs.LogGroup, notify awslogs.LogGroup, alerts notifications) {
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, e := range railEvents {
		for _, n := range names {
			awslogs.NewMetricFilter(stack, jsii.String("Bot-"+n+"-"+e.Metric), &awslogs.MetricFilterProps{
				LogGroup:        groups[n],
				FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(railFilterPattern(e.Event))),
				MetricNamespace: jsii.String(metricNamespace),
				MetricName:      jsii.String(e.Metric),
				MetricValue:     jsii.String("1"),
			})
		}
		if e.Notify && notify != nil {
			awslogs.NewMetricFilter(stack, jsii.String("Step-notify-"+e.Metric), &awslogs.MetricFilterProps{
				LogGroup:        notify,
				FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(railFilterPattern(e.Event))),
				MetricNamespace: jsii.String(metricNamespace),
				MetricName:      jsii.String(e.Metric),
				MetricValue:     jsii.String("1"),
			})
		}
		metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(metricNamespace),
			MetricName: jsii.String(e.Metric),
			Statistic:  jsii.String("Sum"),
			Period:     awscdk.Duration_Minutes(jsii.Number(5)),
		})
		alarm := metric.CreateAlarm(stack, jsii.String(e.Metric+"Alarm"), &awscloudwatch.CreateAlarmOptions{
			AlarmDescription:   jsii.String(e.Description),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			// No events is the normal state.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		alerts.alarm(alarm)
	}
}
