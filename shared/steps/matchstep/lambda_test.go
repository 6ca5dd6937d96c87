package matchstep

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
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
	// The deployment names the bots it runs; these tests run with two.
	t.Setenv(deployment.EnvEnabledBots, "ec2_stop_instance,ec2_tag_instance")
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
		"enabled bots":       {deployment.EnvEnabledBots, "ec2_stop_instance,Not A Bot"},
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

func TestHandler_WithoutTheDeploymentsBotsDoesNotStart(t *testing.T) {
	kumoEnv(t)
	os.Unsetenv(deployment.EnvEnabledBots)
	if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), deployment.EnvEnabledBots) {
		t.Errorf("err = %v, want one naming %s", err, deployment.EnvEnabledBots)
	}
}

// The attacks on the SSM mapping, each written by whoever can put the parameter: a bot the deployment
// does not run, and a destructive bot switched on for every finding in AUTO. Match fails closed
// (Guardbots.Failed: the execution fails and is notified), naming the bot, the rule and, for the first,
// the context key that enables it; no decision is made.
func TestHandler_RefusesAMappingThatNamesABotNotDeployedOrADestructiveBotInAuto(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"not deployed": {`{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "ec2_tag_instance"}, {"bot": "ec2_quarantine_instance"}]}]}`,
			"rules[0].actions[1]: bot ec2_quarantine_instance is not deployed: this deployment runs ec2_stop_instance, ec2_tag_instance (CDK context enabledBots)"},
		"destructive in AUTO": {`{"version": 1, "rules": [{"match": "*", "mode": "AUTO", "actions": [{"bot": "ec2_terminate_instance"}]}]}`,
			"rules[0].actions[0]: bot ec2_terminate_instance is destructive (it cannot be undone): AUTO mode is refused"},
	} {
		t.Run(name, func(t *testing.T) {
			c2 := kumoEnv(t)
			t.Setenv(deployment.EnvMappingParameter, "/team/mapping")
			if _, err := c2.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String("/team/mapping"), Type: ssmtypes.ParameterTypeString,
				Value: aws.String(c.doc), Overwrite: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			h, err := Handler(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(steps.Transformed{Finding: &finding.Finding{ID: "f1", Type: "Backdoor:EC2/Spambot", AccountID: "111122223333",
				Region: "us-east-1", Partition: "aws", Severity: 8, ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}})
			out, err := h.Invoke(t.Context(), in)
			if err == nil {
				t.Fatalf("decided %s; want the mapping refused", out)
			}
			if !strings.Contains(err.Error(), c.want) || faults.Classify(err) != faults.Failed {
				t.Errorf("err = %v (%s), want %s naming %q", err, faults.Classify(err), faults.Failed, c.want)
			}
		})
	}
}
