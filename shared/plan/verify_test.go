package plan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/plan/plantest"
)

func kumoConfig(t testing.TB) aws.Config {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}
}

// local is a signing key and a running execution in kumo.
func local(t testing.TB) (*plantest.Local, string) {
	t.Helper()
	ctx := context.Background()
	l, err := plantest.New(ctx, kumoConfig(t), "guardbots-remediation-plan-test")
	if err != nil {
		t.Fatal(err)
	}
	exec, err := l.Start(ctx, fmt.Sprintf("run-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop(context.Background(), exec) })
	return l, exec
}

func subject(execution string) plan.Action {
	return plan.Action{
		Finding: &finding.Finding{ID: "7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
			AccountID: "111122223333", Region: "us-east-1", Partition: "aws", Severity: 5, ResourceKind: finding.KindInstance,
			Instance: &finding.Instance{ID: "i-0123456789abcdef0"}},
		Execution: execution, Index: 1, MappingKey: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		Action: mapping.Action{Bot: "ec2_stop_instance", Params: map[string]any{"force": false}, OnError: mapping.Continue, Mode: "AUTO"},
	}
}

func signed(t testing.TB, l *plantest.Local, a plan.Action) plan.Action {
	t.Helper()
	sig, err := l.Signer().SignAction(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	a.Action.Signature = sig
	return a
}

// The signature kumo's KMS makes (Sign, ECDSA_SHA_256, DIGEST) verifies locally with the public key kumo
// gives (GetPublicKey), and KMS's own Verify agrees.
func TestSignedAction_VerifiesWithThePublicKeyAndKMSAgrees(t *testing.T) {
	l, exec := local(t)
	a := signed(t, l, subject(exec))
	if err := l.Verifier().Check(context.Background(), a); err != nil {
		t.Fatalf("a plan signed for a running execution: %v", err)
	}
	if a.Action.Signature.Version != plan.Version {
		t.Errorf("version %d", a.Action.Signature.Version)
	}
	// KMS's own Verify of the same digest (what a reviewer can run with the key's Verify permission).
	at, _ := time.Parse(time.RFC3339, a.Action.Signature.SignedAt)
	f, err := a.Fields(at)
	if err != nil {
		t.Fatal(err)
	}
	d := f.Digest()
	der, err := base64.StdEncoding.DecodeString(a.Action.Signature.Value)
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.KMS.Verify(context.Background(), &kms.VerifyInput{KeyId: aws.String(l.KeyID), Message: d[:], MessageType: kmstypes.MessageTypeDigest,
		Signature: der, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || !out.SignatureValid {
		t.Errorf("KMS Verify: %v %+v", err, out)
	}
}

// Every signed field is covered: an action that differs from what verify signed in any of them is
// refused, before any call to Step Functions.
func TestSignature_RefusesAnyChangeOfWhatWasSigned(t *testing.T) {
	l, exec := local(t)
	good := signed(t, l, subject(exec))
	v := l.Verifier()
	for name, edit := range map[string]func(*plan.Action){
		"finding id":        func(a *plan.Action) { a.Finding.ID = "8ac8e41d2b9f4c6a8d3e5f7a9b1c3d51" },
		"another instance":  func(a *plan.Action) { a.Finding.Instance.ID = "i-0fedcba9876543210" },
		"severity":          func(a *plan.Action) { a.Finding.Severity = 8 },
		"resource role":     func(a *plan.Action) { a.Finding.ResourceRole = "TARGET" },
		"another execution": func(a *plan.Action) { a.Execution += "x" },
		"another index":     func(a *plan.Action) { a.Index = 0 },
		"another bot":       func(a *plan.Action) { a.Action.Bot = "ec2_terminate_instance" },
		"mode":              func(a *plan.Action) { a.Action.Mode = "APPROVE" },
		"params":            func(a *plan.Action) { a.Action.Params = map[string]any{"force": true} },
		"onError":           func(a *plan.Action) { a.Action.OnError = mapping.Stop },
		"mapping key":       func(a *plan.Action) { a.MappingKey = "*" },
		"a member": func(a *plan.Action) {
			a.Action.Member = &finding.Member{Kind: finding.KindInstance, ID: "i-0fedcba9876543210"}
		},
		"signing time": func(a *plan.Action) {
			at, _ := time.Parse(time.RFC3339, a.Action.Signature.SignedAt)
			a.Action.Signature.SignedAt = at.Add(-time.Second).Format(time.RFC3339)
		},
		"version":        func(a *plan.Action) { a.Action.Signature.Version = 1 },
		"no signature":   func(a *plan.Action) { a.Action.Signature = nil },
		"empty":          func(a *plan.Action) { a.Action.Signature.Value = "" },
		"not base64":     func(a *plan.Action) { a.Action.Signature.Value = "!!" },
		"garbage":        func(a *plan.Action) { a.Action.Signature.Value = "MEUCIQDx" },
		"bad time":       func(a *plan.Action) { a.Action.Signature.SignedAt = "yesterday" },
		"no execution":   func(a *plan.Action) { a.Execution = "" },
		"no finding":     func(a *plan.Action) { a.Finding = nil },
		"unknown params": func(a *plan.Action) { a.Action.Params = map[string]any{"wipe": true} },
	} {
		a := clone(good)
		edit(&a)
		err := v.Signature(context.Background(), a)
		if faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v (%s), want rejected", name, err, faults.Classify(err))
		}
	}
	if err := v.Signature(context.Background(), clone(good)); err != nil {
		t.Fatalf("the unchanged action: %v", err)
	}
}

// A signature made by any other key (an attacker's own KMS key, or a key pair of their own) is refused.
func TestSignature_OfAnotherKeyIsRefused(t *testing.T) {
	l, exec := local(t)
	other, err := plantest.New(context.Background(), kumoConfigOf(l), "guardbots-remediation-plan-test")
	if err != nil {
		t.Fatal(err)
	}
	forged := signed(t, other, subject(exec))
	if err := l.Verifier().Signature(context.Background(), forged); faults.Classify(err) != faults.Rejected {
		t.Errorf("a signature of another key: %v", err)
	}
}

func kumoConfigOf(l *plantest.Local) aws.Config {
	o := l.KMS.Options()
	return aws.Config{Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint, RetryMaxAttempts: 1}
}

// A signature older than an execution can run is refused, and so is one from the future; up to the
// limit it verifies.
func TestSignature_AgeIsBoundedByTheExecutionTimeout(t *testing.T) {
	l, exec := local(t)
	t0 := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
	l.Now = func() time.Time { return t0 }
	a := signed(t, l, subject(exec))
	for _, c := range []struct {
		at   time.Time
		want faults.Kind
	}{
		{t0.Add(deployment.ExecutionTimeout), ""},
		{t0.Add(deployment.ExecutionTimeout + time.Second), faults.Rejected},
		{t0.Add(-plan.ClockSkew), ""},
		{t0.Add(-plan.ClockSkew - time.Second), faults.Rejected},
	} {
		v := l.Verifier()
		v.Now = func() time.Time { return c.at }
		err := v.Signature(context.Background(), a)
		if got := faults.Classify(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("verified at signing time %+v: err = %v", c.at.Sub(t0), err)
		}
	}
}

// The execution must be running on the guardbots state machine: kumo answers DescribeExecution.
func TestRunning_OnlyARunningExecutionOfTheGuardbotsStateMachine(t *testing.T) {
	ctx := context.Background()
	l, exec := local(t)
	v := l.Verifier()
	if err := v.Running(ctx, exec); err != nil {
		t.Fatalf("running execution: %v", err)
	}
	done, err := l.Start(ctx, "finished-"+time.Now().Format("150405.000000"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(ctx, done); err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimSuffix(exec, exec[strings.LastIndex(exec, ":")+1:])
	otherSM := strings.Replace(exec, "guardbots-remediation-plan-test", "someone-elses-machine", 1)
	for name, arn := range map[string]string{
		"ended":                   done,
		"never started":           prefix + "made-up",
		"another state machine":   otherSM,
		"not an ARN":              "local:test",
		"the state machine's ARN": l.StateMachineArn,
		"prefix only":             prefix,
	} {
		if err := v.Running(ctx, arn); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s (%s): err = %v, want rejected", name, arn, err)
		}
	}
}

// describeStub answers DescribeExecution with out (kumo's executions always belong to the state machine
// their ARN names, so the stateMachineArn check needs an SDK-level stub).
type describeStub struct {
	sfn.GetExecutionHistoryAPIClient
	out *sfn.DescribeExecutionOutput
	err error
}

func (d describeStub) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return d.out, d.err
}

func TestRunning_RefusesAnExecutionStepFunctionsSaysRunsAnotherStateMachine(t *testing.T) {
	const sm = "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation"
	exec := "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-1"
	v := &plan.Verifier{StateMachineArn: sm, States: describeStub{out: &sfn.DescribeExecutionOutput{
		StateMachineArn: aws.String(sm + "-copy"), Status: sfntypes.ExecutionStatusRunning}}}
	if err := v.Running(context.Background(), exec); faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v", err)
	}
	v.States = describeStub{err: &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution does not exist")}}
	if err := v.Running(context.Background(), exec); faults.Classify(err) != faults.Rejected {
		t.Errorf("missing: err = %v", err)
	}
	// A throttle stays retryable: the action fails, and the state machine's Retry runs it again.
	v.States = describeStub{err: &sfntypes.InvalidArn{Message: aws.String("x")}}
	if err := v.Running(context.Background(), exec); err == nil || faults.Classify(err) == faults.Rejected {
		t.Errorf("other error: err = %v (%s)", err, faults.Classify(err))
	}
}

// keyStub answers GetPublicKey with out, counting calls.
type keyStub struct {
	out   *kms.GetPublicKeyOutput
	err   error
	calls *int
}

func (k keyStub) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	*k.calls++
	return k.out, k.err
}

// The public key is read once for the Lambda's life; a key that is not a P-256 signing key is refused.
func TestPublicKey_IsReadOnceAndMustBeAP256SigningKey(t *testing.T) {
	l, exec := local(t)
	a := signed(t, l, subject(exec))
	real, err := l.KMS.GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String(l.KeyID)})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	v := &plan.Verifier{KMS: keyStub{out: real, calls: &calls}, KeyID: l.KeyID, MaxAge: deployment.ExecutionTimeout}
	for range 3 {
		if err := v.Signature(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("GetPublicKey called %d times, want once", calls)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	for name, out := range map[string]*kms.GetPublicKeyOutput{
		"encryption key": {KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt, PublicKey: real.PublicKey,
			SigningAlgorithms: real.SigningAlgorithms},
		"P-384 key": {KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, PublicKey: der384,
			SigningAlgorithms: real.SigningAlgorithms},
		"no ECDSA_SHA_256": {KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, PublicKey: real.PublicKey},
	} {
		n := 0
		v := &plan.Verifier{KMS: keyStub{out: out, calls: &n}, KeyID: "k", MaxAge: deployment.ExecutionTimeout}
		if err := v.Signature(context.Background(), a); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// A failed read is not kept: the next call reads again.
	n := 0
	v = &plan.Verifier{KMS: keyStub{err: &kmstypes.KMSInternalException{Message: aws.String("boom")}, calls: &n}, KeyID: "k", MaxAge: deployment.ExecutionTimeout}
	_ = v.Signature(context.Background(), a)
	_ = v.Signature(context.Background(), a)
	if n != 2 {
		t.Errorf("failed reads: %d calls, want 2", n)
	}
}

// Verify's Sign signs every action of a decision for its index in it.
func TestSigner_SignsEveryActionOfTheDecisionForItsIndex(t *testing.T) {
	l, exec := local(t)
	s := subject(exec)
	d := mapping.Decision{Outcome: mapping.Remediate, Key: s.MappingKey, Actions: []mapping.Action{
		{Bot: "ec2_tag_instance", Params: map[string]any{}, OnError: mapping.Continue, Mode: "AUTO"},
		{Bot: "ec2_stop_instance", Params: map[string]any{}, OnError: mapping.Stop, Mode: "APPROVE", ApprovalTimeoutSeconds: 600},
	}}
	if err := l.Signer().Sign(context.Background(), s.Finding, &d, exec); err != nil {
		t.Fatal(err)
	}
	v := l.Verifier()
	for i, act := range d.Actions {
		a := plan.Action{Finding: s.Finding, Execution: exec, Index: i, MappingKey: d.Key, Action: act}
		if err := v.Check(context.Background(), a); err != nil {
			t.Errorf("action %d: %v", i, err)
		}
		// Swapped into the other action's place, it is refused: a replay of another action index.
		a.Index = 1 - i
		if err := v.Signature(context.Background(), a); faults.Classify(err) != faults.Rejected {
			t.Errorf("action %d at index %d: %v", i, 1-i, err)
		}
	}
}

func clone(a plan.Action) plan.Action {
	f := *a.Finding
	inst := *f.Instance
	f.Instance = &inst
	a.Finding = &f
	if a.Action.Signature != nil {
		s := *a.Action.Signature
		a.Action.Signature = &s
	}
	return a
}

// BenchmarkSignature is a bot's local check of its plan, warm (the public key already read): the
// finding's digest, the canonical parameters, the encoding and one ECDSA P-256 verification.
func BenchmarkSignature(b *testing.B) {
	l, exec := local(b)
	a := signed(b, l, subject(exec))
	v := l.Verifier()
	ctx := context.Background()
	if err := v.Signature(ctx, a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Signature(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckWarm is the whole check of a warm bot call against the in-process kumo: the signature
// and DescribeExecution (one round trip on the loopback; in AWS, one API call's latency).
func BenchmarkCheckWarm(b *testing.B) {
	l, exec := local(b)
	a := signed(b, l, subject(exec))
	v := l.Verifier()
	ctx := context.Background()
	if err := v.Check(ctx, a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCold is the first call of a fresh execution environment: GetPublicKey and the key's
// parsing as well (then kept for the Lambda's life).
func BenchmarkCheckCold(b *testing.B) {
	l, exec := local(b)
	a := signed(b, l, subject(exec))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Verifier().Check(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
