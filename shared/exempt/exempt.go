// Package exempt reads the exemption tag (bots.ExemptionTag, "guardbots:exempt", any value) on the live
// targets an action touches — exactly those the runner resolved and hands the bot, addressed as the bot
// addresses them — in the finding's account, with the bot's own (assumed-role) configuration. The tags
// in the finding are a snapshot taken when GuardDuty saw the activity: an owner who tagged the resource
// since, or removed the tag, must be obeyed, so they are never used here.
//
// Each kind of target names the operation that reads its tag (finding.TargetSpec.TagRead); the
// registry adds those to every bot that changes something, so the member roles grant them. Each
// operation is implemented in a small package beside its AWS service (ec2tags, iamtags, s3tags,
// lambdatags, rdstags) that registers it with RegisterReader (and, where a relation goes through the
// service, its lookup with bots.RegisterLookup): a bot family imports those of the targets its bots
// act on, so a bot's Lambda links only the SDK clients it needs. This package imports none.
package exempt

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/finding"
)

// Reader reports whether target t carries the exemption tag now. A target that does not exist is an
// error that Is ErrGone (see Gone).
type Reader func(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error)

// readers are the tag reads linked into this binary, by operation; registered at init only.
var readers = map[string]Reader{}

// RegisterReader links the implementation of a tag-read operation (finding.TargetSpec.TagRead); the
// per-service packages call it from init.
func RegisterReader(op string, r Reader) {
	if _, dup := readers[op]; dup {
		panic(fmt.Sprintf("exempt: a reader of %s is registered twice", op))
	}
	readers[op] = r
}

// ReaderLinked reports whether the tag-read operation op is linked into this binary.
func ReaderLinked(op string) bool { return readers[op] != nil }

// ErrGone is what a Reader's error Is when the target does not exist: its tags cannot be read, so it is
// not changed.
var ErrGone = errors.New("no longer exists")

// Gone turns the listed "no such resource" error codes into an error that Is ErrGone, for readers.
func Gone(err error, codes ...string) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		for _, c := range codes {
			if api.ErrorCode() == c {
				return fmt.Errorf("%w (%s)", ErrGone, c)
			}
		}
	}
	return err
}

// Ignore turns the listed error codes into no error: for answers that mean "no tags" rather than a
// failure (S3's NoSuchTagSet).
func Ignore(err error, codes ...string) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		for _, c := range codes {
			if api.ErrorCode() == c {
				return nil
			}
		}
	}
	return err
}

// Verdict is what the exemption rail learned from the targets' live tags.
type Verdict struct {
	// Exempt is the first target that carries the exemption tag, if one does: the action is not run.
	Exempt *finding.Target
	// Gone are the targets whose tags could not be read because they do not exist: they are not
	// changed, and the reason says so.
	Gone []Unreadable
}

// Unreadable is a target whose tags could not be read, and why.
type Unreadable struct {
	Target finding.Target
	Reason string
}

// Check reads the exemption tag of every target, in order, until one carries it. A target whose kind
// has nothing taggable (root credentials) is passed over. A target that does not exist goes to Gone;
// any other read error is returned, and the caller must not act (fail closed) — as when the binary
// links no reader for a target's tag read.
func Check(ctx context.Context, cfg aws.Config, targets []finding.Target) (Verdict, error) {
	var v Verdict
	for _, t := range targets {
		op := finding.Spec(t.Kind).TagRead
		if op == "" {
			continue
		}
		read := readers[op]
		if read == nil {
			return Verdict{}, fmt.Errorf("exemption check of %s: no reader of %s is linked into this binary (import its shared/exempt/… package)", t.Where(), op)
		}
		tagged, err := read(ctx, cfg, t)
		switch {
		case errors.Is(err, ErrGone):
			v.Gone = append(v.Gone, Unreadable{Target: t, Reason: fmt.Sprintf("%s %s %v, so its exemption tag cannot be read", finding.Spec(t.Kind).Noun, t.ID, err)})
		case err != nil:
			return Verdict{}, fmt.Errorf("exemption check of %s: %w", t.Where(), err)
		case tagged:
			v.Exempt = &t
			return v, nil
		}
	}
	return v, nil
}
