package awsenv

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/sivchari/kumo"
)

// lambdaEnv sets what the Lambda service sets, and clears what would point a client elsewhere.
func lambdaEnv(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL": "",
		"AWS_ENDPOINT_URL_STS": "", "AWS_USE_FIPS_ENDPOINT": "", "AWS_USE_DUALSTACK_ENDPOINT": "",
		"AWS_SDK_UA_APP_ID": "",
	} {
		t.Setenv(k, v)
	}
}

func TestLoad_TakesRegionAndCredentialsFromTheLambdaEnvironmentAndBoundsRetries(t *testing.T) {
	lambdaEnv(t)
	t.Setenv("AWS_SDK_UA_APP_ID", "ec2_stop_instance")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-3" || creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("region %q credentials %+v", cfg.Region, creds)
	}
	if cfg.RetryMaxAttempts != MaxAttempts || cfg.RetryMode != aws.RetryModeStandard || cfg.AppID != "ec2_stop_instance" {
		t.Errorf("retries %d %q, app id %q", cfg.RetryMaxAttempts, cfg.RetryMode, cfg.AppID)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("BaseEndpoint = %q, want none (the SDK's regional endpoints)", *cfg.BaseEndpoint)
	}
}

// A function never falls back to another identity: without the execution role's credentials or a
// region there is no configuration, and a malformed endpoint switch is not guessed at.
func TestLoad_FailsWithoutRegionOrCredentials(t *testing.T) {
	for name, unset := range map[string][]string{
		"no region":     {"AWS_REGION"},
		"no key id":     {"AWS_ACCESS_KEY_ID"},
		"no secret key": {"AWS_SECRET_ACCESS_KEY"},
	} {
		t.Run(name, func(t *testing.T) {
			lambdaEnv(t)
			for _, k := range unset {
				t.Setenv(k, "")
			}
			if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), unset[0]) {
				t.Errorf("err = %v, want one naming %s", err, unset[0])
			}
		})
	}
	lambdaEnv(t)
	t.Setenv("AWS_USE_FIPS_ENDPOINT", "yes")
	if _, err := Load(context.Background()); err == nil || !strings.Contains(err.Error(), "AWS_USE_FIPS_ENDPOINT") {
		t.Errorf("err = %v", err)
	}
}

// The endpoint variables reach the service clients as they do through the SDK's own environment
// configuration: the global one, a service's own taking precedence, FIPS and dual-stack.
func TestLoad_ServiceClientsHonourTheEndpointVariables(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	lambdaEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Only kumo answers: the STS variable won over the global one.
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity through AWS_ENDPOINT_URL_STS: %v", err)
	}

	lambdaEnv(t)
	t.Setenv("AWS_USE_FIPS_ENDPOINT", "true")
	t.Setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
	cfg, err = Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := sts.NewFromConfig(cfg).Options()
	if o.EndpointOptions.UseFIPSEndpoint != aws.FIPSEndpointStateEnabled || o.EndpointOptions.UseDualStackEndpoint != aws.DualStackEndpointStateEnabled {
		t.Errorf("FIPS %v, dual-stack %v; want both enabled", o.EndpointOptions.UseFIPSEndpoint, o.EndpointOptions.UseDualStackEndpoint)
	}
}

// No Lambda links what made its start slow (issue 18): the SDK's default credential chain (package
// config), which brings the clients of credential sources only it uses (Load's comment), or a service
// module's schemas package — the schema-based (de)serialization the SDK's service modules switched to
// in autumn 2026 builds every shape of the service's model when the process starts (SSM's and
// GuardDuty's 1.7 ms each, and a garbage collection during init), so go.mod keeps each linked service
// at its last version before it (its CHANGELOG: "Enable schema-based (de)serialization").
func TestLambdas_LinkNothingThatSlowsTheirStart(t *testing.T) {
	if testing.Short() {
		t.Skip("go list of every function")
	}
	// Except the member-role health check: it runs once a day, off the path of any containment, and
	// links CloudWatch, which kumo (the tests' emulator) needs at v1.66.3 or later — the first release
	// with schema-based serialization — so go.mod cannot hold it back.
	fns, err := exec.Command("go", "list", "github.com/guardbots/guardbots/functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, fns)
	}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	for _, fn := range strings.Fields(string(fns)) {
		if !strings.HasSuffix(fn, "/functions/member_health") {
			args = append(args, fn)
		}
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"/aws-sdk-go-v2/config", "/service/sso", "/service/ssooidc", "/service/signin", "/credentials/ssocreds", "/credentials/ec2rolecreds"} {
			if strings.HasSuffix(pkg, banned) {
				t.Errorf("a Lambda links %s: build its configuration with awsenv.Load", pkg)
			}
		}
		if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(pkg, "/schemas") {
			t.Errorf("a Lambda links %s: keep the service module at its last version without schema-based serialization (its CHANGELOG), or measure its start (make bench) and change this test", pkg)
		}
	}
}
