package ssmstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
)

// kumoSSM returns an SSM client for an in-process kumo emulator: static test credentials and an
// explicit endpoint, so nothing can reach real AWS.
func kumoSSM(t *testing.T) *ssm.Client {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return ssm.NewFromConfig(cfg)
}

func putParam(t *testing.T, c *ssm.Client, name, value string, typ types.ParameterType) {
	t.Helper()
	_, err := c.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true)})
	if err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func keys(m *mapping.Mapping) []string {
	var out []string
	for _, r := range m.Rules() {
		out = append(out, r.Match...)
	}
	return out
}

func TestStore_ReadsTheParameterAndSeesAnEditOnlyAfterTheTTL(t *testing.T) {
	c := kumoSSM(t)
	putParam(t, c, deployment.DefaultMappingParameter, `{"Backdoor:EC2/Spambot": "AUTO: ec2_create_snapshot"}`, types.ParameterTypeString)
	clock := newClock()
	s, err := New(c, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	m1, err := s.Mapping(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(m1); len(got) != 1 || got[0] != "Backdoor:EC2/Spambot" {
		t.Fatalf("first read: %v", got)
	}

	putParam(t, c, deployment.DefaultMappingParameter, `{"version": 1, "rules": [{"match": "Recon:*", "mode": "NOTIFY"}]}`, types.ParameterTypeString)
	clock.Advance(59 * time.Second)
	if m, err := s.Mapping(t.Context()); err != nil || m != m1 {
		t.Fatalf("within the TTL: got a different mapping (%v) or error %v", keys(m), err)
	}
	clock.Advance(time.Second)
	m2, err := s.Mapping(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(m2); len(got) != 1 || got[0] != "Recon:*" {
		t.Fatalf("after the TTL: %v, want the edit", got)
	}
}

func TestStore_ReadsASecureStringParameter(t *testing.T) {
	c := kumoSSM(t)
	putParam(t, c, "/sec/mapping", `{"Backdoor:EC2/Spambot": "NOTIFY"}`, types.ParameterTypeSecureString)
	s, err := New(c, WithParameterName("/sec/mapping"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mapping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestStore_MissingParameterSaysHowToCreateIt(t *testing.T) {
	s, err := New(kumoSSM(t), WithParameterName("/nowhere/mapping"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Mapping(t.Context())
	if err == nil {
		t.Fatal("no error for a missing parameter")
	}
	for _, want := range []string{"/nowhere/mapping does not exist", "aws ssm put-parameter --name /nowhere/mapping", "default.json"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var nf *types.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Errorf("the SDK error is not kept: %v", err)
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("classified %s, want %s (retrying cannot create it)", k, faults.Failed)
	}
}

func TestStore_InvalidDocumentNamesTheParameterAndTheKey(t *testing.T) {
	c := kumoSSM(t)
	putParam(t, c, "/guardbots/bad", `{"Backdoor:EC2/Spambot": "AUTO: ec2_stpo"}`, types.ParameterTypeString)
	s, err := New(c, WithParameterName("/guardbots/bad"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Mapping(t.Context())
	var inv *mapping.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want an *mapping.InvalidError, got %v", err)
	}
	for _, want := range []string{"mapping parameter /guardbots/bad (version 1)", "Backdoor:EC2/Spambot", `unknown bot "ec2_stpo"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("classified %s, want %s", k, faults.Failed)
	}
}

func TestStore_BrokenEditIsReportedNotHiddenByTheCachedMapping(t *testing.T) {
	c := kumoSSM(t)
	putParam(t, c, deployment.DefaultMappingParameter, `{"Backdoor:EC2/Spambot": "NOTIFY"}`, types.ParameterTypeString)
	clock := newClock()
	s, err := New(c, WithClock(clock.Now), WithTTL(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mapping(t.Context()); err != nil {
		t.Fatal(err)
	}
	putParam(t, c, deployment.DefaultMappingParameter, `{"Backdoor:EC2/Spambot": "NOTIFY",`, types.ParameterTypeString)
	clock.Advance(10 * time.Second)
	if m, err := s.Mapping(t.Context()); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("a broken edit returned mapping %v, error %v", m, err)
	}
	// Errors are not cached: the fix is picked up on the next call.
	putParam(t, c, deployment.DefaultMappingParameter, `{"Recon:EC2/Portscan": "NOTIFY"}`, types.ParameterTypeString)
	m, err := s.Mapping(t.Context())
	if err != nil || keys(m)[0] != "Recon:EC2/Portscan" {
		t.Fatalf("after the fix: %v, %v", m, err)
	}
}

// stubSSM is an SDK-level stand-in for the cases kumo cannot produce (throttling, call counting).
type stubSSM struct {
	calls atomic.Int32
	err   error
	value string
	check func(*ssm.GetParameterInput)
}

func (s *stubSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	s.calls.Add(1)
	if s.check != nil {
		s.check(in)
	}
	if s.err != nil {
		return nil, s.err
	}
	time.Sleep(time.Millisecond) // let concurrent callers pile up
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Value: aws.String(s.value), Version: 3}}, nil
}

func TestStore_ThrottlingStaysRetryable(t *testing.T) {
	s, err := New(&stubSSM{err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Mapping(t.Context())
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("classified %s (%v), want %s", k, err, faults.Throttled)
	}
	if !strings.Contains(err.Error(), deployment.DefaultMappingParameter) {
		t.Errorf("error %q does not name the parameter", err)
	}
}

func TestStore_AsksForDecryptionOfTheConfiguredParameter(t *testing.T) {
	t.Setenv(deployment.EnvMappingParameter, "/team/mapping")
	stub := &stubSSM{value: `{}`, check: func(in *ssm.GetParameterInput) {
		if aws.ToString(in.Name) != "/team/mapping" || !aws.ToBool(in.WithDecryption) {
			t.Errorf("GetParameter(%s, WithDecryption=%v)", aws.ToString(in.Name), aws.ToBool(in.WithDecryption))
		}
	}}
	s, err := New(stub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mapping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestStore_ConcurrentCallersShareOneFetch(t *testing.T) {
	stub := &stubSSM{value: `{"Backdoor:EC2/Spambot": "AUTO: ec2_create_snapshot"}`}
	clock := newClock()
	s, err := New(stub, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := s.Mapping(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := stub.calls.Load(); n != 1 {
		t.Errorf("%d GetParameter calls, want 1", n)
	}
	// After the TTL an unchanged version is fetched again but not re-parsed.
	m, _ := s.Mapping(t.Context())
	clock.Advance(deployment.DefaultMappingTTL)
	if m2, err := s.Mapping(t.Context()); err != nil || m2 != m || stub.calls.Load() != 2 {
		t.Errorf("refresh of an unchanged parameter: same=%v calls=%d err=%v", m2 == m, stub.calls.Load(), err)
	}
}

func TestNew_Environment(t *testing.T) {
	stub := &stubSSM{value: `{}`}
	t.Setenv(deployment.EnvMappingTTL, "5m")
	s, err := New(stub)
	if err != nil || s.ttl != 5*time.Minute || s.ParameterName() != deployment.DefaultMappingParameter {
		t.Fatalf("ttl %v name %q err %v", s.ttl, s.ParameterName(), err)
	}
	if s, _ := New(stub, WithTTL(time.Second), WithParameterName("/x")); s.ttl != time.Second || s.ParameterName() != "/x" {
		t.Errorf("options do not override the environment")
	}
	t.Setenv(deployment.EnvMappingTTL, "soon")
	if _, err := New(stub); err == nil || !strings.Contains(err.Error(), deployment.EnvMappingTTL) {
		t.Errorf("bad TTL: %v", err)
	}
	t.Setenv(deployment.EnvMappingTTL, "-1s")
	if _, err := New(stub); err == nil {
		t.Error("negative TTL accepted")
	}
	if _, err := New(nil); err == nil {
		t.Error("nil client accepted")
	}
}

func TestStore_ZeroTTLReadsEveryTime(t *testing.T) {
	stub := &stubSSM{value: `{}`}
	s, _ := New(stub, WithTTL(0))
	for range 3 {
		if _, err := s.Mapping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := stub.calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

// With the deployment's bots, a document naming another bot is an error (match and verify fail closed
// on it), and a valid one still reads.
func TestStore_WithDeployedBotsRefusesAMappingNamingABotNotDeployed(t *testing.T) {
	c := kumoSSM(t)
	name := "/deployed-bots/mapping"
	putParam(t, c, name, `{"Backdoor:EC2/Spambot": "AUTO: ec2_create_snapshot | AUTO: ec2_stop_instance"}`, types.ParameterTypeString)
	s, err := New(c, WithParameterName(name), WithTTL(0), WithDeployedBots([]string{"ec2_create_snapshot"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Mapping(t.Context())
	if err == nil || !strings.Contains(err.Error(), "bot ec2_stop_instance is not deployed") || faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v, want ec2_stop_instance refused (%s)", err, faults.Failed)
	}
	putParam(t, c, name, `{"Backdoor:EC2/Spambot": "AUTO: ec2_create_snapshot"}`, types.ParameterTypeString)
	if m, err := s.Mapping(t.Context()); err != nil || len(m.Bots()) != 1 {
		t.Errorf("valid mapping: %v, %v", m, err)
	}
}
