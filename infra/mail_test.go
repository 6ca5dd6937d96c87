package main

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/deployment"
)

// Issue 17 §1: email subscribers read plain text from their own topic; everything else keeps JSON.
func TestNotifications_EmailSubscribesToTheMailTopicWhichNotifyAndApprovalsPublishTo(t *testing.T) {
	mailID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsMail[0-9A-F]{8}$`)
	jsonID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsTopic[0-9A-F]{8}$`)
	chatID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsChat[0-9A-F]{8}$`)
	// notificationEmail's subscription (unfiltered) and every email route's (filtered) are on the mail
	// topic; every other route stays on the JSON topic.
	var unfiltered int
	for id, sub := range resources(t, orch, "AWS::SNS::Subscription") {
		p := props(sub)
		want := jsonID
		if p["Protocol"] == "email" {
			want = mailID
		}
		if js(p["TopicArn"]) != js(map[string]any{"Ref": want}) {
			t.Errorf("%s (%s) on %s, want %s", id, p["Protocol"], js(p["TopicArn"]), want)
		}
		if p["FilterPolicy"] == nil {
			unfiltered++
			if p["Protocol"] != "email" || p["Endpoint"] != fixtureCfg.NotificationEmail {
				t.Errorf("unfiltered subscription %s, want notificationEmail's only", js(p))
			}
		}
	}
	if unfiltered != 1 {
		t.Errorf("%d unfiltered subscriptions, want notificationEmail's", unfiltered)
	}
	for _, fn := range []string{deployment.StepNotify, deployment.StepRequestApproval} {
		vars := functionEnv(t, orch, fn)
		if js(vars[deployment.EnvMailTopicArn]) != js(map[string]any{"Ref": mailID}) {
			t.Errorf("%s: %s = %s, want the mail topic", fn, deployment.EnvMailTopicArn, js(vars[deployment.EnvMailTopicArn]))
		}
		if js(vars[deployment.EnvChatTopicArn]) != js(map[string]any{"Ref": chatID}) {
			t.Errorf("%s: %s = %s, want the chat topic", fn, deployment.EnvChatTopicArn, js(vars[deployment.EnvChatTopicArn]))
		}
		// Every topic in the one Publish statement of the function's role.
		role := functionRole(t, fn)
		found := false
		for _, p := range resources(t, orch, "AWS::IAM::Policy") {
			if !strings.Contains(js(props(p)["Roles"]), role) {
				continue
			}
			for _, s := range statements(props(p)["PolicyDocument"]) {
				if s["Sid"] == "Publish" {
					found = js(s["Resource"]) == js([]any{map[string]any{"Ref": jsonID}, map[string]any{"Ref": mailID}, map[string]any{"Ref": chatID}})
				}
			}
		}
		if !found {
			t.Errorf("%s may not publish to exactly the JSON, the mail and the chat topic", fn)
		}
	}
	if got := functionEnv(t, orch, deployment.StepNotify)[deployment.EnvAuditTable]; got == nil {
		t.Errorf("notify is not told the audit table (the mail's audit query)")
	}
}

func TestNotifications_EveryAlarmMailsAndChatsAsWellAsPublishingJSON(t *testing.T) {
	mailID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsMail[0-9A-F]{8}$`)
	chatID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsChat[0-9A-F]{8}$`)
	jsonID := logicalID(t, orch, "AWS::SNS::Topic", `^NotificationsTopic[0-9A-F]{8}$`)
	alarms := resources(t, orch, "AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for id, a := range alarms {
		acts := js(props(a)["AlarmActions"])
		if !strings.Contains(acts, `"Ref":"`+mailID+`"`) || !strings.Contains(acts, `"Ref":"`+jsonID+`"`) || !strings.Contains(acts, `"Ref":"`+chatID+`"`) {
			t.Errorf("alarm %s actions %s: want every topic", id, acts)
		}
	}
}
