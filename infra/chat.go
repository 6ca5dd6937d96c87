package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awschatbot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/steps"
)

// Chat (issue 17 §2): the chat topic carries every message as a custom notification of Amazon Q
// Developer in chat applications (formerly AWS Chatbot). The optional chat* context keys create a Slack
// and/or a Microsoft Teams channel configuration subscribed to it, with three custom actions as buttons:
// Approve and Deny on an approval request call states:SendTaskSuccess / SendTaskFailure, and Release on a
// containment that can be undone starts the workflow with a release request. Every command runs under
// the clicking person's own role (UserRoleRequired), so CloudTrail records that person as the caller; the
// guardrail policy caps any role used in the channel at exactly these three actions. The channel's own
// role holds no permission. L1 constructs: the Slack L2 cannot attach custom actions
// (CustomizationResourceArns) and Teams has no L2.

// Context keys of the chat channels.
const (
	ctxChatSlackWorkspace = "chatSlackWorkspaceId"
	ctxChatSlackChannel   = "chatSlackChannelId"
	ctxChatTeamsTenant    = "chatTeamsTenantId"
	ctxChatTeamsTeam      = "chatTeamsTeamId"
	ctxChatTeamsChannel   = "chatTeamsChannelId"
)

// Chat is where the chat topic goes. Each platform is optional; both may be set.
type Chat struct {
	// SlackWorkspaceID and SlackChannelID name a Slack channel (the workspace authorized in the Amazon Q
	// Developer console first).
	SlackWorkspaceID, SlackChannelID string
	// TeamsTenantID, TeamsTeamID and TeamsChannelID name a Microsoft Teams channel (the team authorized
	// in the console first; the channel id URL-encoded, as the console shows it).
	TeamsTenantID, TeamsTeamID, TeamsChannelID string
}

func (c Chat) slack() bool { return c.SlackWorkspaceID != "" || c.SlackChannelID != "" }
func (c Chat) teams() bool {
	return c.TeamsTenantID != "" || c.TeamsTeamID != "" || c.TeamsChannelID != ""
}

func readChat(get ContextReader, c Chat) Chat {
	for key, dst := range map[string]*string{
		ctxChatSlackWorkspace: &c.SlackWorkspaceID, ctxChatSlackChannel: &c.SlackChannelID,
		ctxChatTeamsTenant: &c.TeamsTenantID, ctxChatTeamsTeam: &c.TeamsTeamID, ctxChatTeamsChannel: &c.TeamsChannelID,
	} {
		if v := get(key); v != nil && strings.TrimSpace(fmt.Sprint(v)) != "" {
			*dst = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	return c
}

// The forms the service's API reference gives (SlackChannelConfiguration, TeamsChannelConfiguration).
var (
	slackWorkspaceRE = regexp.MustCompile(`^[0-9A-Z]{1,255}$`)
	slackChannelRE   = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	uuidRE           = regexp.MustCompile(`^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$`)
	teamsChannelRE   = regexp.MustCompile(`^[a-zA-Z0-9-_=+/.,]*%3[aA][a-zA-Z0-9-_=+/.,]*%40[a-zA-Z0-9-_=+/.,]*$`)
)

func (c Chat) validate() []string {
	var errs []string
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("context %s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.slack() {
		if !slackWorkspaceRE.MatchString(c.SlackWorkspaceID) {
			bad(ctxChatSlackWorkspace, "%q is not a Slack workspace id (T…, from the Amazon Q Developer console); it and %s go together", c.SlackWorkspaceID, ctxChatSlackChannel)
		}
		if !slackChannelRE.MatchString(c.SlackChannelID) {
			bad(ctxChatSlackChannel, "%q is not a Slack channel id (C…); it and %s go together", c.SlackChannelID, ctxChatSlackWorkspace)
		}
	}
	if c.teams() {
		if !uuidRE.MatchString(c.TeamsTenantID) {
			bad(ctxChatTeamsTenant, "%q is not a Microsoft Teams tenant id (a UUID); it, %s and %s go together", c.TeamsTenantID, ctxChatTeamsTeam, ctxChatTeamsChannel)
		}
		if !uuidRE.MatchString(c.TeamsTeamID) {
			bad(ctxChatTeamsTeam, "%q is not a Microsoft Teams team id (a UUID)", c.TeamsTeamID)
		}
		if len(c.TeamsChannelID) > 255 || !teamsChannelRE.MatchString(c.TeamsChannelID) {
			bad(ctxChatTeamsChannel, "%q is not a URL-encoded Microsoft Teams channel id (19%%3a…%%40thread.tacv2)", c.TeamsChannelID)
		}
	}
	return errs
}

// Names of the chat resources: [A-Za-z0-9_-] (the service's pattern), from the role prefix.
var chatNameRE = regexp.MustCompile(`[^A-Za-z0-9_-]`)

func chatName(prefix, what string) string {
	return chatNameRE.ReplaceAllString(prefix, "-") + "-" + what
}

// chatVar is a custom action variable read from the message's additionalContext.
func chatVar(key string) *string { return jsii.String("event.metadata.additionalContext." + key) }

// chatButton attaches a custom action to the custom notifications whose guardbotsKind is kind and that
// carry every one of the variables.
func chatButton(text, kind string, vars ...string) *[]any {
	criteria := []any{&awschatbot.CfnCustomAction_CustomActionAttachmentCriteriaProperty{
		Operator: jsii.String("EQUALS"), VariableName: jsii.String(notify.ChatKeyKind), Value: jsii.String(kind),
	}}
	variables := map[string]*string{notify.ChatKeyKind: chatVar(notify.ChatKeyKind)}
	for _, v := range vars {
		criteria = append(criteria, &awschatbot.CfnCustomAction_CustomActionAttachmentCriteriaProperty{
			Operator: jsii.String("HAS_VALUE"), VariableName: jsii.String(v),
		})
		variables[v] = chatVar(v)
	}
	return &[]any{&awschatbot.CfnCustomAction_CustomActionAttachmentProperty{
		ButtonText: jsii.String(text), NotificationType: jsii.String("Custom"), Criteria: &criteria, Variables: &variables,
	}}
}

// chatCommands are the buttons' commands. The region and the state machine are the deployment's own,
// written here; the message supplies only the variables, each of a strict form (notify.ChatKey*), so a
// message cannot point a button at another state machine or add an argument. The approver in the task
// output reads "chat": who clicked is the caller CloudTrail records for SendTaskSuccess.
func chatCommands(sm awsstepfunctions.StateMachine) (approve, deny, release string) {
	region := *awscdk.Aws_REGION()
	approve = "stepfunctions send-task-success --region " + region + " --task-token $" + notify.ChatKeyTaskToken +
		` --task-output '{"approved":true,"approver":"chat","comment":"approved in chat; CloudTrail names the caller"}'`
	deny = "stepfunctions send-task-failure --region " + region + " --task-token $" + notify.ChatKeyTaskToken +
		" --error " + string(faults.Denied) + " --cause denied-in-chat"
	release = "stepfunctions start-execution --region " + region + " --state-machine-arn " + *sm.StateMachineArn() +
		` --input '{"guardbots":"` + steps.TaskRelease + `","findingId":"$` + notify.ChatKeyFindingID + `","accountId":"$` + notify.ChatKeyAccount +
		`","region":"$` + notify.ChatKeyRegion + `"}'`
	return approve, deny, release
}

// newChat creates the channel configurations the context asks for, their guardrail and custom actions.
func newChat(stack awscdk.Stack, cfg Config, alerts notifications, sm awsstepfunctions.StateMachine) {
	c := cfg.Chat
	if !c.slack() && !c.teams() {
		return
	}
	// The guardrail is the most any role may do in the channel: answer an approval, start a release.
	// SendTaskSuccess/SendTaskFailure support no resource-level permission (see the approver role).
	guardrail := awsiam.NewManagedPolicy(stack, jsii.String("ChatGuardrail"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("guardbots chat guardrail: the buttons' three actions and nothing else"),
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("AnswerApprovals"),
				Actions:   jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure"),
				Resources: jsii.Strings("*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("StartReleaseRequests"),
				Actions:   jsii.Strings("states:StartExecution"),
				Resources: jsii.Strings(*sm.StateMachineArn()),
			}),
		},
	})
	suppress(guardrail, "AwsSolutions-IAM5", "states:SendTaskSuccess and SendTaskFailure support no resource-level permissions (Service Authorization Reference); this guardrail only caps the chat users' own roles.")
	// The channel's role: required by the service, used for nothing with UserRoleRequired, so it holds
	// no permission.
	role := awsiam.NewRole(stack, jsii.String("ChatChannelRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(cfg.RolePrefix + "-chat-channel"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("chatbot.amazonaws.com"), nil),
		Description: jsii.String("guardbots chat channel role: no permissions (every command runs under the user's own role)"),
	})
	approve, deny, release := chatCommands(sm)
	action := func(id, name, text, command, kind string, vars ...string) *string {
		a := awschatbot.NewCfnCustomAction(stack, jsii.String(id), &awschatbot.CfnCustomActionProps{
			ActionName:  jsii.String(chatName(cfg.RolePrefix, name)),
			Definition:  &awschatbot.CfnCustomAction_CustomActionDefinitionProperty{CommandText: jsii.String(command)},
			Attachments: chatButton(text, kind, vars...),
		})
		return a.AttrCustomActionArn()
	}
	actions := []*string{
		action("ChatApprove", "approve", "Approve", approve, notify.ChatKindApproval, notify.ChatKeyTaskToken),
		action("ChatDeny", "deny", "Deny", deny, notify.ChatKindApproval, notify.ChatKeyTaskToken),
		action("ChatRelease", "release", "Release", release, notify.ChatKindRelease, notify.ChatKeyFindingID, notify.ChatKeyAccount, notify.ChatKeyRegion),
	}
	guardrails := []*string{guardrail.ManagedPolicyArn()}
	if c.slack() {
		topics := []any{alerts.Chat.TopicArn()}
		awschatbot.NewCfnSlackChannelConfiguration(stack, jsii.String("ChatSlack"), &awschatbot.CfnSlackChannelConfigurationProps{
			ConfigurationName:         jsii.String(chatName(cfg.RolePrefix, "slack")),
			IamRoleArn:                role.RoleArn(),
			SlackWorkspaceId:          jsii.String(c.SlackWorkspaceID),
			SlackChannelId:            jsii.String(c.SlackChannelID),
			SnsTopicArns:              &topics,
			GuardrailPolicies:         &guardrails,
			UserRoleRequired:          jsii.Bool(true),
			CustomizationResourceArns: &actions,
			LoggingLevel:              jsii.String("ERROR"),
		})
	}
	if c.teams() {
		awschatbot.NewCfnMicrosoftTeamsChannelConfiguration(stack, jsii.String("ChatTeams"), &awschatbot.CfnMicrosoftTeamsChannelConfigurationProps{
			ConfigurationName:         jsii.String(chatName(cfg.RolePrefix, "teams")),
			IamRoleArn:                role.RoleArn(),
			TeamsTenantId:             jsii.String(c.TeamsTenantID),
			TeamId:                    jsii.String(c.TeamsTeamID),
			TeamsChannelId:            jsii.String(c.TeamsChannelID),
			SnsTopicArns:              &[]*string{alerts.Chat.TopicArn()},
			GuardrailPolicies:         &guardrails,
			UserRoleRequired:          jsii.Bool(true),
			CustomizationResourceArns: &actions,
			LoggingLevel:              jsii.String("ERROR"),
		})
	}
}
