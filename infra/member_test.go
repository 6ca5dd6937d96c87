package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
)

func TestMember_OneRolePerBotThatCallsAWSWithExactlyItsDeclaredActions(t *testing.T) {
	roles := resources(t, memberStackID, "AWS::IAM::Role")
	byName := map[string]map[string]any{}
	for _, r := range roles {
		byName[props(r)["RoleName"].(string)] = r
	}
	n := 0
	for _, b := range bots.Registered() {
		r, ok := byName[fixtureCfg.RolePrefix+"-"+b.Name]
		if len(b.IAMActions()) == 0 {
			if ok {
				t.Errorf("%s calls no AWS operation but has a member role", b.Name)
			}
			continue
		}
		n++
		if !ok {
			t.Errorf("no member role for %s", b.Name)
			continue
		}
		var got []string
		for _, p := range asSlice(props(r)["Policies"]) {
			for _, s := range statements(p.(map[string]any)["PolicyDocument"]) {
				got = append(got, strs(s["Action"])...)
			}
		}
		if !reflect.DeepEqual(sortedUnique(got), b.IAMActions()) {
			t.Errorf("%s: %v, want %v", b.Name, got, b.IAMActions())
		}
	}
	if len(roles) != n {
		t.Errorf("%d roles, want %d", len(roles), n)
	}
}

func TestMember_TrustIsTheOrchestratorRootNarrowedToTheBotLambdaWithExternalIdAndOrg(t *testing.T) {
	for _, r := range resources(t, memberStackID, "AWS::IAM::Role") {
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
	params := fixtureTmpl[memberStackID]["Parameters"].(map[string]any)
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
	// The embedded body is the member stack itself, less cdk-nag's bookkeeping.
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
	if js(own) != js(body["Resources"]) {
		t.Error("the StackSet's member template differs from the guardbots-member stack")
	}
}

// tagReads are the exemption-tag reads of the runner, one per resource kind it checks.
var tagReads = []string{"ec2:DescribeTags", "iam:ListUserTags", "iam:ListRoleTags", "s3:GetBucketTagging", "lambda:ListTags", "rds:ListTagsForResource", "cloudtrail:ListTags"}

func TestMember_RolesOfBotsThatChangeThingsMayReadTheExemptionTag(t *testing.T) {
	byName := map[string]map[string]any{}
	for _, r := range resources(t, memberStackID, "AWS::IAM::Role") {
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
				got = append(got, strs(s["Action"])...)
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
