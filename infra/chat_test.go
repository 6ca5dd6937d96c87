package main

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/notify"
)

// Issue 17 §2: with the chat keys, a Slack and a Teams channel on the chat topic, every command under the
// person's own role, capped by a guardrail of exactly the buttons' actions, and the three buttons.
func TestChat_ChannelsRequireUserRolesAndCarryTheThreeButtons(t *testing.T) {
	chatID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsChat[0-9A-F]{8}$`)
	guardrailID := logicalID(t, orch, "AWS::IAM::ManagedPolicy", `^ChatGuardrail[0-9A-F]{8}$`)
	roleID := logicalID(t, orch, "AWS::IAM::Role", `^ChatChannelRole[0-9A-F]{8}$`)
	actions := resources(t, orch, "AWS::Chatbot::CustomAction")
	if len(actions) != 3 {
		t.Fatalf("%d custom actions, want Approve, Deny and Release", len(actions))
	}
	var actionArns []string
	for id := range actions {
		actionArns = append(actionArns, js(map[string]any{"Fn::GetAtt": []any{id, "CustomActionArn"}}))
	}
	for typ, want := range map[string]map[string]any{
		"AWS::Chatbot::SlackChannelConfiguration": {"SlackWorkspaceId": fixtureCfg.Chat.SlackWorkspaceID, "SlackChannelId": fixtureCfg.Chat.SlackChannelID, "ConfigurationName": "gbtest-slack"},
		"AWS::Chatbot::MicrosoftTeamsChannelConfiguration": {"TeamsTenantId": fixtureCfg.Chat.TeamsTenantID, "TeamId": fixtureCfg.Chat.TeamsTeamID,
			"TeamsChannelId": fixtureCfg.Chat.TeamsChannelID, "ConfigurationName": "gbtest-teams"},
	} {
		_, c := only(t, orch, typ)
		p := props(c)
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s %s = %v, want %v", typ, k, p[k], v)
			}
		}
		if p["UserRoleRequired"] != true || js(p["SnsTopicArns"]) != js([]any{map[string]any{"Ref": chatID}}) ||
			js(p["GuardrailPolicies"]) != js([]any{map[string]any{"Ref": guardrailID}}) || js(p["IamRoleArn"]) != js(map[string]any{"Fn::GetAtt": []any{roleID, "Arn"}}) {
			t.Errorf("%s: %s", typ, js(p))
		}
		for _, a := range actionArns {
			if !strings.Contains(js(p["CustomizationResourceArns"]), a) {
				t.Errorf("%s lacks custom action %s: %s", typ, a, js(p["CustomizationResourceArns"]))
			}
		}
	}

	// The guardrail: the buttons' three actions, nothing else.
	_, g := findResource(t, orch, guardrailID)
	sts := statements(props(g)["PolicyDocument"])
	if len(sts) != 2 || js(sts[0]["Action"]) != `["states:SendTaskSuccess","states:SendTaskFailure"]` || sts[0]["Resource"] != "*" ||
		sts[1]["Action"] != "states:StartExecution" || !strings.Contains(js(sts[1]["Resource"]), "Workflow") {
		t.Errorf("guardrail %s", js(sts))
	}
	// The channel's role: trusted by the service, holding nothing.
	_, role := findResource(t, orch, roleID)
	if !strings.Contains(js(props(role)["AssumeRolePolicyDocument"]), `"Service":"chatbot.amazonaws.com"`) || props(role)["ManagedPolicyArns"] != nil || props(role)["Policies"] != nil {
		t.Errorf("channel role %s", js(props(role)))
	}
	for id, p := range resources(t, orch, "AWS::IAM::Policy") {
		if strings.Contains(js(props(p)["Roles"]), roleID) {
			t.Errorf("policy %s grants the channel role %s", id, js(props(p)))
		}
	}

	// The buttons: each on its kind of message, reading only guardbots' variables; the region and the
	// state machine written by the deployment, not taken from the message.
	byName := map[string]map[string]any{}
	for _, a := range actions {
		byName[props(a)["ActionName"].(string)] = props(a)
	}
	for name, want := range map[string]struct {
		kind    string
		command []string
		vars    []string
	}{
		"gbtest-approve": {notify.ChatKindApproval, []string{"stepfunctions send-task-success --region ", `"Ref":"AWS::Region"`, " --task-token $taskToken --task-output '{\\\"approved\\\":true,\\\"approver\\\":\\\"chat\\\""}, []string{"taskToken"}},
		"gbtest-deny":    {notify.ChatKindApproval, []string{"stepfunctions send-task-failure --region ", " --task-token $taskToken --error Guardbots.Denied --cause denied-in-chat"}, []string{"taskToken"}},
		"gbtest-release": {notify.ChatKindRelease, []string{"stepfunctions start-execution --region ", " --state-machine-arn ", `"Ref":"Workflow`,
			`--input '{\"guardbots\":\"release\",\"findingId\":\"$findingId\",\"accountId\":\"$accountId\",\"region\":\"$findingRegion\"}'`}, []string{"findingId", "accountId", "findingRegion"}},
	} {
		a, ok := byName[name]
		if !ok {
			t.Errorf("no custom action %s (have %v)", name, byName)
			continue
		}
		cmd := js(a["Definition"])
		for _, c := range want.command {
			if !strings.Contains(cmd, c) {
				t.Errorf("%s command %s lacks %s", name, cmd, c)
			}
		}
		att := js(a["Attachments"])
		if !strings.Contains(att, `{"Operator":"EQUALS","Value":"`+want.kind+`","VariableName":"guardbotsKind"}`) || !strings.Contains(att, `"NotificationType":"Custom"`) {
			t.Errorf("%s attachment %s", name, att)
		}
		for _, v := range want.vars {
			if !strings.Contains(att, `"`+v+`":"event.metadata.additionalContext.`+v+`"`) || !strings.Contains(att, `{"Operator":"HAS_VALUE","VariableName":"`+v+`"}`) {
				t.Errorf("%s does not read %s from the message: %s", name, v, att)
			}
		}
	}
}

func TestChat_NoChannelWithoutTheKeysButTheTopicIsThere(t *testing.T) {
	d := defaultOf(orchestratorStackID)
	for _, typ := range []string{"AWS::Chatbot::SlackChannelConfiguration", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration", "AWS::Chatbot::CustomAction"} {
		if n := len(resources(t, d, typ)); n != 0 {
			t.Errorf("default build has %d %s", n, typ)
		}
	}
	logicalID(t, d, "AWS::SNS::Topic", `^NotificationsChat[0-9A-F]{8}$`)
}

func TestChat_ContextIsValidated(t *testing.T) {
	good := fixtureConfig().Chat
	if errs := good.validate(); len(errs) != 0 {
		t.Fatalf("the fixture's chat settings: %v", errs)
	}
	for name, c := range map[string]Chat{
		"slack workspace without channel": {SlackWorkspaceID: "T0123ABCD"},
		"slack channel without workspace": {SlackChannelID: "C0123"},
		"lower-case workspace":            {SlackWorkspaceID: "t0123", SlackChannelID: "C0123"},
		"channel with a space":            {SlackWorkspaceID: "T0123", SlackChannelID: "C01 23"},
		"teams without tenant":            {TeamsTeamID: good.TeamsTeamID, TeamsChannelID: good.TeamsChannelID},
		"teams channel not url-encoded":   {TeamsTenantID: good.TeamsTenantID, TeamsTeamID: good.TeamsTeamID, TeamsChannelID: "19:abc@thread.tacv2"},
		"team not a uuid":                 {TeamsTenantID: good.TeamsTenantID, TeamsTeamID: "team", TeamsChannelID: good.TeamsChannelID},
	} {
		if errs := c.validate(); len(errs) == 0 {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	// Read from context like every key.
	got := readChat(func(k string) any {
		return map[string]any{ctxChatSlackWorkspace: " T0123ABCD ", ctxChatSlackChannel: "C0456EFGH"}[k]
	}, Chat{})
	if got.SlackWorkspaceID != "T0123ABCD" || got.SlackChannelID != "C0456EFGH" || got.teams() {
		t.Errorf("read %+v", got)
	}
	if chatName("gb.test+x", "slack") != "gb-test-x-slack" {
		t.Errorf("chatName %q", chatName("gb.test+x", "slack"))
	}
}
