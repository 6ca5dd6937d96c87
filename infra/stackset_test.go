package main

import (
	"strings"
	"testing"
)

func TestStackSet_IsServiceManagedNamedIAMAutoDeployedToOUsInOneRegion(t *testing.T) {
	_, ss := only(t, stackSetStackID, "AWS::CloudFormation::StackSet")
	p := props(ss)
	checks := map[string][2]string{
		"PermissionModel":      {js(p["PermissionModel"]), `"SERVICE_MANAGED"`},
		"Capabilities":         {js(p["Capabilities"]), `["CAPABILITY_NAMED_IAM"]`},
		"AutoDeployment":       {js(p["AutoDeployment"]), `{"Enabled":true,"RetainStacksOnAccountRemoval":false}`},
		"CallAs":               {js(p["CallAs"]), `"DELEGATED_ADMIN"`},
		"ManagedExecution":     {js(p["ManagedExecution"]), `{"Active":true}`},
		"OperationPreferences": {js(p["OperationPreferences"]), `{"FailureTolerancePercentage":20,"MaxConcurrentPercentage":50,"RegionConcurrencyType":"SEQUENTIAL"}`},
		"StackInstancesGroup":  {js(p["StackInstancesGroup"]), `[{"DeploymentTargets":{"OrganizationalUnitIds":["ou-abcd-12345678","ou-abcd-87654321"]},"Regions":["eu-central-1"]}]`},
		"Parameters":           {js(p["Parameters"]), `[{"ParameterKey":"OrchestratorAccountId","ParameterValue":"111122223333"},{"ParameterKey":"ExternalId","ParameterValue":"guardbots-test-external-id"}]`},
	}
	for k, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %s, want %s", k, c[0], c[1])
		}
	}
	if p["TemplateBody"] != fixture.MemberTemplate {
		t.Error("TemplateBody is not the member template")
	}
}

func TestStackSet_MemberTemplateFitsTheTemplateBodyLimit(t *testing.T) {
	n := len(fixture.MemberTemplate)
	t.Logf("member template: %d of %d bytes for %d roles", n, maxTemplateBody, len(resources(t, memberTemplateID, "AWS::IAM::Role")))
	if n > maxTemplateBody {
		t.Fatalf("member template is %d bytes, over the %d-byte TemplateBody limit", n, maxTemplateBody)
	}
	if _, err := NewStackSetStack(nil, "x", fixtureCfg, strings.Repeat(" ", maxTemplateBody+1)); err == nil {
		t.Error("an oversized member template must fail synth")
	}
}

func TestStackSet_StackNeedsNoBootstrap(t *testing.T) {
	for _, id := range []string{stackSetStackID, memberStackID} {
		params, _ := fixtureTmpl[id]["Parameters"].(map[string]any)
		if _, ok := params["BootstrapVersion"]; ok {
			t.Errorf("%s has a BootstrapVersion parameter", id)
		}
	}
	if _, ok := fixtureTmpl[stackSetStackID]["Rules"]; ok {
		t.Error("StackSet stack has a bootstrap-version rule")
	}
}
