package awsenv

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
)

const (
	selfAccount   = "999988887777"
	memberAccount = "111122223333"
	findingID     = "60baffd3f9042e38640f2300d5c5a631"
)

// testBase is a configuration that can never reach real AWS: static test credentials, an endpoint
// that refuses connections unless a test sets one, and no retries.
func testBase(endpoint string) aws.Config {
	if endpoint == "" {
		endpoint = "http://127.0.0.1:1"
	}
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	}
}

// stsStub answers AssumeRole at the SDK level, recording each input: the Go analogue of botocore's
// Stubber. A nil err returns credentials that expire in an hour.
type stsStub struct {
	mu     sync.Mutex
	inputs []*sts.AssumeRoleInput
	err    error
}

func (s *stsStub) option(o *sts.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stsStub", func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			ar, ok := in.Parameters.(*sts.AssumeRoleInput)
			if !ok {
				return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("stsStub: unexpected operation")
			}
			s.inputs = append(s.inputs, ar)
			if s.err != nil {
				return middleware.InitializeOutput{}, middleware.Metadata{}, s.err
			}
			return middleware.InitializeOutput{Result: &sts.AssumeRoleOutput{
				Credentials: &ststypes.Credentials{
					AccessKeyId:     aws.String("ASIASTUB"),
					SecretAccessKey: aws.String("stub-secret"),
					SessionToken:    aws.String("stub-token"),
					Expiration:      aws.Time(time.Now().Add(time.Hour)),
				},
				AssumedRoleUser: &ststypes.AssumedRoleUser{Arn: aws.String("arn:aws:sts::" + memberAccount + ":assumed-role/x/y"), AssumedRoleId: aws.String("AROA:y")},
			}}, middleware.Metadata{}, nil
		}), middleware.After)
	})
}

func (s *stsStub) calls() []*sts.AssumeRoleInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sts.AssumeRoleInput(nil), s.inputs...)
}

func TestForBot_OwnAccountUsesBaseCredentialsInFindingRegion(t *testing.T) {
	stub := &stsStub{}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, ExternalID: "ext", STSOptions: []func(*sts.Options){stub.option}}
	cfg, role, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, selfAccount, "eu-west-3", "aws")
	if err != nil {
		t.Fatal(err)
	}
	if role != "" || cfg.Region != "eu-west-3" {
		t.Errorf("role %q region %q, want no role in eu-west-3", role, cfg.Region)
	}
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	if creds.AccessKeyID != "test" || len(stub.calls()) != 0 {
		t.Errorf("own account must use the base credentials without AssumeRole (key %q, %d calls)", creds.AccessKeyID, len(stub.calls()))
	}
}

func TestForBot_OwnAccountFromLambdaContext(t *testing.T) {
	r := &Resolver{Base: testBase(""), ExternalID: "ext"}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + selfAccount + ":function:guardbots-ec2_stop_instance",
	})
	// No STS is reachable (the endpoint refuses): success proves the account came from the context.
	_, role, err := r.ForBot(ctx, "ec2_stop_instance", findingID, selfAccount, "us-east-1", "aws")
	if err != nil || role != "" {
		t.Fatalf("role %q, err %v; want the own account recognised from the function ARN", role, err)
	}
}

func TestForBot_ForeignAccountGetsAssumedRoleCredentialsFromKumo(t *testing.T) {
	srv := kumo.NewServer()
	defer srv.Close()
	r := &Resolver{Base: testBase(srv.URL), RolePrefix: "guardbots", ExternalID: "ext-123"}
	// kumo's GetCallerIdentity says 000000000000: the own account is discovered through STS.
	cfg, role, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "us-east-1", "aws")
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:iam::111122223333:role/guardbots-ec2_stop_instance"; role != want {
		t.Errorf("role = %q, want %q", role, want)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID == "" || creds.AccessKeyID == "test" || creds.SessionToken == "" || !creds.CanExpire {
		t.Errorf("credentials %q (token %t, expires %t) are not AssumeRole's", creds.AccessKeyID, creds.SessionToken != "", creds.CanExpire)
	}
	if creds.Source != stscredsSource {
		t.Errorf("credentials source = %q, want %q", creds.Source, stscredsSource)
	}
}

const stscredsSource = "AssumeRoleProvider"

func TestForBot_SendsRoleExternalIDSessionNameAndSourceIdentity(t *testing.T) {
	stub := &stsStub{}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, RolePrefix: "gb", ExternalID: "ext-123", STSOptions: []func(*sts.Options){stub.option}}
	cfg, role, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "cn-north-1", "aws-cn")
	if err != nil {
		t.Fatal(err)
	}
	calls := stub.calls()
	if len(calls) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(calls))
	}
	in := calls[0]
	want := "arn:aws-cn:iam::111122223333:role/gb-ec2_stop_instance"
	if role != want || aws.ToString(in.RoleArn) != want {
		t.Errorf("role %q, RoleArn %q, want %q", role, aws.ToString(in.RoleArn), want)
	}
	if aws.ToString(in.ExternalId) != "ext-123" {
		t.Errorf("ExternalId = %q", aws.ToString(in.ExternalId))
	}
	if got := aws.ToString(in.RoleSessionName); got != "ec2_stop_instance@"+findingID {
		t.Errorf("RoleSessionName = %q", got)
	}
	if got := aws.ToString(in.SourceIdentity); got != "guardbots-ec2_stop_instance" {
		t.Errorf("SourceIdentity = %q", got)
	}
	if aws.ToInt32(in.DurationSeconds) != 900 {
		t.Errorf("DurationSeconds = %d, want 900", aws.ToInt32(in.DurationSeconds))
	}
	if cfg.Region != "cn-north-1" {
		t.Errorf("region = %q", cfg.Region)
	}
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	if creds.AccessKeyID != "ASIASTUB" {
		t.Errorf("credentials %q are not the assumed role's", creds.AccessKeyID)
	}
}

func TestForBot_SecondCallReusesCachedCredentials(t *testing.T) {
	stub := &stsStub{}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, ExternalID: "ext", STSOptions: []func(*sts.Options){stub.option}}
	for range 3 {
		cfg, _, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "us-east-1", "aws")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Credentials.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(stub.calls()); n != 1 {
		t.Errorf("%d AssumeRole calls for one account, bot and finding; want 1 (cached)", n)
	}
	// Another bot is another role: its own AssumeRole.
	if _, _, err := r.ForBot(context.Background(), "notify_only", findingID, memberAccount, "us-east-1", "aws"); err != nil {
		t.Fatal(err)
	}
	if n := len(stub.calls()); n != 2 {
		t.Errorf("%d AssumeRole calls after a second bot, want 2", n)
	}
}

func TestForBot_AccessDeniedNamesAccountAndRoleAndIsFailed(t *testing.T) {
	stub := &stsStub{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, ExternalID: "ext", STSOptions: []func(*sts.Options){stub.option}}
	_, role, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "us-east-1", "aws")
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{memberAccount, "arn:aws:iam::111122223333:role/guardbots-ec2_stop_instance", "AccessDenied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if role == "" {
		t.Error("the role ARN should be returned with the error")
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("Classify = %s, want %s", k, faults.Failed)
	}
	if strings.Contains(err.Error(), "stub-secret") {
		t.Error("error leaks credentials")
	}
}

func TestForBot_ThrottledAssumeRoleStaysThrottled(t *testing.T) {
	stub := &stsStub{err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, ExternalID: "ext", STSOptions: []func(*sts.Options){stub.option}}
	_, _, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "us-east-1", "aws")
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

func TestForBot_CrossAccountWithoutExternalIDIsRefused(t *testing.T) {
	stub := &stsStub{}
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, STSOptions: []func(*sts.Options){stub.option}}
	_, _, err := r.ForBot(context.Background(), "ec2_stop_instance", findingID, memberAccount, "us-east-1", "aws")
	if err == nil || !strings.Contains(err.Error(), deployment.EnvExternalID) {
		t.Fatalf("err = %v, want a refusal naming %s", err, deployment.EnvExternalID)
	}
	if len(stub.calls()) != 0 {
		t.Error("AssumeRole was called without an ExternalId")
	}
}

func TestForBot_RejectsMalformedAccountRegionPartition(t *testing.T) {
	r := &Resolver{Base: testBase(""), AccountID: selfAccount, ExternalID: "ext"}
	for _, c := range []struct{ account, region, partition string }{
		{"12345", "us-east-1", "aws"},
		{"111122223333:role/x", "us-east-1", "aws"},
		{memberAccount, "us-east-1\n", "aws"},
		{memberAccount, "../x", "aws"},
		{memberAccount, "us-east-1", "aws:iam"},
	} {
		_, _, err := r.ForBot(context.Background(), "b", findingID, c.account, c.region, c.partition)
		if faults.Classify(err) != faults.Rejected {
			t.Errorf("ForBot(%q, %q, %q) = %v, want a rejection", c.account, c.region, c.partition, err)
		}
	}
}

func TestSessionName_SanitizedAndBounded(t *testing.T) {
	if got := SessionName("ec2_stop_instance", "abc def/ghi:jkl"); got != "ec2_stop_instance@abc_def_ghi_jkl" {
		t.Errorf("got %q", got)
	}
	long := SessionName("ec2_stop_instance", strings.Repeat("f", 100))
	if len(long) != 64 {
		t.Errorf("len = %d, want 64", len(long))
	}
}

func TestNewResolver_ReadsEnvironment(t *testing.T) {
	t.Setenv(deployment.EnvRolePrefix, "")
	t.Setenv(deployment.EnvExternalID, "ext-9")
	t.Setenv(deployment.EnvAccountID, selfAccount)
	r, err := NewResolver(testBase(""))
	if err != nil {
		t.Fatal(err)
	}
	if r.RolePrefix != deployment.DefaultRolePrefix || r.ExternalID != "ext-9" || r.AccountID != selfAccount {
		t.Errorf("resolver = %+v", r)
	}
	t.Setenv(deployment.EnvAccountID, "nope")
	if _, err := NewResolver(testBase("")); err == nil {
		t.Error("a malformed account id must be refused")
	}
	t.Setenv(deployment.EnvAccountID, selfAccount)
	for _, prefix := range []string{strings.Repeat("g", 33), "guard bots", "guard/bots"} {
		t.Setenv(deployment.EnvRolePrefix, prefix)
		if _, err := NewResolver(testBase("")); err == nil {
			t.Errorf("role prefix %q must be refused", prefix)
		}
	}
	t.Setenv(deployment.EnvRolePrefix, strings.Repeat("g", 32))
	if _, err := NewResolver(testBase("")); err != nil {
		t.Errorf("a 32-character prefix: %v", err)
	}
}
