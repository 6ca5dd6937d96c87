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
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// lambdaEnv is the verify Lambda's environment against an in-process kumo (SSM, the mapping) and a
// GuardDuty on 127.0.0.1 that holds detail as GetFindings returns it: static test credentials, nothing
// reaches AWS.
func lambdaEnv(t *testing.T, detail []byte) *ssm.Client {
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
	return ssm.NewFromConfig(cfg)
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
	c := lambdaEnv(t, real)
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
	out, err := h.Invoke(context.Background(), mustJSON(t, matched))
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
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(env[0], env[1])
			if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), env[0]) {
				t.Errorf("%s=%s: err %v", env[0], env[1], err)
			}
		})
	}
}
