package bots

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// Begin is how every bot starts: its result, saying where it acts, and its target of kind k, which the
// runner resolved and validated before any rail (Bot.Resolve). A request without one was not resolved
// and is rejected: a bot never takes an identifier from the finding itself.
func Begin(bot string, req Request, k finding.TargetKind) (Result, finding.Target, error) {
	if req.Finding == nil {
		return Result{}, finding.Target{}, faults.Rejectf("%s: no finding in the request", bot)
	}
	res := start(bot, req)
	if ts := req.TargetsOf(k); len(ts) > 0 {
		res.Resources = []string{ts[0].ID}
		return res, ts[0], nil
	}
	return Result{}, finding.Target{}, faults.Rejectf("%s: the request names no %s target (the runner resolves the targets before a bot runs)", bot, k)
}

func start(bot string, req Request) Result {
	res := Result{Bot: bot, DryRun: req.DryRun}
	if req.Finding != nil {
		res.Account, res.Region = req.Finding.AccountID, req.Finding.Region
	}
	return res
}

// TargetsOf returns the request's targets of kind k, the finding's own first, then the related ones.
func (r Request) TargetsOf(k finding.TargetKind) []finding.Target {
	var out []finding.Target
	for _, t := range slices.Concat(r.Targets, r.Related) {
		if t.Kind == k {
			out = append(out, t)
		}
	}
	return out
}

// Skipped is how a bot, or a helper it calls (a live read that finds the resource gone), says it does
// not act and why. Register turns it into a skipped Result, so a skip leaves a bot the same way a
// failure does.
type Skipped struct{ Reason string }

func (s *Skipped) Error() string { return "skipped: " + s.Reason }

// Skip is a Skipped error with the reason.
func Skip(format string, args ...any) error { return &Skipped{Reason: fmt.Sprintf(format, args...)} }

// skipsAsResults wraps a bot's Run so a Skipped error becomes the skipped Result.
func skipsAsResults(bot string, run func(context.Context, Request) (Result, error)) func(context.Context, Request) (Result, error) {
	return func(ctx context.Context, req Request) (Result, error) {
		res, err := run(ctx, req)
		var s *Skipped
		if !errors.As(err, &s) {
			return res, err
		}
		if res.Bot == "" {
			res = start(bot, req)
		}
		return SkipBecause(res, s.Reason), nil
	}
}

// Resolve fills req's targets as the runner does before any rail: the finding's of b's kinds
// (TargetsOf), then the related ones, live (RelatedOf), with req.AWS. skip says why there is nothing to
// act on; an error is a malformed identifier (a rejection) or a failed read.
func (b Bot) Resolve(ctx context.Context, req *Request) (skip string, err error) {
	if req.Targets, skip, err = b.TargetsOf(req.Finding); err != nil || skip != "" {
		return skip, err
	}
	req.Related, skip, err = b.RelatedOf(ctx, req.AWS, req.Finding, req.Targets)
	return skip, err
}

// TargetsOf resolves the finding's targets of the kinds b acts on (finding.Targets). When the finding
// names only targets of other kinds, skip says so, with why no bot acts on them or which bots do.
func (b Bot) TargetsOf(f *finding.Finding) (targets []finding.Target, skip string, err error) {
	if len(b.Targets) == 0 {
		return nil, "", nil
	}
	all, err := finding.Targets(f)
	if err != nil {
		return nil, "", fmt.Errorf("bot %s: %w", b.Name, err)
	}
	var other []finding.Target
	for _, t := range all {
		if slices.Contains(b.Targets, t.Kind) {
			targets = append(targets, t)
		} else {
			other = append(other, t)
		}
	}
	if len(targets) > 0 {
		return targets, "", nil
	}
	kinds := kindList(b.Targets)
	if len(other) == 0 {
		return nil, fmt.Sprintf("the finding names no %s target", kinds), nil
	}
	t := other[0]
	skip = fmt.Sprintf("%s acts on %s targets, not on %s", b.Name, kinds, t)
	if why := finding.Spec(t.Kind).Refused; why != "" {
		return nil, skip + ": " + why, nil
	}
	if others := botsActingOn(t.Kind); len(others) == 1 {
		return nil, skip + " (" + others[0] + " acts on those)", nil
	} else if len(others) > 1 {
		return nil, skip + " (" + strings.Join(others, ", ") + " act on those)", nil
	}
	return nil, skip + " (no bot acts on those)", nil
}

// RelatedOf finds b's related targets live: for each relation, from each target it starts from, the
// way there the finding gives (validated), read with cfg by the relation's lookup.
func (b Bot) RelatedOf(ctx context.Context, cfg aws.Config, f *finding.Finding, targets []finding.Target) (related []finding.Target, skip string, err error) {
	for _, r := range b.Related {
		spec, _ := finding.RelationOf(r)
		for _, from := range targets {
			if from.Kind != spec.From {
				continue
			}
			via, skip, err := spec.Via(f, from)
			if err != nil || skip != "" {
				return nil, skip, err
			}
			look := lookups[r]
			if look == nil {
				return nil, "", faults.Fail(fmt.Errorf("bot %s: no lookup of %s (%s) is linked into this binary (import its shared/exempt/… package)", b.Name, r, spec.Lookup))
			}
			found, skip, err := look(ctx, cfg, via)
			if err != nil {
				return nil, "", fmt.Errorf("bot %s: read %s: %w", b.Name, via.Where(), err)
			}
			if skip != "" {
				return nil, skip, nil
			}
			for _, t := range found {
				if t.Kind != spec.To {
					return nil, "", faults.Fail(fmt.Errorf("bot %s: the lookup of %s found %s, not a %s", b.Name, r, t, spec.To))
				}
				if err := t.Validate(); err != nil {
					return nil, "", err
				}
				t.Account, t.Region, t.Partition = via.Account, via.Region, via.Partition
				t.Via = via.String() + " of " + from.String()
				related = append(related, t)
			}
		}
	}
	return related, "", nil
}

// RelationLookup reads the resource a relation goes through (finding.RelationSpec.Via) and names the related
// targets; skip says why there are none (the resource is gone, or leads nowhere).
type RelationLookup func(ctx context.Context, cfg aws.Config, via finding.Target) (related []finding.Target, skip string, err error)

// lookups are the relation lookups linked into this binary; registered at init only.
var lookups = map[finding.Relation]RelationLookup{}

// RegisterLookup links the lookup of relation r; the shared/exempt/<service>tags packages call it from
// init, beside their exemption tag reads.
func RegisterLookup(r finding.Relation, l RelationLookup) {
	if _, dup := lookups[r]; dup {
		panic(fmt.Sprintf("bots: a lookup of %s is registered twice", r))
	}
	lookups[r] = l
}

// LookupLinked reports whether the lookup of relation r is linked into this binary.
func LookupLinked(r finding.Relation) bool { return lookups[r] != nil }

// botsActingOn names the bots whose targets include kind k.
func botsActingOn(k finding.TargetKind) []string {
	var out []string
	for _, b := range Registered() {
		if slices.Contains(b.Targets, k) {
			out = append(out, b.Name)
		}
	}
	return out
}

func kindList(ks []finding.TargetKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}

// Tag is one tag a bot writes, whatever the service's own tag type.
type Tag struct{ Key, Value string }

// Markers are the tags a bot writes on target t when it changed it, so whoever looks at t sees why:
// the finding id, the bot, extra (a bot's own), and the execution when it fits in a tag value. A kind
// that takes no markers (finding.TargetSpec.Marked) gets none. Each service turns them into its own
// tag type in one place (ec2instance.Tags, iambots' iamTags, …).
func Markers(bot string, req Request, t finding.Target, extra ...Tag) []Tag {
	if !finding.Spec(t.Kind).Marked {
		return nil
	}
	tags := append([]Tag{{TagFindingID, TruncateTag(req.Finding.ID)}, {TagBot, bot}}, extra...)
	if req.Execution != "" && len(req.Execution) <= MaxTagValue {
		tags = append(tags, Tag{TagExecution, req.Execution})
	}
	return tags
}

// TagKeys lists the tags' keys, sorted, for Changes lines.
func TagKeys(tags []Tag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.Key
	}
	slices.Sort(out)
	return out
}
