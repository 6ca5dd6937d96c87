package matchstep

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// kumoEnv points the Lambda's own configuration at an in-process kumo with static test credentials.
func kumoEnv(t *testing.T) *ssm.Client {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_ENDPOINT_URL": srv.URL, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"} {
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

func TestHandler_DecidesWithTheMappingInSSM(t *testing.T) {
	c := kumoEnv(t)
	t.Setenv(deployment.EnvMappingParameter, "/team/mapping")
	if _, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/team/mapping"), Type: ssmtypes.ParameterTypeString,
		Value: aws.String(`{"Backdoor:EC2/Spambot": "AUTO: ec2_stop_instance"}`)}); err != nil {
		t.Fatal(err)
	}
	h, err := Handler(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(steps.Transformed{Finding: &finding.Finding{ID: "f1", Type: "Backdoor:EC2/Spambot", AccountID: "111122223333",
		Region: "us-east-1", Partition: "aws", Severity: 5, ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}})
	out, err := h.Invoke(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	var got steps.Matched
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision.Outcome != mapping.Remediate || len(got.Decision.Actions) != 1 || got.Decision.Actions[0].Bot != "ec2_stop_instance" {
		t.Errorf("decision %+v", got.Decision)
	}
}

func TestHandler_BadEnvironmentFailsInitNamingTheVariable(t *testing.T) {
	for name, env := range map[string][2]string{
		"protected accounts": {deployment.EnvProtectedAccounts, "12345"},
		"allow samples":      {deployment.EnvAllowSamples, "yes please"},
		"ttl":                {deployment.EnvMappingTTL, "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			kumoEnv(t)
			t.Setenv(env[0], env[1])
			if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), env[0]) {
				t.Errorf("err = %v, want one naming %s", err, env[0])
			}
		})
	}
}
