package awsenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// Load returns the Lambda's own configuration, from what the Lambda service puts in the environment:
// the region (AWS_REGION) and the execution role's credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, fixed for the life of the execution environment), given to
// the SDK's static credentials provider; standard retries with bounded attempts. It also honours what
// the SDK reads from the environment for endpoints — AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
// (a local run points every client at an emulator), AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT
// — and AWS_SDK_UA_APP_ID. Nothing else: no shared config or credentials file, no profile, no SSO,
// web identity, container or instance metadata credentials, none of which a Lambda has.
//
// config.LoadDefaultConfig is not used because its package links the clients of every credential
// source it supports (SSO, SSO OIDC, sign-in, STS) and their initialisation runs in every process that
// imports it: with the default chain's own work, about 2 ms of CPU in each function's start, which a
// 128 MB function's CPU share stretches about fourteen times where Lambda throttles init (provisioned
// concurrency). Missing region or credentials fail the init: a function never falls back to another
// identity.
func Load(context.Context) (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return aws.Config{}, fmt.Errorf("awsenv: AWS_REGION is not set (Lambda sets it)")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("awsenv: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets the execution role's credentials there)")
	}
	src, err := readEnvSource()
	if err != nil {
		return aws.Config{}, err
	}
	cfg := aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")),
		RetryMode:        aws.RetryModeStandard,
		RetryMaxAttempts: MaxAttempts,
		AppID:            os.Getenv("AWS_SDK_UA_APP_ID"),
		// The SDK's own warnings (a response checksum it could not validate, …) go to the function's
		// log, as LoadDefaultConfig sends them; a nil Logger would drop them.
		Logger: logging.NewStandardLogger(os.Stderr),
		// One HTTP client (one connection pool) for every service client made from this configuration,
		// the ones a bot makes per finding included. Not a *BuildableClient: each service client copies
		// one with a pool of its own, so every finding left idle connections open (and, on AWS, paid a
		// new TLS handshake per client).
		HTTPClient:    sharedHTTP{awshttp.NewBuildableClient()},
		ConfigSources: []any{src},
	}
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// envSource answers the service clients' questions about the environment (they look for these methods
// in aws.Config.ConfigSources), as the SDK's config.EnvConfig does.
type envSource struct {
	fips      aws.FIPSEndpointState
	dualStack aws.DualStackEndpointState
}

func readEnvSource() (envSource, error) {
	var s envSource
	fips, err := boolEnv("AWS_USE_FIPS_ENDPOINT")
	if err != nil {
		return s, err
	}
	dual, err := boolEnv("AWS_USE_DUALSTACK_ENDPOINT")
	if err != nil {
		return s, err
	}
	// The SDK's states: unset, enabled, disabled.
	s.fips = [...]aws.FIPSEndpointState{aws.FIPSEndpointStateUnset, aws.FIPSEndpointStateEnabled, aws.FIPSEndpointStateDisabled}[fips]
	s.dualStack = [...]aws.DualStackEndpointState{aws.DualStackEndpointStateUnset, aws.DualStackEndpointStateEnabled, aws.DualStackEndpointStateDisabled}[dual]
	return s, nil
}

// boolEnv reads a true/false variable as the SDK does (case-insensitive): 0 unset, 1 true, 2 false.
func boolEnv(name string) (int, error) {
	switch v := os.Getenv(name); {
	case v == "":
		return 0, nil
	case strings.EqualFold(v, "true"):
		return 1, nil
	case strings.EqualFold(v, "false"):
		return 2, nil
	default:
		return 0, fmt.Errorf("awsenv: %s=%q: want true or false", name, v)
	}
}

// GetServiceBaseEndpoint is AWS_ENDPOINT_URL_<service id, upper case, spaces as underscores>.
func (envSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	u := os.Getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return u, u != "", nil
}

// GetUseFIPSEndpoint is AWS_USE_FIPS_ENDPOINT.
func (s envSource) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	return s.fips, s.fips != aws.FIPSEndpointStateUnset, nil
}

// GetUseDualStackEndpoint is AWS_USE_DUALSTACK_ENDPOINT.
func (s envSource) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	return s.dualStack, s.dualStack != aws.DualStackEndpointStateUnset, nil
}

// sharedHTTP hides the BuildableClient from the service clients, which would copy it.
type sharedHTTP struct{ c *awshttp.BuildableClient }

func (s sharedHTTP) Do(r *http.Request) (*http.Response, error) { return s.c.Do(r) }
