package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	bots.Register(bots.Bot{
		Name: "ec2_tag_instance",
		Summary: "Tag the instance with the finding id, type, severity and time, so whoever looks at it " +
			"knows it is under investigation.",
		Resources:  []finding.ResourceKind{finding.KindInstance},
		Impact:     bots.ImpactEvidence,
		Operations: []string{"ec2:DescribeInstances", "ec2:CreateTags"},
		Run:        runEC2TagInstance,
	})
}

// Finding tags written by ec2_tag_instance (beside TagFindingID and TagBot).
const (
	TagFindingType     = "guardbots:finding-type"
	TagFindingSeverity = "guardbots:finding-severity"
	// TagFindingTime is the finding's creation time: stable across GuardDuty's re-publications of the
	// same finding, so a re-published finding finds its tags already in place.
	TagFindingTime = "guardbots:finding-time"
)

// ec2TagAPI is what ec2_tag_instance calls.
type ec2TagAPI interface {
	liveInstanceReader
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func runEC2TagInstance(ctx context.Context, req bots.Request) (bots.Result, error) {
	return tagWithFinding(ctx, ec2.NewFromConfig(req.AWS), req)
}

func tagWithFinding(ctx context.Context, api ec2TagAPI, req bots.Request) (bots.Result, error) {
	const bot = "ec2_tag_instance"
	res, t, in, done, err := liveInstanceBot(ctx, api, bot, req)
	if done {
		return res, err
	}

	// Only the finding's own tags are compared: the bot and execution tags are rewritten by other bots
	// and differ on every run, and a re-run must be already-done.
	want := findingEvidenceTags(req.Finding)
	have := ec2TagValues(in.Tags)
	var missing []ec2types.Tag
	for _, tg := range want {
		if have[aws.ToString(tg.Key)] != aws.ToString(tg.Value) {
			missing = append(missing, tg)
		}
	}
	res.Before = map[string]string{}
	for _, tg := range want {
		if v, ok := have[aws.ToString(tg.Key)]; ok {
			res.Before[aws.ToString(tg.Key)] = v
		}
	}
	if len(missing) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s already carries the tags of finding %s", t.id, req.Finding.ID)
		return res, nil
	}
	keys := tagKeys(missing)
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would tag %s with %v", t.id, keys)}
		return res, nil
	}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.id}, Tags: slices.Concat(missing, []ec2types.Tag{{Key: aws.String(bots.TagBot), Value: aws.String(bot)}}, executionTags(req))}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: tag %s: %w", bot, t.where, err)
	}
	res.Status = bots.StatusRemediated
	res.Changes = []string{fmt.Sprintf("tagged %s with %v", t.id, keys)}
	res.After = map[string]string{}
	for _, tg := range want {
		res.After[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return res, nil
}

// findingEvidenceTags are the tags that say which finding an instance is evidence of, each value bounded to
// EC2's 256 characters.
func findingEvidenceTags(f *finding.Finding) []ec2types.Tag {
	tags := []ec2types.Tag{
		{Key: aws.String(bots.TagFindingID), Value: aws.String(bots.TruncateTag(f.ID))},
		{Key: aws.String(TagFindingType), Value: aws.String(bots.TruncateTag(f.Type))},
		{Key: aws.String(TagFindingSeverity), Value: aws.String(severityTagValue(f))},
	}
	when := f.CreatedAt
	if when == "" {
		when = f.FirstSeen
	}
	if when != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(TagFindingTime), Value: aws.String(bots.TruncateTag(when))})
	}
	return tags
}

func severityTagValue(f *finding.Finding) string {
	v := strconv.FormatFloat(f.Severity, 'f', 1, 64)
	if f.SeverityLabel != "" {
		v += " " + string(f.SeverityLabel)
	}
	return v
}

// --- Shared by the instance bots (create_snapshot, tag_instance, detach_*, deregister_*, terminate) ---

// targetInstance is the instance an instance bot acts on.
type targetInstance struct {
	id string
	// where names the instance, account and region for error messages.
	where string
}

// beginInstanceBot checks that req is about an EC2 instance with a well-formed id and starts the
// Result. ok is false when the bot must return (res, err) at once: a skip for another resource kind,
// or a rejection.
func beginInstanceBot(bot string, req bots.Request) (res bots.Result, t targetInstance, ok bool, err error) {
	f := req.Finding
	if f == nil {
		return bots.Result{}, t, false, faults.Rejectf("%s: no finding in the request", bot)
	}
	res = bots.Result{Bot: bot, Account: f.AccountID, Region: f.Region, DryRun: req.DryRun}
	if f.ResourceKind != finding.KindInstance || f.Instance == nil || f.Instance.ID == "" {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("finding is about a %s resource, not an EC2 instance", f.ResourceKind)
		return res, t, false, nil
	}
	id := f.Instance.ID
	if !instanceIDRE.MatchString(id) {
		return bots.Result{}, t, false, faults.Rejectf("%s: %q is not an EC2 instance id", bot, id)
	}
	res.Resources = []string{id}
	return res, targetInstance{id: id, where: fmt.Sprintf("%s in %s/%s", id, f.AccountID, f.Region)}, true, nil
}

// liveInstanceBot is beginInstanceBot plus the live read of the instance: done is true when res (or
// err) is already the bot's answer — not an instance finding, the read failed, or the instance is gone.
func liveInstanceBot(ctx context.Context, api liveInstanceReader, bot string, req bots.Request) (res bots.Result, t targetInstance, in *ec2types.Instance, done bool, err error) {
	res, t, ok, err := beginInstanceBot(bot, req)
	if !ok {
		return res, t, nil, true, err
	}
	if in, err = readInstance(ctx, api, t.id); err != nil {
		return bots.Result{}, t, nil, true, fmt.Errorf("%s: describe %s: %w", bot, t.where, err)
	}
	if reason := instanceGoneReason(in, t.id); reason != "" {
		res.Status, res.Reason = bots.StatusSkipped, reason
		return res, t, nil, true, nil
	}
	return res, t, in, false, nil
}

type liveInstanceReader interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// readInstance reads the instance from AWS; nil means it does not exist (any more).
func readInstance(ctx context.Context, api liveInstanceReader, id string) (*ec2types.Instance, error) {
	out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if bots.APIErrorCode(err) == "InvalidInstanceID.NotFound" {
			return nil, nil
		}
		return nil, err
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return &r.Instances[i], nil
			}
		}
	}
	return nil, nil
}

// instanceGoneReason is the skip reason for an instance that no longer exists or is being terminated, "" when
// it is there to act on.
func instanceGoneReason(in *ec2types.Instance, id string) string {
	if in == nil {
		return fmt.Sprintf("instance %s no longer exists", id)
	}
	if in.State != nil {
		switch s := in.State.Name; s {
		case ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameShuttingDown:
			return fmt.Sprintf("instance %s is %s", id, s)
		}
	}
	return ""
}

func ec2TagValues(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// executionTags is the execution ARN as a tag, or nothing when it is absent or too long for a tag value.
func executionTags(req bots.Request) []ec2types.Tag {
	if req.Execution == "" || len(req.Execution) > bots.MaxTagValue {
		return nil
	}
	return []ec2types.Tag{{Key: aws.String(bots.TagExecution), Value: aws.String(req.Execution)}}
}

// actedTags mark an instance a bot changed: finding id, bot, execution and a marker of the bot's own
// (TagBot only holds whichever bot tagged last). Detachment bots read the marker back to tell "already
// detached for this finding" (already-done) from "never attached" (skipped).
func actedTags(bot string, req bots.Request, extra ...ec2types.Tag) []ec2types.Tag {
	id := aws.String(bots.TruncateTag(req.Finding.ID))
	tags := []ec2types.Tag{
		{Key: aws.String(bots.TagFindingID), Value: id},
		{Key: aws.String(bots.TagBot), Value: aws.String(bot)},
		{Key: aws.String(botMarkerKey(bot)), Value: id},
	}
	return append(append(tags, extra...), executionTags(req)...)
}

// botMarkerKey is the tag key whose value is the finding id bot last acted for.
func botMarkerKey(bot string) string { return "guardbots:" + bot }

// actedOn reports whether the live instance carries bot's marker for this finding. It only picks the
// wording (already-done or skipped) when there is nothing to do, never whether to act.
func actedOn(in *ec2types.Instance, bot string, f *finding.Finding) bool {
	return ec2TagValues(in.Tags)[botMarkerKey(bot)] == bots.TruncateTag(f.ID)
}

// rememberUndo stores what restores the instance (a removed instance profile, the target groups left)
// in the state table when the orchestrator provides one: the Result's Before reaches the notification,
// but only the table is safe from whoever controls the instance.
func rememberUndo(ctx context.Context, req bots.Request, bot, id string, value any) error {
	if req.State == nil {
		return nil
	}
	doc, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return req.State.Put(ctx, undoStateKey(bot, req.Finding, id), doc)
}

// undoStateKey is the state-table key of what bot must remember about instance id.
func undoStateKey(bot string, f *finding.Finding, id string) string {
	return bot + "#" + f.AccountID + "#" + f.Region + "#" + id
}

// tagKeys lists the tag keys, for Changes lines.
func tagKeys(tags []ec2types.Tag) []string {
	out := make([]string, 0, len(tags))
	for _, tg := range tags {
		out = append(out, aws.ToString(tg.Key))
	}
	return slices.Sorted(slices.Values(out))
}
