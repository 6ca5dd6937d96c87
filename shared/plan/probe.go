package plan

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/org"
)

// A probe is the member-role health check's request to a bot (shared/health): assume your own member
// role in these accounts and call nothing else. It is signed like a plan but with a key of its own (the
// probe key, kms:Sign for the health check's role only) and an encoding of its own, so neither a probe
// signature nor the probe key can ever vouch for a plan: KMS signs any digest it is given, and a role
// able to sign probes with the plan key could sign plans too.
//
// What is signed (version 1), length-prefixed as Fields.Encode:
//
//	"guardbots.probe.v1", execution ARN, bot, accounts (sorted, comma-joined), signing time (RFC 3339)
const probeVersionName = "guardbots.probe.v1"

// ProbeVersion is the probe encoding's version (probeVersionName's), apart from the plan's Version: a
// plan encoding change (v2 signs an attack-sequence member) leaves probes as they were.
const ProbeVersion = 1

// ProbeMaxAge is how old a probe signature may be: the health check invokes each bot right after
// signing its probe, and a probe only ever asks for an AssumeRole.
const ProbeMaxAge = 15 * time.Minute

// MaxProbeAccounts bounds one probe (an organization holds at most a few thousand accounts by default;
// the health check splits larger lists).
const MaxProbeAccounts = 1000

// Probe is what a bot is given in probe mode.
type Probe struct {
	// Execution is the member-health state machine's execution that asked (its $$.Execution.Id).
	Execution string   `json:"execution"`
	Bot       string   `json:"bot"`
	Accounts  []string `json:"accounts"`
	// Signature is the probe key's signature over the fields above.
	Signature *ProbeSignature `json:"signature,omitempty"`
}

// ProbeSignature is a probe's signature and when it was made.
type ProbeSignature struct {
	Version  int    `json:"version"`
	SignedAt string `json:"signedAt"`
	Value    string `json:"value"`
}

// Check validates a probe's fields, before any signature is looked at: a bot, an execution, 1 to
// MaxProbeAccounts distinct 12-digit account ids.
func (p Probe) Check() error {
	if p.Bot == "" || p.Execution == "" {
		return faults.Rejectf("probe: names no bot or no execution")
	}
	if len(p.Accounts) == 0 || len(p.Accounts) > MaxProbeAccounts {
		return faults.Rejectf("probe: %d accounts, want 1 to %d", len(p.Accounts), MaxProbeAccounts)
	}
	seen := map[string]bool{}
	for _, a := range p.Accounts {
		if !org.IsAccountID(a) {
			return faults.Rejectf("probe: %q is not a 12-digit account id", clip(a))
		}
		if seen[a] {
			return faults.Rejectf("probe: account %s is listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// digest is what the probe key signs for p at signedAt.
func (p Probe) digest(signedAt time.Time) [sha256.Size]byte {
	accounts := slices.Clone(p.Accounts)
	slices.Sort(accounts)
	var out []byte
	for _, part := range []string{probeVersionName, p.Execution, p.Bot, strings.Join(accounts, ","), signedAt.UTC().Format(time.RFC3339)} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(part)))
		out = append(out, part...)
	}
	return sha256.Sum256(out)
}

// SignProbe signs p with the probe key (s.KeyID), in place.
func (s Signer) SignProbe(ctx context.Context, p *Probe) error {
	if s.KMS == nil || s.KeyID == "" {
		return errors.New("probe: no probe key configured")
	}
	if err := p.Check(); err != nil {
		return err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	at := now.UTC().Truncate(time.Second)
	d := p.digest(at)
	out, err := s.KMS.Sign(ctx, &kms.SignInput{KeyId: aws.String(s.KeyID), Message: d[:], MessageType: kmstypes.MessageTypeDigest,
		SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		return fmt.Errorf("probe for %s: sign with KMS key %s: %w", p.Bot, s.KeyID, err)
	}
	if len(out.Signature) == 0 {
		return fmt.Errorf("probe for %s: KMS returned no signature", p.Bot)
	}
	p.Signature = &ProbeSignature{Version: ProbeVersion, SignedAt: at.Format(time.RFC3339), Value: base64.StdEncoding.EncodeToString(out.Signature)}
	return nil
}

// CheckProbe verifies p for bot: its fields, the probe key's signature, its age (ProbeMaxAge), and that
// its execution runs on the member-health state machine (v.StateMachineArn is that machine here: a
// Verifier for probes is built with the probe key and the health state machine). Refusals are
// faults.Rejected.
func (v *Verifier) CheckProbe(ctx context.Context, bot string, p Probe) error {
	if p.Bot != bot {
		return faults.Rejectf("probe: bot %s was sent a probe for %q", bot, clip(p.Bot))
	}
	if err := p.Check(); err != nil {
		return err
	}
	sig := p.Signature
	if sig == nil || sig.Value == "" {
		return faults.Rejectf("probe: not signed: only the member-role health check's signed probe is run")
	}
	if sig.Version != ProbeVersion {
		return faults.Rejectf("probe: signed in encoding version %d; this bot knows version %d", sig.Version, ProbeVersion)
	}
	at, err := time.Parse(time.RFC3339, sig.SignedAt)
	if err != nil {
		return faults.Rejectf("probe: signing time %q is not RFC 3339", clip(sig.SignedAt))
	}
	now := v.now()
	if at.After(now.Add(ClockSkew)) {
		return faults.Rejectf("probe: signed at %s, in the future", sig.SignedAt)
	}
	if age := now.Sub(at); age > ProbeMaxAge {
		return faults.Rejectf("probe: signed %s ago, longer than a probe lives (%s)", age.Round(time.Second), ProbeMaxAge)
	}
	der, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil {
		return faults.Rejectf("probe: the signature is not base64")
	}
	key, err := v.publicKey(ctx)
	if err != nil {
		return err
	}
	d := p.digest(at)
	if !ecdsa.VerifyASN1(key, d[:], der) {
		return faults.Rejectf("probe: the signature does not match this execution, bot and accounts: the health check did not sign it")
	}
	return v.Running(ctx, p.Execution)
}

// Probe states: what one AssumeRole of a member role answered.
const (
	ProbeOK = "ok"
	// ProbeDenied: AccessDenied — the role is missing or its trust does not admit the bot's Lambda role
	// (with this ExternalId, source identity, organization): AssumeRole cannot tell them apart.
	ProbeDenied = "denied"
	// ProbeThrottled: STS throttled the call after the SDK's retries; the role's health is unknown.
	ProbeThrottled = "throttled"
	// ProbeError: anything else (no ExternalId configured, STS not enabled in the region, the bot's
	// Lambda failed): the detail says what.
	ProbeError = "error"
)

// ProbeStates are every state, in the order a report lists them.
var ProbeStates = []string{ProbeOK, ProbeDenied, ProbeThrottled, ProbeError}

// ProbeResult is one account's answer.
type ProbeResult struct {
	Account string `json:"account"`
	State   string `json:"state"`
	// Role is the member role assumed ("" in the orchestrator's own account, where the bot uses its
	// Lambda role).
	Role   string `json:"role,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// ProbeReport is a bot's answer to a probe.
type ProbeReport struct {
	Bot     string        `json:"bot"`
	Results []ProbeResult `json:"results"`
}
