package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// The orchestrator account's GuardDuty detectors, in every region (the finding's region picks one),
// and its Security Hub hubs. Both in this account only: the administrator's detector sees the members'
// findings, so no other account is ever read or written.
func detectorArns() string {
	return fmt.Sprintf("arn:%s:guardduty:*:%s:detector/*", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID())
}

func hubArns() string {
	return fmt.Sprintf("arn:%s:securityhub:*:%s:hub/default", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID())
}

// How cdk-nag spells those resources in IAM5 findings.
const (
	nagDetectorArns = "Resource::arn:<AWS::Partition>:guardduty:*:<AWS::AccountId>:detector/*"
	nagHubArns      = "Resource::arn:<AWS::Partition>:securityhub:*:<AWS::AccountId>:hub/default"
)

// grantPublish lets a step publish to the KMS-encrypted topic: exact actions, not kms:GenerateDataKey*.
func grantPublish(role awsiam.Role, alerts notifications) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Publish"),
		Actions:   jsii.Strings("sns:Publish"),
		Resources: jsii.Strings(*alerts.Topic.TopicArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("EncryptForTopic"),
		Actions:   jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"),
		Resources: jsii.Strings(*alerts.Key.KeyArn()),
	}))
}

// grantListDetectors adds guardduty:ListDetectors, which takes no resource (it finds the detector id
// GetFindings and the close-the-loop calls need).
func grantListDetectors(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("FindDetector"),
		Actions:   jsii.Strings("guardduty:ListDetectors"),
		Resources: jsii.Strings("*"),
	}))
}

// grantVerify lets the verify step re-read a finding from the administrator's detector.
func grantVerify(role awsiam.Role) {
	grantListDetectors(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadFindings"),
		Actions:   jsii.Strings("guardduty:GetFindings"),
		Resources: jsii.Strings(detectorArns()),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"guardduty:ListDetectors supports no resource-level permissions (the Service Authorization Reference "+
			"lists no resource type), so it needs \"*\"; it only lists detector ids. GetFindings is limited to "+
			"this account's detectors; the region is a wildcard because the finding's region picks the detector.",
		"Resource::*", nagDetectorArns)
}

// closeFindingsActions are the GuardDuty and Security Hub writes notify needs in a close-the-loop mode
// (none when off; ArchiveFindings only when archiving).
func closeFindingsActions(mode string) (guardDuty, securityHub []string) {
	switch mode {
	case verify.CloseFeedback:
		return []string{"guardduty:UpdateFindingsFeedback"}, []string{"securityhub:BatchUpdateFindings"}
	case verify.CloseArchive:
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
	grantListDetectors(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CloseGuardDutyFindings"),
		Actions:   jsii.Strings(gd...),
		Resources: jsii.Strings(detectorArns()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CloseSecurityHubFindings"),
		Actions:   jsii.Strings(sh...),
		Resources: jsii.Strings(hubArns()),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"guardduty:ListDetectors supports no resource-level permissions, so it needs \"*\" (it only lists "+
			"detector ids). The finding writes are limited to this account's GuardDuty detectors and Security "+
			"Hub hub; the region is a wildcard because the finding's region picks the detector and hub.",
		"Resource::*", nagDetectorArns, nagHubArns)
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
var railEvents = []struct{ Event, Metric, Description string }{
	{steps.EventBlastRadiusHeld, "BlastRadiusHeld",
		"guardbots: an action was held by the blast-radius limit (too many disruptive actions this hour); the execution asks for an approval (see the approval request on the topic)"},
	{steps.EventAuditFailed, "AuditWriteFailed",
		"guardbots: a bot could not write an audit record; the action is in the bot's log but not in the audit table"},
}

const metricNamespace = "guardbots"

// railFilterPattern matches one runner event in the JSON log lines slog writes.
func railFilterPattern(event string) string { return `{ $.event = "` + event + `" }` }

// newRailAlarms adds a metric filter per event to every bot log group (all feed one metric) and an
// alarm per event.
func newRailAlarms(stack awscdk.Stack, groups map[string]awslogs.LogGroup, alerts notifications) {
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
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(alerts.Topic))
	}
}
