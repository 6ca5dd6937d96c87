package main

import (
	"strings"
	"testing"
)

func TestForwarder_SendsFindingsToTheHomeRegionsDefaultBusWithItsOwnRole(t *testing.T) {
	if len(fixture.Forwarders) != len(fixtureCfg.OtherRegions) {
		t.Fatalf("%d forwarders, want one per other region", len(fixture.Forwarders))
	}
	for _, region := range fixtureCfg.OtherRegions {
		id := forwarderStackID + "-" + region
		if got := *fixture.Forwarders[id].Region(); got != region {
			t.Errorf("%s deploys to %s", id, got)
		}
		_, rule := only(t, id, "AWS::Events::Rule")
		p := props(rule)
		if js(p["EventPattern"]) != js(map[string]any{"detail": map[string]any{"severity": []any{map[string]any{"numeric": []any{">=", fixtureCfg.SeverityFloor}}}}, "detail-type": []string{"GuardDuty Finding"}, "source": []string{"aws.guardduty"}}) {
			t.Errorf("%s pattern %s", id, js(p["EventPattern"]))
		}
		targets := asSlice(p["Targets"])
		if len(targets) != 1 {
			t.Fatalf("%s: %d targets", id, len(targets))
		}
		target := js(targets[0])
		bus := `:events:` + fixtureCfg.HomeRegion + `:",{"Ref":"AWS::AccountId"},":event-bus/default"`
		if !strings.Contains(target, bus) || !strings.Contains(target, `"RoleArn":{"Fn::GetAtt":["ForwardRole`) {
			t.Errorf("%s target %s", id, target)
		}
		roleID, role := only(t, id, "AWS::IAM::Role")
		// Only EventBridge acting for this account's rules (the confused-deputy guard).
		trust := statements(props(role)["AssumeRolePolicyDocument"])
		if len(trust) != 1 || js(trust[0]["Principal"]) != `{"Service":"events.amazonaws.com"}` ||
			js(trust[0]["Condition"]) != `{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}}` {
			t.Errorf("%s: trust %s, want EventBridge with aws:SourceAccount this account", id, js(trust))
		}
		if got := rolePolicyActions(t, id)[roleID]; len(got) != 1 || got[0] != "events:PutEvents" {
			t.Errorf("%s: role allows %v", id, got)
		}
		if !strings.Contains(js(fixtureTmpl[id]["Rules"]), `"Fn::Not":[{"Fn::Equals":[{"Ref":"AWS::Region"},"`+fixtureCfg.HomeRegion+`"]}]`) {
			t.Errorf("%s: no rule keeping it out of the home region", id)
		}
	}
}
