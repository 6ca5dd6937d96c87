package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// enabledIn are the bots a build enables: every bot in the every-key build, the default mapping's in
// the other.
func enabledIn(stack string) []bots.Bot {
	if strings.HasPrefix(stack, "default:") {
		return deployment.Bots(defaultFixture.Config.Settings)
	}
	return deployment.Bots(fixture.Config.Settings)
}

// memberRoles maps each role of a member template to its policy statements, by role name.
func memberRoles(t *testing.T, stack string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, r := range resources(t, stack, "AWS::IAM::Role") {
		name := props(r)["RoleName"].(string)
		out[name] = []map[string]any{}
		for _, p := range asSlice(props(r)["Policies"]) {
			out[name] = append(out[name], statements(p.(map[string]any)["PolicyDocument"])...)
		}
	}
	return out
}

func allowedActions(sts []map[string]any) []string {
	var out []string
	for _, s := range sts {
		if s["Effect"] == "Allow" {
			out = append(out, strs(s["Action"])...)
		}
	}
	return sortedUnique(out)
}

// Every member account (the StackSet's template): one role per enabled bot that calls AWS, allowed
// exactly its declared actions; in the no-context build, only the bots the default mapping names.
func TestMember_OneRolePerEnabledBotThatCallsAWSWithExactlyItsDeclaredActions(t *testing.T) {
	for _, stack := range []string{memberTemplateID, defaultOf(memberTemplateID)} {
		roles := memberRoles(t, stack)
		n := 0
		for _, b := range enabledIn(stack) {
			sts, ok := roles[prefixOf(stack)+"-"+b.Name]
			if len(b.IAMActions()) == 0 {
				if ok {
					t.Errorf("%s: %s calls no AWS operation but has a member role", stack, b.Name)
				}
				continue
			}
			n++
			if !ok {
				t.Errorf("%s: no member role for %s", stack, b.Name)
				continue
			}
			if got := allowedActions(sts); !reflect.DeepEqual(got, b.IAMActions()) {
				t.Errorf("%s: %s: %v, want %v", stack, b.Name, got, b.IAMActions())
			}
		}
		if len(roles) != n {
			t.Errorf("%s: %d roles, want %d", stack, len(roles), n)
		}
	}
	// The default mapping does not name every bot: a bot it does not name has no role anywhere.
	if len(enabledIn(defaultOf(memberTemplateID))) >= len(bots.Registered()) {
		t.Fatal("the default build enables every bot: the test proves nothing")
	}
	for _, b := range bots.Registered() {
		if slices.ContainsFunc(enabledIn(defaultOf(orch)), func(e bots.Bot) bool { return e.Name == b.Name }) {
			continue
		}
		if _, ok := memberRoles(t, defaultOf(memberTemplateID))["guardbots-"+b.Name]; ok {
			t.Errorf("%s is not enabled but has a member role", b.Name)
		}
		for id := range resources(t, defaultOf(orch), "AWS::Lambda::Function") {
			if strings.HasPrefix(id, "Bot"+strings.ReplaceAll(b.Name, "_", "")+"Function") {
				t.Errorf("%s is not enabled but has a Lambda", b.Name)
			}
		}
		for _, r := range resources(t, defaultOf(orch), "AWS::IAM::Role") {
			if name, _ := lambdaRoleName("guardbots", b.Name); props(r)["RoleName"] == name {
				t.Errorf("%s is not enabled but has a Lambda role", b.Name)
			}
		}
	}
}

// prefixOf is the role prefix of a build.
func prefixOf(stack string) string {
	if strings.HasPrefix(stack, "default:") {
		return DefaultConfig().RolePrefix
	}
	return fixtureCfg.RolePrefix
}

// An IAM-writing bot's member role, and only such a role, carries the fence: a Deny of every role write on
// the deployment's own roles and the protected ones, at any path.
func TestMember_IAMWritingBotsAreFencedOffGuardbotsAndProtectedRoles(t *testing.T) {
	for _, stack := range []string{memberTemplateID, defaultOf(memberTemplateID), memberStackID} {
		for name, sts := range memberRoles(t, stack) {
			b, _ := bots.Lookup(strings.TrimPrefix(name, prefixOf(stack)+"-"))
			var fence map[string]any
			for _, s := range sts {
				if s["Effect"] == "Deny" {
					fence = s
				}
			}
			if !deployment.WritesIAM(b) {
				if fence != nil {
					t.Errorf("%s: %s writes no IAM policy but carries %s", stack, name, js(fence))
				}
				continue
			}
			if fence == nil || fence["Sid"] != fenceSid || !reflect.DeepEqual(strs(fence["Action"]), deployment.FencedRoleActions) {
				t.Errorf("%s: %s: fence %s", stack, name, js(fence))
				continue
			}
			cfg := fixtureCfg
			if strings.HasPrefix(stack, "default:") {
				cfg = DefaultConfig()
			}
			var want []string
			for _, r := range deployment.FencedRoles("${AWS::Partition}", cfg.RolePrefix, cfg.ProtectedRoles) {
				want = append(want, `{"Fn::Sub":"`+r+`"}`)
			}
			var got []string
			for _, r := range asSlice(fence["Resource"]) {
				got = append(got, js(r))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s fences %v\nwant %v", stack, name, got, want)
			}
		}
	}
}

func TestMember_TrustIsTheOrchestratorRootNarrowedToTheBotLambdaWithExternalIdAndOrg(t *testing.T) {
	for _, r := range resources(t, memberTemplateID, "AWS::IAM::Role") {
		name := props(r)["RoleName"].(string)
		bot := strings.TrimPrefix(name, fixtureCfg.RolePrefix+"-")
		lambdaRole, _ := lambdaRoleName(fixtureCfg.RolePrefix, bot)
		principalArn := `{"Fn::Sub":"arn:${AWS::Partition}:iam::${OrchestratorAccountId}:role/` + lambdaRole + `"}`
		root := `{"AWS":{"Fn::Sub":"arn:${AWS::Partition}:iam::${OrchestratorAccountId}:root"}}`
		st := statements(props(r)["AssumeRolePolicyDocument"])
		if len(st) != 2 {
			t.Fatalf("%s: %d trust statements, want AssumeRole and SetSourceIdentity", name, len(st))
		}
		for _, s := range st {
			cond := s["Condition"].(map[string]any)
			if js(s["Principal"]) != root || s["Effect"] != "Allow" {
				t.Errorf("%s: principal %s", name, js(s["Principal"]))
			}
			if js(cond["ArnEquals"]) != `{"aws:PrincipalArn":`+principalArn+`}` {
				t.Errorf("%s: ArnEquals %s, want %s", name, js(cond["ArnEquals"]), principalArn)
			}
			eq := cond["StringEquals"].(map[string]any)
			if eq["aws:PrincipalOrgID"] != fixtureCfg.OrganizationID {
				t.Errorf("%s: no aws:PrincipalOrgID condition", name)
			}
			switch strs(s["Action"])[0] {
			case "sts:AssumeRole":
				if js(eq["sts:ExternalId"]) != `{"Ref":"ExternalId"}` {
					t.Errorf("%s: ExternalId condition %s", name, js(eq))
				}
			case "sts:SetSourceIdentity":
				if eq["sts:SourceIdentity"] != awsenv.SourceIdentity(bot) {
					t.Errorf("%s: source identity %v, want %s", name, eq["sts:SourceIdentity"], awsenv.SourceIdentity(bot))
				}
			default:
				t.Errorf("%s: trust allows %v", name, s["Action"])
			}
		}
	}
	params := fixtureTmpl[memberTemplateID]["Parameters"].(map[string]any)
	if params[paramOrchestratorAccount].(map[string]any)["Default"] != fixtureCfg.OrchestratorAccount ||
		params[paramExternalID].(map[string]any)["Default"] != fixtureCfg.ExternalID {
		t.Errorf("parameters %s, want the context's account and ExternalId as defaults", js(params))
	}
}

func TestMember_TemplateIsFlatWithNoCDKMetadataOrBootstrapCheck(t *testing.T) {
	var body map[string]any
	if err := json.Unmarshal([]byte(fixture.MemberTemplate), &body); err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range []map[string]any{body, fixtureTmpl[memberStackID]} {
		if _, ok := tmpl["Rules"]; ok {
			t.Errorf("template has Rules (the bootstrap-version check): %s", js(tmpl["Rules"]))
		}
		for name := range tmpl["Parameters"].(map[string]any) {
			if name != paramOrchestratorAccount && name != paramExternalID {
				t.Errorf("unexpected parameter %s", name)
			}
		}
		for id, r := range tmpl["Resources"].(map[string]any) {
			if typ := r.(map[string]any)["Type"]; typ != "AWS::IAM::Role" {
				t.Errorf("resource %s is a %v; the member template holds roles only (no nested stacks, metadata or assets)", id, typ)
			}
		}
	}
	for id, r := range body["Resources"].(map[string]any) {
		if _, ok := r.(map[string]any)["Metadata"]; ok {
			t.Errorf("embedded resource %s carries Metadata", id)
		}
	}
	// The management account's stack is the same template less the IAM-writing bots it does not name
	// again (managementAccountIamBots), and less cdk-nag's bookkeeping.
	own := map[string]any{}
	for id, r := range fixtureTmpl[memberStackID]["Resources"].(map[string]any) {
		c := map[string]any{}
		for k, v := range r.(map[string]any) {
			if k != "Metadata" {
				c[k] = v
			}
		}
		own[id] = c
	}
	want := map[string]any{}
	var left []string
	for id, r := range body["Resources"].(map[string]any) {
		name := props(r.(map[string]any))["RoleName"].(string)
		b, _ := bots.Lookup(strings.TrimPrefix(name, fixtureCfg.RolePrefix+"-"))
		if deployment.WritesIAM(b) && !slices.Contains(fixtureCfg.ManagementAccountIAMBots, b.Name) {
			left = append(left, b.Name)
			continue
		}
		want[id] = r
	}
	if js(own) != js(want) {
		t.Error("the management account's member stack is not the StackSet's member template less the IAM-writing bots it does not name")
	}
	slices.Sort(left)
	if want := []string{"iam_deny_session", "iam_deny_source_ip", "iam_quarantine_user", "iam_undo_deny_session", "iam_undo_deny_source_ip"}; !slices.Equal(left, want) {
		t.Errorf("left out of the management account: %v, want %v (iam_revoke_role_sessions is named again)", left, want)
	}
	if d := fixtureTmpl[memberStackID]["Description"]; d != managementDescription {
		t.Errorf("management stack description %v", d)
	}
}

// tagReads are the exemption-tag reads of the runner, one per resource kind it checks.
var tagReads = []string{"ec2:DescribeTags", "iam:ListUserTags", "iam:ListRoleTags", "s3:GetBucketTagging", "lambda:ListTags", "rds:ListTagsForResource", "cloudtrail:ListTags"}

func TestMember_RolesOfBotsThatChangeThingsMayReadTheExemptionTag(t *testing.T) {
	byName := map[string]map[string]any{}
	for _, r := range resources(t, memberTemplateID, "AWS::IAM::Role") {
		byName[props(r)["RoleName"].(string)] = r
	}
	for _, b := range bots.Registered() {
		if !b.ChecksExemption() {
			continue
		}
		r, ok := byName[fixtureCfg.RolePrefix+"-"+b.Name]
		if !ok {
			t.Errorf("%s changes resources but has no member role", b.Name)
			continue
		}
		var got []string
		for _, p := range asSlice(props(r)["Policies"]) {
			for _, s := range statements(p.(map[string]any)["PolicyDocument"]) {
				if s["Effect"] == "Allow" {
					got = append(got, strs(s["Action"])...)
				}
			}
		}
		reads := 0
		for _, a := range got {
			if slices.Contains(tagReads, a) {
				reads++
			}
		}
		for _, op := range b.ExemptionOperations {
			actions, _ := bots.OperationActions(op)
			for _, a := range actions {
				if !slices.Contains(got, a) {
					t.Errorf("%s: member role lacks %s (exemption check %s)", b.Name, a, op)
				}
			}
		}
		if reads == 0 {
			t.Errorf("%s: member role may read no exemption tag: %v", b.Name, got)
		}
	}
}
