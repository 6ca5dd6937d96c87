// Package plan is how a bot knows the workflow vouched for what it is asked to do. The verify step
// signs each action of a remediate decision — the finding it read back from GuardDuty (by digest), the
// execution, the action's place in the decision, the bot, its mode and parameters, the time — with an
// asymmetric KMS key only verify may use (kms:Sign). Every bot verifies the signature locally with the
// key's public half before any rail, refuses a signature older than an execution can live, and asks Step
// Functions whether the execution is still running on the guardbots state machine; an approval is
// honoured only when that execution's own history shows the approval task succeeding with it. A direct
// invoke of a bot Lambda with a made-up finding, plan or approval therefore changes nothing.
//
// What is signed (Fields.Encode, version 1) is a sequence of length-prefixed byte strings, each a
// 4-byte big-endian length then the bytes, in a fixed order that starts with the version's name:
//
//	"guardbots.plan.v2", finding id, SHA-256 of the finding, execution ARN, action index (decimal),
//	bot, mode, onError, mapping key, parameters (canonical JSON), attack-sequence member (its JSON, empty
//	for every other action), signing time (RFC 3339, UTC, seconds)
//
// Version 2 added the member: an (action, member) pair of an attack sequence acts on the member it was
// signed for, and on no other member of the same (digest-bound) finding.
//
// Length prefixes make the encoding injective without any escaping rule: no choice of field values
// can be read as another (a finding id ending in what looks like an ARN stays a finding id). Canonical
// JSON (sorted keys) would also work, but "canonical" JSON has several definitions (RFC 8785's number and
// string rules are not encoding/json's), and a verifier in another language would have to match the
// signer's to the byte; a length-prefixed list of strings needs no such agreement. The two nested values
// are reduced to bytes by one Go function each, used by signer and verifier alike: the finding by its
// digest over encoding/json's rendering of finding.Finding (FindingDigest), the parameters by
// encoding/json's rendering of the bot's validated parameters (sorted keys, typed values:
// CanonicalParams). A change of fields, order or either rendering is a new version; a verifier refuses
// versions it does not know.
package plan

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// Version is the encoding Fields.Encode writes and the only one a verifier accepts.
const Version = 2

// versionName is the first field of every encoding: it separates these digests from any other use
// of the key, and names the version.
const versionName = "guardbots.plan.v2"

// findingDomain prefixes the finding's JSON in its digest.
const findingDomain = "guardbots.finding.v1\n"

// Fields are what one action's signature covers.
type Fields struct {
	FindingID string
	// FindingDigest is FindingDigest of the finding the bot is given: the finding verify read back.
	FindingDigest [sha256.Size]byte
	Execution     string
	Index         int
	Bot           string
	Mode          string
	OnError       string
	MappingKey    string
	// Params is CanonicalParams of the action's parameters.
	Params []byte
	// Member is MemberBytes of the action's attack-sequence member (empty when it has none).
	Member []byte
	// SignedAt is the signing time, whole seconds, UTC.
	SignedAt time.Time
}

// Encode is the canonical encoding of f (see the package comment).
func (f Fields) Encode() []byte {
	parts := [][]byte{
		[]byte(versionName),
		[]byte(f.FindingID),
		f.FindingDigest[:],
		[]byte(f.Execution),
		[]byte(strconv.Itoa(f.Index)),
		[]byte(f.Bot),
		[]byte(f.Mode),
		[]byte(f.OnError),
		[]byte(f.MappingKey),
		f.Params,
		f.Member,
		[]byte(f.SignedAt.UTC().Format(time.RFC3339)),
	}
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// Digest is the SHA-256 of the encoding: what KMS signs (message type DIGEST).
func (f Fields) Digest() [sha256.Size]byte { return sha256.Sum256(f.Encode()) }

// FindingDigest is the SHA-256 of the finding as encoding/json renders finding.Finding (struct fields in
// declaration order, map keys sorted), after one decode of that rendering: what a bot decodes from its
// input renders the same, whatever Step Functions did to the JSON's spacing, key order or number form,
// while any change of a value a bot could act on changes it. (The one decode makes a string with invalid
// UTF-8, which encoding/json rewrites, render as it will on the bot's side.)
func FindingDigest(f *finding.Finding) ([sha256.Size]byte, error) {
	if f == nil {
		return [sha256.Size]byte{}, fmt.Errorf("plan: no finding to digest")
	}
	b, err := json.Marshal(f)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("plan: encode finding %s: %w", f.ID, err)
	}
	var again finding.Finding
	if err := json.Unmarshal(b, &again); err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("plan: decode finding %s: %w", f.ID, err)
	}
	if b, err = json.Marshal(&again); err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("plan: encode finding %s: %w", f.ID, err)
	}
	h := sha256.New()
	h.Write([]byte(findingDomain))
	h.Write(b)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// CanonicalParams renders an action's parameters as the bot will use them: validated against the bot's
// declaration (defaults filled in, "5" and 5 both an int 5) and encoded by encoding/json with sorted keys.
// Two parameter sets that the bot would act on alike render alike; any other difference changes the bytes.
func CanonicalParams(bot string, raw map[string]any) ([]byte, error) {
	b, ok := bots.Lookup(bot)
	if !ok {
		return nil, fmt.Errorf("plan: bot %q is not registered", bot)
	}
	p, err := b.ParseParams(raw)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	out, err := json.Marshal(p.JSON())
	if err != nil {
		return nil, fmt.Errorf("plan: encode the parameters of %s: %w", bot, err)
	}
	return out, nil
}

// Action is one action as a bot (or notify) is given it: what its signature is checked against.
type Action struct {
	Finding    *finding.Finding
	Execution  string
	Index      int
	MappingKey string
	Action     mapping.Action
}

// Fields are what a signature made at signedAt covers for a.
func (a Action) Fields(signedAt time.Time) (Fields, error) {
	if a.Finding == nil || a.Finding.ID == "" {
		return Fields{}, fmt.Errorf("plan: the action has no finding")
	}
	if a.Execution == "" {
		return Fields{}, fmt.Errorf("plan: the action names no execution")
	}
	if a.Index < 0 {
		return Fields{}, fmt.Errorf("plan: action index %d", a.Index)
	}
	digest, err := FindingDigest(a.Finding)
	if err != nil {
		return Fields{}, err
	}
	params, err := CanonicalParams(a.Action.Bot, a.Action.Params)
	if err != nil {
		return Fields{}, err
	}
	member, err := MemberBytes(a.Action.Member)
	if err != nil {
		return Fields{}, err
	}
	return Fields{
		FindingID: a.Finding.ID, FindingDigest: digest, Execution: a.Execution, Index: a.Index,
		Bot: a.Action.Bot, Mode: a.Action.Mode, OnError: string(a.Action.OnError), MappingKey: a.MappingKey,
		Params: params, Member: member, SignedAt: signedAt.UTC().Truncate(time.Second),
	}, nil
}

// MemberBytes renders an action's attack-sequence member as encoding/json renders finding.Member
// (fields in declaration order); nil for none.
func MemberBytes(m *finding.Member) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("plan: encode member %s: %w", m, err)
	}
	return b, nil
}
