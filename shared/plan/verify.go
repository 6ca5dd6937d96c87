package plan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
)

// KeyAPI is the KMS call a verifier makes, once per Lambda execution environment.
type KeyAPI interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// StatesAPI is what a verifier asks Step Functions: whether the execution runs, and (for an approval)
// its history.
type StatesAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	sfn.GetExecutionHistoryAPIClient
}

// ClockSkew is how far in the future a signing time may be (the signer's clock against the verifier's).
const ClockSkew = 5 * time.Minute

// Verifier checks that the workflow vouched for an action. The public key is read from KMS once and
// kept for the Lambda's life; the signature is checked locally. Safe for concurrent use.
type Verifier struct {
	KMS   KeyAPI
	KeyID string
	// States is Step Functions; StateMachineArn the guardbots state machine, the only one whose
	// executions' plans are honoured.
	States          StatesAPI
	StateMachineArn string
	// MaxAge is how old a signature may be: the execution timeout (deployment.ExecutionTimeout).
	MaxAge time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu  sync.Mutex
	key *ecdsa.PublicKey
}

// FromEnv is the verifier of a Lambda that acts on a signed plan: the signing key and the guardbots state
// machine from the environment (both required: without them nothing can vouch for an action, and nothing
// acts), KMS and Step Functions with the Lambda's own credentials.
func FromEnv(cfg aws.Config) (*Verifier, error) {
	key, machine := os.Getenv(deployment.EnvSigningKey), os.Getenv(deployment.EnvStateMachineArn)
	if key == "" || machine == "" {
		return nil, fmt.Errorf("%s and %s must be set: only a plan the verify step signed, in a running execution of the guardbots state machine, is acted on",
			deployment.EnvSigningKey, deployment.EnvStateMachineArn)
	}
	return &Verifier{KMS: kms.NewFromConfig(cfg), KeyID: key, States: sfn.NewFromConfig(cfg), StateMachineArn: machine,
		MaxAge: deployment.ExecutionTimeout}, nil
}

// Check verifies a's signature and that its execution is running on the guardbots state machine.
// Anything it refuses is a faults.Rejected error saying why; a failure to ask KMS or Step Functions
// is returned as it is (a throttle stays retryable), so the action fails closed either way.
func (v *Verifier) Check(ctx context.Context, a Action) error {
	if err := v.Signature(ctx, a); err != nil {
		return err
	}
	return v.Running(ctx, a.Execution)
}

// Signature checks a's signature against the key's public half, and its age.
func (v *Verifier) Signature(ctx context.Context, a Action) error {
	what := fmt.Sprintf("action %d (%s)", a.Index+1, a.Action.Bot)
	sig := a.Action.Signature
	if sig == nil || sig.Value == "" {
		return faults.Rejectf("plan: %s carries no signature: only a plan the verify step signed in this execution runs", what)
	}
	if sig.Version != Version {
		return faults.Rejectf("plan: %s is signed in encoding version %d; this bot knows version %d", what, sig.Version, Version)
	}
	signedAt, err := time.Parse(time.RFC3339, sig.SignedAt)
	if err != nil {
		return faults.Rejectf("plan: %s: signing time %q is not RFC 3339", what, clip(sig.SignedAt))
	}
	now := v.now()
	if signedAt.After(now.Add(ClockSkew)) {
		return faults.Rejectf("plan: %s was signed at %s, in the future", what, sig.SignedAt)
	}
	if v.MaxAge <= 0 {
		return errors.New("plan: the verifier has no maximum signature age")
	}
	if age := now.Sub(signedAt); age > v.MaxAge {
		return faults.Rejectf("plan: %s was signed %s ago, longer than an execution may run (%s): it cannot belong to a running execution",
			what, age.Round(time.Second), v.MaxAge)
	}
	der, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil {
		return faults.Rejectf("plan: %s: the signature is not base64", what)
	}
	fields, err := a.Fields(signedAt)
	if err != nil {
		return faults.Reject(fmt.Errorf("%s: %w", what, err))
	}
	key, err := v.publicKey(ctx)
	if err != nil {
		return err
	}
	digest := fields.Digest()
	if !ecdsa.VerifyASN1(key, digest[:], der) {
		return faults.Rejectf("plan: the signature of %s does not match this finding, execution, action and parameters: "+
			"it was not made by the verify step for this input", what)
	}
	return nil
}

// Running asks Step Functions whether execution is running on the guardbots state machine.
func (v *Verifier) Running(ctx context.Context, execution string) error {
	if v.States == nil || v.StateMachineArn == "" {
		return errors.New("plan: the verifier does not know the guardbots state machine")
	}
	// An ARN of another state machine is refused before any call (and the role may describe only the
	// guardbots state machine's executions).
	prefix := strings.Replace(v.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":"
	if !strings.HasPrefix(execution, prefix) || len(execution) == len(prefix) {
		return faults.Rejectf("plan: %q is not an execution of the guardbots state machine %s", clip(execution), v.StateMachineArn)
	}
	out, err := v.States.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execution)})
	if err != nil {
		var missing *sfntypes.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			return faults.Rejectf("plan: Step Functions has no execution %s", execution)
		}
		return fmt.Errorf("plan: DescribeExecution %s: %w", execution, err)
	}
	if got := aws.ToString(out.StateMachineArn); got != v.StateMachineArn {
		return faults.Rejectf("plan: execution %s runs state machine %s, not the guardbots state machine %s", execution, got, v.StateMachineArn)
	}
	if out.Status != sfntypes.ExecutionStatusRunning {
		return faults.Rejectf("plan: execution %s is %s, not running: its plan can no longer act", execution, out.Status)
	}
	return nil
}

// publicKey returns the signing key's public half, read once: a failed read is not kept, so the next
// call tries again.
func (v *Verifier) publicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.key != nil {
		return v.key, nil
	}
	if v.KMS == nil || v.KeyID == "" {
		return nil, errors.New("plan: no signing key configured")
	}
	out, err := v.KMS.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(v.KeyID)})
	if err != nil {
		return nil, fmt.Errorf("plan: GetPublicKey of KMS key %s: %w", v.KeyID, err)
	}
	key, err := parsePublicKey(out)
	if err != nil {
		return nil, faults.Fail(fmt.Errorf("plan: KMS key %s: %w", v.KeyID, err))
	}
	v.key = key
	return key, nil
}

// parsePublicKey accepts only what the plan is signed with: an ECC_NIST_P256 signing key offering
// ECDSA_SHA_256.
func parsePublicKey(out *kms.GetPublicKeyOutput) (*ecdsa.PublicKey, error) {
	if out.KeySpec != kmstypes.KeySpecEccNistP256 || out.KeyUsage != kmstypes.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("key spec %s, usage %s: want ECC_NIST_P256 for SIGN_VERIFY", out.KeySpec, out.KeyUsage)
	}
	if !slices.Contains(out.SigningAlgorithms, kmstypes.SigningAlgorithmSpecEcdsaSha256) {
		return nil, fmt.Errorf("key does not sign with ECDSA_SHA_256 (it offers %v)", out.SigningAlgorithms)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("public key is %T, not an ECDSA P-256 key", pub)
	}
	return key, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
