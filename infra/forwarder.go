package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NewForwarderStack sends a region's GuardDuty findings to the home region's default event bus, where
// the orchestrator's rule picks them up (forwarded events keep their source and detail-type). region ""
// makes a region-agnostic template. GuardDuty's delegated administrator is set per region, so each
// forwarded region needs it too.
func NewForwarderStack(scope constructs.Construct, id string, cfg Config, region string) awscdk.Stack {
	props := &awscdk.StackProps{
		Description: jsii.String(fmt.Sprintf("guardbots: forward GuardDuty findings to %s", cfg.HomeRegion)),
		// No assets: deployable in every region without bootstrapping it.
		Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
	}
	if region != "" {
		props.Env = &awscdk.Environment{Region: jsii.String(region)}
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)

	// Deployed in the home region, the rule would send the bus's findings back to itself.
	awscdk.NewCfnRule(stack, jsii.String("NotInHomeRegion"), &awscdk.CfnRuleProps{
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(awscdk.Aws_REGION(), jsii.String(cfg.HomeRegion))),
			AssertDescription: jsii.String("The forwarder belongs in the other regions, not in the home region " + cfg.HomeRegion),
		}},
	})

	busArn := fmt.Sprintf("arn:%s:events:%s:%s:event-bus/default", *awscdk.Aws_PARTITION(), cfg.HomeRegion, *awscdk.Aws_ACCOUNT_ID())
	bus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("HomeBus"), jsii.String(busArn))
	// Only EventBridge acting for this account's rules: aws:SourceAccount keeps another account's rule
	// from using the role (the confused-deputy problem).
	eventBridge := awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), &awsiam.ServicePrincipalOpts{
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	})
	// Named "<prefix>-…" like every guardbots role, so the IAM-writing bots' fence covers it; one per
	// region (IAM is global).
	role := awsiam.NewRole(stack, jsii.String("ForwardRole"), &awsiam.RoleProps{
		RoleName:    awscdk.Fn_Sub(jsii.String(cfg.RolePrefix+"-forwarder-${AWS::Region}"), nil),
		AssumedBy:   eventBridge,
		Description: jsii.String("guardbots: EventBridge puts GuardDuty findings on the home region's default bus"),
	})
	// The EventBus target grants this role events:PutEvents on the home bus, and nothing else.
	awsevents.NewRule(stack, jsii.String("ForwardGuardDutyFindings"), &awsevents.RuleProps{
		Description:  jsii.String("guardbots: forward GuardDuty findings to the home region " + cfg.HomeRegion),
		EventPattern: guardDutyPattern(cfg.SeverityFloor),
		Targets:      &[]awsevents.IRuleTarget{awseventstargets.NewEventBus(bus, &awseventstargets.EventBusProps{Role: role})},
	})
	return stack
}
