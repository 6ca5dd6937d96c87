package verifystep

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
)

// lambdaEnv is the verify Lambda's environment against an in-process kumo (SSM, the mapping; KMS, the
// signing key) and a GuardDuty on 127.0.0.1 that holds detail as GetFindings returns it: static test
// credentials, nothing reaches AWS.
func lambdaEnv(t *testing.T, detail []byte) (*ssm.Client, *plantest.Local) {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	gd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/detector":
			_, _ = io.WriteString(w, `{"detectorIds":["det-1"]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/detector/det-1/findings/get":
			_, _ = io.WriteString(w, `{"findings":[`+string(detail)+`]}`)
		default:
			w.Header().Set("X-Amzn-Errortype", "BadRequestException")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"not served"}`)
		}
	}))
	t.Cleanup(gd.Close)
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_ENDPOINT_URL": srv.URL, "AWS_ENDPOINT_URL_GUARDDUTY": gd.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	l, err := plantest.New(t.Context(), cfg, "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(deployment.EnvSigningKey, l.KeyID)
	// The deployment names the bots it runs; these tests run with two.
	t.Setenv(deployment.EnvEnabledBots, "ec2_stop_instance,ec2_tag_instance")
	return ssm.NewFromConfig(cfg), l
}

// fixtureEvent is the project's EC2 fixture (MaliciousIPCaller.Custom, MEDIUM 5) with its detail edited.
func fixtureEvent(t *testing.T, edit func(d map[string]any)) (event, detail []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "finding", "testdata", "events", "ec2_malicious_ip_caller_custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	edit(e["detail"].(map[string]any))
	event, _ = json.Marshal(e)
	detail, _ = json.Marshal(e["detail"])
	return event, detail
}

// The Lambda as deployed: mapping and protected accounts from its environment, the same variables match
// reads, GuardDuty's copy read over HTTP, decided again.
func TestHandler_DecidesAgainOnGuardDutysCopyWithMatchsEnvironment(t *testing.T) {
	updated := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	_, real := fixtureEvent(t, func(d map[string]any) { d["severity"] = 5.0; d["updatedAt"] = updated })
	forged, _ := fixtureEvent(t, func(d map[string]any) { d["severity"] = 9.0; d["updatedAt"] = updated })
	c, _ := lambdaEnv(t, real)
	// The team's mapping: act only on HIGH and above.
	_, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/team/mapping"), Type: ssmtypes.ParameterTypeString,
		Value: aws.String(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/*", "minSeverity": 7, "actions": [{"bot": "ec2_stop_instance"}]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(deployment.EnvMappingParameter, "/team/mapping")
	t.Setenv(deployment.EnvMappingTTL, "0s")
	t.Setenv(deployment.EnvProtectedAccounts, "999988887777")
	t.Setenv(deployment.EnvMaxFindingAge, "1h")

	p, err := guardduty.Parse(forged)
	if err != nil {
		t.Fatal(err)
	}
	in, err := finding.FromGuardDuty(p)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := mapping.Parse([]byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/*", "minSeverity": 7, "actions": [{"bot": "ec2_stop_instance"}]}]}`))
	matched := steps.Matched{Finding: in, Decision: m.Match(in, mapping.MatchOptions{})}
	if matched.Decision.Outcome != mapping.Remediate {
		t.Fatalf("match on the forged input: %+v", matched.Decision)
	}

	h, err := Handler(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), mustJSON(t, Input{Matched: matched, Execution: testExecution}))
	if err != nil {
		t.Fatal(err)
	}
	var got steps.Matched
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Finding.Severity != 5 || got.Decision.Outcome != mapping.Skip || !got.Decision.Verified ||
		!strings.Contains(got.Decision.Reason, "severity 5 is below the floor 7") ||
		!strings.Contains(got.Decision.Verification, "detector det-1 in us-east-1") {
		t.Errorf("verify output: finding severity %v, decision %+v", got.Finding.Severity, got.Decision)
	}
}

func TestHandler_ConfigurationItCannotReadFailsTheInit(t *testing.T) {
	for name, env := range map[string][2]string{
		"max age":            {deployment.EnvMaxFindingAge, "six hours"},
		"negative max age":   {deployment.EnvMaxFindingAge, "-1h"},
		"protected accounts": {deployment.EnvProtectedAccounts, "12345"},
		"samples":            {deployment.EnvAllowSamples, "maybe"},
		"verify switch":      {deployment.EnvVerifyFindings, "sometimes"},
		"no signing key":     {deployment.EnvSigningKey, ""},
		"enabled bots":       {deployment.EnvEnabledBots, "ec2_stop_instance,Not A Bot"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(deployment.EnvSigningKey, "arn:aws:kms:us-east-1:111122223333:key/k")
			t.Setenv(deployment.EnvEnabledBots, "ec2_stop_instance")
			t.Setenv(env[0], env[1])
			if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), env[0]) {
				t.Errorf("%s=%s: err %v", env[0], env[1], err)
			}
		})
	}
}

// The Lambda as deployed signs each action of a remediate decision with the key in its environment (in
// kumo's KMS here), for the finding it read back and the execution the state machine named; what it was
// given claiming to be signed is not kept.
func TestHandler_SignsEveryActionOfTheRemediationItLetsThrough(t *testing.T) {
	updated := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	event, detail := fixtureEvent(t, func(d map[string]any) { d["updatedAt"] = updated })
	c, l := lambdaEnv(t, detail)
	doc := `{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/*", "actions": [{"bot": "ec2_tag_instance"}, {"bot": "ec2_stop_instance", "onError": "stop"}]}]}`
	if _, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/team/mapping-signed"), Type: ssmtypes.ParameterTypeString,
		Value: aws.String(doc), Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(deployment.EnvMappingParameter, "/team/mapping-signed")
	p, err := guardduty.Parse(event)
	if err != nil {
		t.Fatal(err)
	}
	in, err := finding.FromGuardDuty(p)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := mapping.Parse([]byte(doc))
	matched := steps.Matched{Finding: in, Decision: m.Match(in, mapping.MatchOptions{})}
	// A forged signature on the way in is dropped, never passed on.
	matched.Decision.Actions[0].Signature = &mapping.Signature{Version: 1, SignedAt: updated, Value: "Zm9yZ2Vk"}
	h, err := Handler(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	execution, err := l.Start(t.Context(), "verify-signs")
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(t.Context(), mustJSON(t, Input{Matched: matched, Execution: execution}))
	if err != nil {
		t.Fatal(err)
	}
	var got steps.Matched
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision.Outcome != mapping.Remediate || len(got.Decision.Actions) != 2 {
		t.Fatalf("decision %+v", got.Decision)
	}
	v := l.Verifier()
	for i, a := range got.Decision.Actions {
		if a.Signature == nil || a.Signature.Value == "Zm9yZ2Vk" {
			t.Fatalf("action %d: signature %+v", i, a.Signature)
		}
		err := v.Check(t.Context(), plan.Action{Finding: got.Finding, Execution: execution, Index: i, MappingKey: got.Decision.Key, Action: a})
		if err != nil {
			t.Errorf("action %d: %v", i, err)
		}
	}
	// With no execution to bind the plan to, nothing is signed and the step refuses.
	if _, err := h.Invoke(t.Context(), mustJSON(t, matched)); err == nil || !strings.Contains(err.Error(), "no execution") {
		t.Errorf("without an execution: %v", err)
	}
}

// Verify decides again with the live mapping, so it refuses the same mappings match does: one naming a
// bot the deployment does not run, or switching a destructive bot on in AUTO, fails the step (no plan is
// signed, no bot runs) naming the bot and the rule — even when match decided on an older, valid mapping.
func TestHandler_RefusesAMappingThatNamesABotNotDeployedOrADestructiveBotInAuto(t *testing.T) {
	updated := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	event, detail := fixtureEvent(t, func(d map[string]any) { d["updatedAt"] = updated })
	for name, c := range map[string]struct{ doc, want string }{
		"not deployed": {`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/*", "actions": [{"bot": "ec2_quarantine_instance"}]}]}`,
			"bot ec2_quarantine_instance is not deployed: this deployment runs ec2_stop_instance, ec2_tag_instance (CDK context enabledBots)"},
		"destructive in AUTO": {`{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "ec2_terminate_instance"}]}]}`,
			"rules[0].actions[0]: bot ec2_terminate_instance is destructive (it cannot be undone): AUTO mode is refused"},
	} {
		t.Run(name, func(t *testing.T) {
			c2, l := lambdaEnv(t, detail)
			if _, err := c2.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/team/mapping-refused"), Type: ssmtypes.ParameterTypeString,
				Value: aws.String(c.doc), Overwrite: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			t.Setenv(deployment.EnvMappingParameter, "/team/mapping-refused")
			t.Setenv(deployment.EnvMappingTTL, "0s")
			p, err := guardduty.Parse(event)
			if err != nil {
				t.Fatal(err)
			}
			in, err := finding.FromGuardDuty(p)
			if err != nil {
				t.Fatal(err)
			}
			// What match decided before the mapping was edited.
			old, _ := mapping.Parse([]byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/*", "actions": [{"bot": "ec2_stop_instance"}]}]}`))
			matched := steps.Matched{Finding: in, Decision: old.Match(in, mapping.MatchOptions{})}
			h, err := Handler(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			execution, err := l.Start(t.Context(), "verify-refuses-"+strings.ReplaceAll(name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.Invoke(t.Context(), mustJSON(t, Input{Matched: matched, Execution: execution}))
			if err == nil {
				t.Fatalf("verified and signed %s; want the mapping refused", out)
			}
			if !strings.Contains(err.Error(), c.want) || faults.Classify(err) != faults.Failed {
				t.Errorf("err = %v (%s), want %s naming %q", err, faults.Classify(err), faults.Failed, c.want)
			}
		})
	}
}
