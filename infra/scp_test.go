package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/infra/scp"
	"github.com/guardbots/guardbots/shared/deployment"
)

// The SCP a security team applies (infra/scp): the committed template parses, renders for a deployment
// within AWS Organizations' size limit, and refuses what would weaken it.
func TestSCP_ParsesAndRendersWithinTheSizeLimit(t *testing.T) {
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(scp.Template), &tmpl); err != nil {
		t.Fatalf("infra/scp/guardbots.scp.json is not JSON: %v", err)
	}
	doc, err := scp.Render(scpParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) > scp.MaxSize || strings.Contains(string(doc), "${") || !strings.Contains(string(doc), `"arn:aws:iam::`+orchAccount+`:role/gbtest-workflow"`) {
		t.Errorf("%d characters: %s", len(doc), doc)
	}
	t.Logf("the SCP is %d of %d characters", len(doc), scp.MaxSize)
	for name, p := range map[string]scp.Params{
		"no exempt-tag principal": {Partition: "aws", Prefix: "guardbots", OrchestratorAccount: orchAccount},
		// Any account's role of that name could then set the tag: a workload owner exempting their own.
		"a principal of any account": {Partition: "aws", Prefix: "guardbots", OrchestratorAccount: orchAccount, ExemptTagPrincipals: []string{"arn:aws:iam::*:role/SecOps"}},
		"no orchestrator account":    {Partition: "aws", Prefix: "guardbots", ExemptTagPrincipals: []string{"arn:aws:iam::" + orchAccount + ":role/SecOps"}},
		"a prefix with a quote":      {Partition: "aws", Prefix: `gb"`, OrchestratorAccount: orchAccount, ExemptTagPrincipals: []string{"arn:aws:iam::" + orchAccount + ":role/SecOps"}},
	} {
		if _, err := scp.Render(p); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func scpParams() scp.Params {
	return scp.Params{Partition: "aws", Prefix: fixtureCfg.RolePrefix, OrchestratorAccount: orchAccount,
		ExemptTagPrincipals: []string{"arn:aws:iam::" + orchAccount + ":role/SecurityExemptions", "arn:aws:iam::" + mgmtAccount + ":role/org/*"}}
}

// Every action and condition key of the SCP exists and applies (the Service Authorization Reference the
// IAM check uses), its syntax is an SCP's, and the offline simulator, with the SCP beside FullAWSAccess
// and principals allowed everything by their own policies, decides as infra/README.md says: only the
// workflow's role invokes the functions, nobody opens another way in, and only the named principals set
// or remove the exemption tag — each attack denied.
func TestSCP_ChecksAgainstTheReferenceAndDeniesTheAttacks(t *testing.T) {
	doc, err := scp.Render(scpParams())
	if err != nil {
		t.Fatal(err)
	}
	var policy map[string]any
	if err := json.Unmarshal(doc, &policy); err != nil {
		t.Fatal(err)
	}
	p := fixtureCfg.RolePrefix
	fn := func(name string) string {
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-%s", fixtureCfg.HomeRegion, orchAccount, p, name)
	}
	role := func(account, name string) iamPrincipal {
		return iamPrincipal{Arn: fmt.Sprintf("arn:aws:iam::%s:role/%s", account, name)}
	}
	workflow, admin := role(orchAccount, p+"-workflow"), role(orchAccount, "Administrator")
	healthWorkflow := role(orchAccount, healthWorkflowRoleName(p))
	healthLambda := role(orchAccount, p+"-lambda-"+deployment.HealthFunction)
	tagger := role(orchAccount, "SecurityExemptions")
	instance := fmt.Sprintf("arn:aws:ec2:%s:%s:instance/i-0123456789abcdef0", fixtureCfg.HomeRegion, memberAccount)
	tags := func(keys ...string) map[string]any { return map[string]any{"aws:TagKeys": keys} }
	sim := func(name string, who iamPrincipal, action, resource string, ctx map[string]any, want string) iamSim {
		return iamSim{Name: name, Principal: who, Identity: "allowAll", Action: action, Resource: resource,
			ResourcePolicy: "allowAnyone", Context: ctx, SCPs: []string{"guardbots-scp"}, Want: want}
	}
	sims := []iamSim{
		sim("the workflow invokes a bot", workflow, "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, allowed),
		sim("the workflow invokes verify", workflow, "lambda:InvokeFunction", fn("verify"), nil, allowed),
		sim("an administrator may not invoke a bot", admin, "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, denied),
		sim("an administrator may not invoke a version of verify", admin, "lambda:InvokeFunction", fn("verify")+":1", nil, denied),
		sim("an administrator may not invoke a bot asynchronously", admin, "lambda:InvokeAsync", fn("iam_revoke_role_sessions"), nil, denied),
		sim("an administrator may not invoke through a URL", admin, "lambda:InvokeFunctionUrl", fn("notify"), nil, denied),
		sim("a role of a member account may not invoke a bot", role(memberAccount, "Administrator"), "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, denied),
		sim("a workflow-named role of another account may not invoke a bot", role(memberAccount, p+"-workflow"), "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, denied),
		sim("an administrator may not add a resource policy to a bot", admin, "lambda:AddPermission", fn("ec2_stop_instance"), nil, denied),
		sim("the workflow may not add a function URL", workflow, "lambda:CreateFunctionUrlConfig", fn("notify"), nil, denied),
		// The member-role health check: its state machine invokes its function, which invokes the bots
		// with signed probes; nothing else invokes the health function.
		sim("the health workflow invokes the health check", healthWorkflow, "lambda:InvokeFunction", fn(deployment.HealthFunction), nil, allowed),
		sim("the health check invokes a bot with a probe", healthLambda, "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, allowed),
		sim("the remediation workflow may not invoke the health check", workflow, "lambda:InvokeFunction", fn(deployment.HealthFunction), nil, denied),
		sim("an administrator may not invoke the health check", admin, "lambda:InvokeFunction", fn(deployment.HealthFunction), nil, denied),
		sim("nor a version of it", admin, "lambda:InvokeFunction", fn(deployment.HealthFunction)+":1", nil, denied),
		sim("the health check may not invoke itself", healthLambda, "lambda:InvokeFunction", fn(deployment.HealthFunction), nil, denied),
		sim("a health-named role of another account may not invoke a bot", role(memberAccount, p+"-lambda-"+deployment.HealthFunction), "lambda:InvokeFunction", fn("ec2_stop_instance"), nil, denied),
		sim("other functions are not the SCP's business", admin, "lambda:InvokeFunction", fmt.Sprintf("arn:aws:lambda:%s:%s:function:payments", fixtureCfg.HomeRegion, orchAccount), nil, allowed),

		sim("a workload owner may not exempt their instance", role(memberAccount, "WorkloadOwner"), "ec2:CreateTags", instance, tags("Name", "guardbots:exempt"), denied),
		sim("nor in another case", role(memberAccount, "WorkloadOwner"), "ec2:CreateTags", instance, tags("GuardBots:Exempt"), denied),
		sim("nor remove an exemption", role(memberAccount, "WorkloadOwner"), "ec2:DeleteTags", instance, tags("guardbots:exempt"), denied),
		sim("nor exempt a role", role(memberAccount, "WorkloadOwner"), "iam:TagRole", "arn:aws:iam::"+memberAccount+":role/web-app-role", tags("guardbots:exempt"), denied),
		sim("nor create a role exempt", role(memberAccount, "WorkloadOwner"), "iam:CreateRole", "arn:aws:iam::"+memberAccount+":role/new", tags("guardbots:exempt"), denied),
		sim("nor exempt a function", role(memberAccount, "WorkloadOwner"), "lambda:TagResource", "arn:aws:lambda:eu-central-1:"+memberAccount+":function:app", tags("guardbots:exempt"), denied),
		sim("nor exempt a database", role(memberAccount, "WorkloadOwner"), "rds:AddTagsToResource", "arn:aws:rds:eu-central-1:"+memberAccount+":db:app", tags("guardbots:exempt"), denied),
		sim("nor exempt a bucket through TagResource", role(memberAccount, "WorkloadOwner"), "s3:TagResource", "arn:aws:s3:::payments", tags("guardbots:exempt"), denied),
		sim("an administrator may not exempt an instance either", admin, "ec2:CreateTags", instance, tags("guardbots:exempt"), denied),
		sim("a role of the tagger's name in another account may not", role(memberAccount, "SecurityExemptions"), "ec2:CreateTags", instance, tags("guardbots:exempt"), denied),
		sim("other tags are not the SCP's business", role(memberAccount, "WorkloadOwner"), "ec2:CreateTags", instance, tags("Name", "team"), allowed),
		sim("the named principal exempts an instance", tagger, "ec2:CreateTags", instance, tags("guardbots:exempt"), allowed),
		sim("the named principal removes an exemption", tagger, "iam:UntagRole", "arn:aws:iam::"+memberAccount+":role/web-app-role", tags("guardbots:exempt"), allowed),
		sim("a principal under the named path exempts a user", role(mgmtAccount, "org/SecOps"), "iam:TagUser", "arn:aws:iam::"+memberAccount+":user/mallory", tags("guardbots:exempt"), allowed),
		// What the SCP cannot do (infra/README.md): S3's PutBucketTagging names no tag key a condition
		// could test, so it is not covered.
		sim("PutBucketTagging is not covered", role(memberAccount, "WorkloadOwner"), "s3:PutBucketTagging", "arn:aws:s3:::payments", nil, allowed),
	}
	r := runIAMCheckWith(t, nil, []iamPolicy{{Name: "guardbots-scp", Kind: "scp", Document: policy}}, sims)
	for _, p := range r.Problems {
		t.Error(p)
	}
	if r.Statements != 4 {
		t.Errorf("%d statements checked, want the SCP's 4", r.Statements)
	}
	wantSimulations(t, r, sims)
}

// The checker must be able to refuse an SCP, or the test above proves nothing.
func TestSCP_TheCheckerRefusesABadSCP(t *testing.T) {
	bad := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "Typo", "Effect": "Deny", "Action": "lambda:InvokeFunctions", "Resource": "*"},
		map[string]any{"Sid": "WrongKey", "Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"iam:PolicyARN": "x"}}},
	}}
	r := runIAMCheckWith(t, nil, []iamPolicy{{Name: "bad", Kind: "scp", Document: bad}}, nil)
	want := []string{"lambda:InvokeFunctions does not exist", "iam:PolicyARN does not apply to ec2:CreateTags"}
	for _, w := range want {
		found := false
		for _, p := range r.Problems {
			found = found || (p.Template == "bad" && strings.Contains(p.Message, w))
		}
		if !found {
			t.Errorf("no problem %q in %v", w, r.Problems)
		}
	}
}

// The SCP names, as the principals that may invoke guardbots functions, exactly the roles the templates
// grant lambda:InvokeFunction: a role granted it that the SCP does not name would be denied at run time
// (the health check's probes were, before its roles were named), and one the SCP names that no template
// grants it would be a hole.
func TestSCP_NamesExactlyTheRolesThatInvokeFunctions(t *testing.T) {
	doc, err := scp.Render(scpParams())
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Sid       string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal(doc, &policy); err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, s := range policy.Statement {
		if s.Sid != "GuardbotsFunctionsOnlyByTheWorkflow" {
			continue
		}
		var arns []string
		if err := json.Unmarshal([]byte(js(s.Condition["ArnNotLike"]["aws:PrincipalArn"])), &arns); err != nil {
			t.Fatal(err)
		}
		for _, a := range arns {
			named[a] = true
		}
	}
	granted := map[string]bool{}
	for _, stack := range []string{orch, memberHealthStackID} {
		roleNames := map[string]string{}
		for id, r := range resources(t, stack, "AWS::IAM::Role") {
			name, _ := props(r)["RoleName"].(string)
			roleNames[id] = name
		}
		for _, p := range resources(t, stack, "AWS::IAM::Policy") {
			if !strings.Contains(js(props(p)["PolicyDocument"]), `"lambda:InvokeFunction"`) {
				continue
			}
			var refs []struct{ Ref string }
			if err := json.Unmarshal([]byte(js(props(p)["Roles"])), &refs); err != nil {
				t.Fatal(err)
			}
			for _, ref := range refs {
				if roleNames[ref.Ref] == "" {
					t.Errorf("%s: a role granted lambda:InvokeFunction has no fixed name: %s", stack, ref.Ref)
				}
				granted[fmt.Sprintf("arn:aws:iam::%s:role/%s", orchAccount, roleNames[ref.Ref])] = true
			}
		}
	}
	if js(slices.Sorted(maps.Keys(named))) != js(slices.Sorted(maps.Keys(granted))) {
		t.Errorf("the SCP lets %v invoke the functions; the templates grant it to %v", slices.Sorted(maps.Keys(named)), slices.Sorted(maps.Keys(granted)))
	}
}
