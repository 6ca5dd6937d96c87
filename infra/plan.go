package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/statemachine"
)

// The signed plan (shared/plan): verify signs every action with an asymmetric KMS key; the bots, and
// notify when it closes the loop, verify with its public half and ask Step Functions whether the
// execution runs on the guardbots state machine (their environment: shared/deployment). The state
// machine invokes those Lambdas, so their roles and environment cannot reference it without a
// dependency cycle: they name it by its fixed name.

// stateMachineArn is the guardbots state machine's ARN, by name.
func stateMachineArn() string { return stateMachineArnNamed(statemachine.Name) }

// executionsArn covers every execution of the guardbots state machine, and of no other.
func executionsArn() string { return executionsArnNamed(statemachine.Name) }

// stateMachineArnNamed is a state machine's ARN in this stack's account and region, by its fixed name.
func stateMachineArnNamed(name string) string {
	return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), name)
}

// executionsArnNamed covers every execution of the named state machine, and of no other.
func executionsArnNamed(name string) string {
	return fmt.Sprintf("arn:%s:states:%s:%s:execution:%s:*", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), name)
}

// How cdk-nag spells executionsArn in IAM5 findings.
const nagExecutionsArn = "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:" + statemachine.Name + ":*"

// newPlanKey is the plan-signing key. Its policy is CDK's default (the account's IAM decides) plus, by
// restrictSigning, a Deny of kms:Sign to every principal but verify's role.
func newPlanKey(scope constructs.Construct, id string) awskms.Key {
	return newSigningKey(scope, id, "guardbots: the verify step signs each action of a remediation plan; bots verify with the public key")
}

// newSigningKey is an ECC_NIST_P256 SIGN_VERIFY key. A signature older than an execution's timeout is
// refused anyway: the key outlives none of its use.
func newSigningKey(scope constructs.Construct, id, description string) awskms.Key {
	key := awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:   jsii.String(description),
		KeySpec:       awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:      awskms.KeyUsage_SIGN_VERIFY,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
	})
	suppress(key, "AwsSolutions-KMS5",
		"An asymmetric signing key (ECC_NIST_P256, SIGN_VERIFY): KMS rotates only symmetric encryption keys automatically.")
	return key
}

// restrictSigning denies kms:Sign on the key to every principal except verify's role — administrators of
// the account included, whatever their own policies allow.
func restrictSigning(key awskms.Key, verify awsiam.Role) {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyVerifySigns"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Sign"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": *verify.RoleArn()}},
	}), jsii.Bool(false))
}

// grantSign lets verify sign with the key.
func grantSign(role awsiam.Role, key awskms.Key) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SignPlans"),
		Actions:   jsii.Strings("kms:Sign"),
		Resources: jsii.Strings(*key.KeyArn()),
	}))
}

// grantCheckPlan lets a Lambda check a plan: the key's public half, and DescribeExecution on the
// guardbots state machine's executions; history adds GetExecutionHistory (the bots confirm approvals in
// it).
func grantCheckPlan(role awsiam.Role, key awskms.Key, history bool) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadPlanKey"),
		Actions:   jsii.Strings("kms:GetPublicKey"),
		Resources: jsii.Strings(*key.KeyArn()),
	}))
	actions := []string{"states:DescribeExecution"}
	if history {
		actions = append(actions, "states:GetExecutionHistory")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadOwnExecutions"),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(executionsArn()),
	}))
	suppress(role, "AwsSolutions-IAM5",
		"Executions are created at run time: the wildcard is the execution id, under the guardbots state machine's "+
			"own name; the actions are exact and read-only.", nagExecutionsArn)
}
