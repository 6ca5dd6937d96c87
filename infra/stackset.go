package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudformation"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// maxTemplateBody is CloudFormation's limit on an inline TemplateBody.
const maxTemplateBody = 51200

// NewStackSetStack rolls the member template out to the organization from the management account (or
// a StackSets delegated administrator). Service-managed StackSets never deploy to the management
// account itself: deploy guardbots-member there directly.
func NewStackSetStack(scope constructs.Construct, id string, cfg Config, memberTemplate string) (awscdk.Stack, error) {
	if len(memberTemplate) > maxTemplateBody {
		return nil, fmt.Errorf("member template is %d bytes, over CloudFormation's %d-byte TemplateBody limit", len(memberTemplate), maxTemplateBody)
	}
	// No assets either: deployable with the CLI's credentials, without bootstrapping this account.
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Description: jsii.String("guardbots member roles, rolled out to the organization by a service-managed StackSet"),
		Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
		Env:         &awscdk.Environment{Region: jsii.String(cfg.HomeRegion)},
	})
	var params []any
	if cfg.OrchestratorAccount != "" {
		params = append(params, &awscloudformation.CfnStackSet_ParameterProperty{
			ParameterKey: jsii.String(paramOrchestratorAccount), ParameterValue: jsii.String(cfg.OrchestratorAccount)})
	}
	if cfg.ExternalID != "" {
		params = append(params, &awscloudformation.CfnStackSet_ParameterProperty{
			ParameterKey: jsii.String(paramExternalID), ParameterValue: jsii.String(cfg.ExternalID)})
	}
	props := &awscloudformation.CfnStackSetProps{
		StackSetName:    jsii.String(cfg.RolePrefix + "-member-roles"),
		Description:     jsii.String("guardbots: one least-privilege role per bot in every member account"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		// Role names are fixed (the orchestrator builds their ARNs), hence NAMED_IAM.
		Capabilities: jsii.Strings("CAPABILITY_NAMED_IAM"),
		AutoDeployment: &awscloudformation.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		CallAs: jsii.String(cfg.StackSetCallAs),
		// A JSON-typed property: jsii passes it through as written, so the key must be CloudFormation's.
		ManagedExecution: map[string]any{"Active": true},
		OperationPreferences: &awscloudformation.CfnStackSet_OperationPreferencesProperty{
			FailureTolerancePercentage: jsii.Number(float64(cfg.StackSetFailureTolerance)),
			MaxConcurrentPercentage:    jsii.Number(float64(cfg.StackSetMaxConcurrent)),
			RegionConcurrencyType:      jsii.String("SEQUENTIAL"),
		},
		TemplateBody: jsii.String(memberTemplate),
	}
	if len(params) > 0 {
		props.Parameters = params
	}
	if len(cfg.OrganizationalUnits) > 0 {
		props.StackInstancesGroup = []any{&awscloudformation.CfnStackSet_StackInstancesProperty{
			DeploymentTargets: &awscloudformation.CfnStackSet_DeploymentTargetsProperty{
				OrganizationalUnitIds: jsii.Strings(cfg.OrganizationalUnits...),
			},
			// One region only: IAM is global, and the same role names in a second region would collide.
			Regions: jsii.Strings(cfg.HomeRegion),
		}}
	}
	awscloudformation.NewCfnStackSet(stack, jsii.String("MemberRoles"), props)
	return stack, nil
}
