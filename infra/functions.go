package main

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/deployment"
)

// goFunctionProps is one of the Go Lambdas built by `make build`, as shared/deployment describes it
// (name, timeout, memory, environment), and what the CDK app adds.
type goFunctionProps struct {
	deployment.Function
	// AssetDir holds build/<Name>/bootstrap.
	AssetDir string
	// RoleName and FunctionName fix the names, which something outside the stack must know (member
	// trust, the fence, the SCP).
	RoleName     string
	FunctionName string
	Retention    awslogs.RetentionDays
}

// goFunction is a provided.al2023/arm64 Lambda with its own role and log group. The role holds only
// what the function uses: the log group here, the rest added by the caller. No AWS-managed policy
// (AWSLambdaBasicExecutionRole grants logs:* on every log group).
type goFunction struct {
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

func newGoFunction(scope constructs.Construct, id string, p goFunctionProps) goFunction {
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention: p.Retention,
		// Logs are evidence of what a bot did: they outlive the stack.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	roleProps := &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("guardbots " + p.Name + " Lambda"),
	}
	if p.RoleName != "" {
		roleProps.RoleName = jsii.String(p.RoleName)
	}
	role := awsiam.NewRole(c, jsii.String("Role"), roleProps)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	env := map[string]*string{}
	for k, v := range p.Env {
		env[k] = jsii.String(v)
	}
	fnProps := &awslambda.FunctionProps{
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(p.AssetDir, p.Name)), nil),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON, // the handlers log JSON lines with slog
		MemorySize:    jsii.Number(p.MemoryMiB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(p.Timeout.Seconds())),
		Environment:   &env,
		Description:   jsii.String(p.Description),
	}
	if p.FunctionName != "" {
		fnProps.FunctionName = jsii.String(p.FunctionName)
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), fnProps)
	return goFunction{Function: fn, Role: role, LogGroup: logs}
}

// retentionByDays maps CloudWatch Logs' allowed retention periods to CDK's names for them.
var retentionByDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
