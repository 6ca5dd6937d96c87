package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// Member template parameters. Their defaults come from context when it is given; without it a deploy
// must supply them, so a forgotten setting fails the deploy instead of trusting the wrong account.
const (
	paramOrchestratorAccount = "OrchestratorAccountId"
	paramExternalID          = "ExternalId"
)

// memberStackProps keeps the member template deployable by StackSets: no assets, no CDK metadata, no
// bootstrap-version rule or parameter (member accounts are never bootstrapped).
func memberStackProps(description string) *awscdk.StackProps {
	return &awscdk.StackProps{
		Description:        jsii.String(description),
		AnalyticsReporting: jsii.Bool(false),
		Synthesizer:        awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
	}
}

// Descriptions of the member template: every member account's (the StackSet's), and the management
// account's own stack.
const (
	memberDescription     = "guardbots member roles: one least-privilege role per enabled bot, assumable by that bot's orchestrator Lambda only"
	managementDescription = "guardbots member roles for the organization's management account: the enabled bots less the IAM-writing ones not named in managementAccountIamBots"
)

// NewMemberStack is the flat template of a member account: one role per bot of all that calls AWS,
// with exactly that bot's actions (and the fence of an IAM-writing bot), assumable only by that bot's
// Lambda role in the orchestrator account, with the ExternalId (and from inside the organization when
// an id is configured).
func NewMemberStack(scope constructs.Construct, id string, cfg Config, all []bots.Bot, description string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), memberStackProps(description))

	account := awscdk.NewCfnParameter(stack, jsii.String(paramOrchestratorAccount), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("Account id of the guardbots orchestrator (the security / GuardDuty delegated-admin account)"),
		AllowedPattern:        jsii.String(`^\d{12}$`),
		ConstraintDescription: jsii.String("a 12-digit account id"),
	})
	if cfg.OrchestratorAccount != "" {
		account.SetDefault(jsii.String(cfg.OrchestratorAccount))
	}
	external := awscdk.NewCfnParameter(stack, jsii.String(paramExternalID), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Description: jsii.String("ExternalId the orchestrator sends with sts:AssumeRole"),
		MinLength:   jsii.Number(2),
	})
	if cfg.ExternalID != "" {
		external.SetDefault(jsii.String(cfg.ExternalID))
	}

	for _, b := range all {
		if len(b.IAMActions()) == 0 {
			continue // never assumed: the runner resolves no credentials for a bot without operations
		}
		lambdaRole, _ := lambdaRoleName(cfg.RolePrefix, b.Name) // checked when the orchestrator was built
		// Fn::Sub rather than the Fn::Join a formatted token becomes: the TemplateBody limit is 51,200 bytes.
		principalArn := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:iam::${"+paramOrchestratorAccount+"}:role/"+lambdaRole), nil)
		// Trust the orchestrator account's root narrowed by aws:PrincipalArn rather than naming the role
		// as principal: IAM turns a named principal into an unmatchable id when that role is recreated.
		onlyThatLambda := map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": principalArn}}
		assume := map[string]any{
			"ArnEquals":    map[string]any{"aws:PrincipalArn": principalArn},
			"StringEquals": map[string]any{"sts:ExternalId": external.ValueAsString()},
		}
		source := map[string]any{
			"ArnEquals":    onlyThatLambda["ArnEquals"],
			"StringEquals": map[string]any{"sts:SourceIdentity": awsenv.SourceIdentity(b.Name)},
		}
		if cfg.OrganizationID != "" {
			assume["StringEquals"].(map[string]any)["aws:PrincipalOrgID"] = cfg.OrganizationID
			source["StringEquals"].(map[string]any)["aws:PrincipalOrgID"] = cfg.OrganizationID
		}
		orchestrator := awsiam.NewArnPrincipal(awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:iam::${"+paramOrchestratorAccount+"}:root"), nil))
		statements := botStatements(b, cfg, "DeclaredActions")
		role := awsiam.NewRole(stack, jsii.String("Bot-"+b.Name), &awsiam.RoleProps{
			RoleName:    jsii.String(cfg.RolePrefix + "-" + b.Name),
			Description: jsii.String(fmt.Sprintf("guardbots bot %s (%s)", b.Name, b.Impact)),
			AssumedBy:   awsiam.NewPrincipalWithConditions(orchestrator, &assume),
			// A bot runs for seconds; awsenv asks for 15-minute sessions.
			MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
			InlinePolicies: &map[string]awsiam.PolicyDocument{
				"actions": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
			},
		})
		role.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("SourceIdentityOfThisBot"),
			Principals: &[]awsiam.IPrincipal{orchestrator},
			Actions:    jsii.Strings("sts:SetSourceIdentity"),
			Conditions: &source,
		}))
		suppress(role, "AwsSolutions-IAM5",
			"The bot acts on whichever resource a GuardDuty finding names in this account, so its exact, "+
				"declared actions (no wildcard action) apply to any resource; Describe* calls support no "+
				"resource-level permissions. Only this bot's orchestrator Lambda can assume the role.",
			"Resource::*")
	}
	return stack
}

// botStatements are what a role of bot b may do in an account: its declared IAM actions on any
// resource (sid), each action the bot narrows with a condition in a statement of its own, and, for a
// bot that writes IAM policies, the fence: an explicit Deny of every role write on guardbots' own roles
// and on the protected ones, whatever else the role is granted. The member role and the bot's Lambda
// role (which acts in the orchestrator's own account) both hold exactly these.
func botStatements(b bots.Bot, cfg Config, sid string) []awsiam.PolicyStatement {
	var plain []string
	var out []awsiam.PolicyStatement
	for _, a := range b.IAMActions() {
		if _, ok := b.ConditionOn(a); !ok {
			plain = append(plain, a)
		}
	}
	if len(plain) > 0 {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String(sid), Actions: jsii.Strings(plain...), Resources: jsii.Strings("*"),
		}))
	}
	for i, c := range b.Conditions {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(fmt.Sprintf("%sWithCondition%d", sid, i+1)),
			Actions:    jsii.Strings(c.Action),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{c.Operator: map[string]any{c.Key: c.Values}},
		}))
	}
	if deployment.WritesIAM(b) {
		var fenced []*string
		// Fn::Sub keeps the member template small (its TemplateBody limit is 51,200 bytes).
		for _, r := range deployment.FencedRoles("${AWS::Partition}", cfg.RolePrefix, cfg.ProtectedRoles) {
			fenced = append(fenced, awscdk.Fn_Sub(jsii.String(r), nil))
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(fenceSid),
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings(deployment.FencedRoleActions...),
			Resources: &fenced,
		}))
	}
	return out
}

// fenceSid names the Deny every IAM-writing bot's roles carry.
const fenceSid = "FenceGuardbotsAndProtectedRoles"

// MemberTemplate synthesizes the member stack on its own, with cdk-nag, and returns its template as
// compact JSON for a StackSet's TemplateBody. A nag error fails here, before the template is embedded.
func MemberTemplate(cfg Config, all []bots.Bot) (string, error) {
	dir, err := os.MkdirTemp("", "guardbots-member-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir:             jsii.String(dir),
		AnalyticsReporting: jsii.Bool(false),
		// After the CLI's context, so `cdk synth`'s path metadata never reaches the embedded template.
		PostCliContext: &map[string]any{"aws:cdk:enable-path-metadata": false},
	})
	NewMemberStack(app, "Member", cfg, all, memberDescription)
	checkWithNag(app)
	asm := app.Synth(nil)
	if errs := synthErrors(asm); len(errs) > 0 {
		return "", fmt.Errorf("member template fails cdk-nag:\n%s", errorList(errs))
	}
	tmpl, ok := asm.GetStackArtifact(jsii.String("Member")).Template().(map[string]any)
	if !ok {
		return "", fmt.Errorf("member template is not a JSON object")
	}
	// cdk-nag records its suppressions as resource Metadata; they have done their job by now and
	// would only spend the TemplateBody's 51,200 bytes.
	if res, ok := tmpl["Resources"].(map[string]any); ok {
		for _, r := range res {
			if r, ok := r.(map[string]any); ok {
				delete(r, "Metadata")
			}
		}
	}
	b, err := json.Marshal(tmpl)
	if err != nil {
		return "", fmt.Errorf("member template: %w", err)
	}
	return string(b), nil
}
