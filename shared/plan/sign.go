package plan

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// SignAPI is the KMS call the verify step makes.
type SignAPI interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

// Signer signs plans with an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): only the verify step's
// role may call kms:Sign on it. Safe for concurrent use.
type Signer struct {
	KMS   SignAPI
	KeyID string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Sign signs every action of d for finding f in execution, in place: d.Actions[i].Signature. The
// actions are signed concurrently (one KMS request each); any failure fails the whole plan, and no
// action keeps a signature then.
func (s Signer) Sign(ctx context.Context, f *finding.Finding, d *mapping.Decision, execution string) error {
	if s.KMS == nil || s.KeyID == "" {
		return errors.New("plan: no signing key configured")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	sigs := make([]*mapping.Signature, len(d.Actions))
	errs := make([]error, len(d.Actions))
	var wg sync.WaitGroup
	for i, a := range d.Actions {
		wg.Go(func() {
			sigs[i], errs[i] = s.sign(ctx, Action{Finding: f, Execution: execution, Index: i, MappingKey: d.Key, Action: a}, now)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range d.Actions {
		d.Actions[i].Signature = sigs[i]
	}
	return nil
}

// SignAction signs one action (what Sign does for each action of a decision).
func (s Signer) SignAction(ctx context.Context, a Action) (*mapping.Signature, error) {
	if s.KMS == nil || s.KeyID == "" {
		return nil, errors.New("plan: no signing key configured")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	return s.sign(ctx, a, now)
}

func (s Signer) sign(ctx context.Context, a Action, now time.Time) (*mapping.Signature, error) {
	fields, err := a.Fields(now)
	if err != nil {
		return nil, fmt.Errorf("sign action %d (%s): %w", a.Index+1, a.Action.Bot, err)
	}
	digest := fields.Digest()
	out, err := s.KMS.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.KeyID),
		Message:          digest[:],
		MessageType:      kmstypes.MessageTypeDigest,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("sign action %d (%s) with KMS key %s: %w", a.Index+1, a.Action.Bot, s.KeyID, err)
	}
	if len(out.Signature) == 0 {
		return nil, fmt.Errorf("sign action %d (%s): KMS returned no signature", a.Index+1, a.Action.Bot)
	}
	return &mapping.Signature{
		Version:  Version,
		SignedAt: fields.SignedAt.Format(time.RFC3339),
		Value:    base64.StdEncoding.EncodeToString(out.Signature),
	}, nil
}
