package ec2bots

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/finding"
)

// tagBot is the bot's name, in its messages and its declaration.
const tagBot = "ec2_tag_instance"

func init() {
	bots.Register(bots.Bot{
		Name: tagBot,
		Summary: "Tag the instance with the finding id, type, severity and time, so whoever looks at it " +
			"knows it is under investigation.",
		Resources:  ec2instance.InstanceOrCredentialResources,
		Targets:    ec2instance.InstanceOrSessionTargets,
		Related:    ec2instance.SessionInstance,
		Impact:     bots.ImpactEvidence,
		Operations: []string{"ec2:DescribeInstances", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return tagWithFinding(ctx, ec2.NewFromConfig(req.AWS), req)
		},
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
	ec2instance.Reader
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func tagWithFinding(ctx context.Context, api ec2TagAPI, req bots.Request) (bots.Result, error) {
	res, t, in, err := ec2instance.Begin(ctx, api, tagBot, req)
	if err != nil {
		return res, err
	}

	// Only the finding's own tags are compared: the bot and execution tags are rewritten by other bots
	// and differ on every run, and a re-run must be already-done.
	want := findingEvidenceTags(req.Finding)
	have := ec2instance.TagValues(in.Tags)
	var missing []bots.Tag
	res.Before, res.After = map[string]string{}, map[string]string{}
	for _, tg := range want {
		if v, ok := have[tg.Key]; ok {
			res.Before[tg.Key] = v
		}
		if have[tg.Key] != tg.Value {
			missing = append(missing, tg)
		}
		res.After[tg.Key] = tg.Value
	}
	if len(missing) == 0 {
		res.Status, res.After = bots.StatusAlreadyDone, nil
		res.Reason = fmt.Sprintf("instance %s already carries the tags of finding %s", t.ID, req.Finding.ID)
		return res, nil
	}
	keys := bots.TagKeys(missing)
	if req.DryRun {
		res.Status, res.After = bots.StatusDryRun, nil
		res.Changes = []string{fmt.Sprintf("would tag %s with %v", t.ID, keys)}
		return res, nil
	}
	// The evidence tags that differ, among the markers (which carry the finding id).
	evidence := slices.DeleteFunc(missing, func(tg bots.Tag) bool { return tg.Key == bots.TagFindingID })
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.Tags(bots.Markers(tagBot, req, t, evidence...))}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: tag %s: %w", tagBot, t.Where(), err)
	}
	res.Status = bots.StatusRemediated
	res.Changes = []string{fmt.Sprintf("tagged %s with %v", t.ID, keys)}
	return res, nil
}

// findingEvidenceTags are the tags that say which finding an instance is evidence of, each value
// bounded to EC2's 256 characters.
func findingEvidenceTags(f *finding.Finding) []bots.Tag {
	tags := []bots.Tag{
		{Key: bots.TagFindingID, Value: bots.TruncateTag(f.ID)},
		{Key: TagFindingType, Value: bots.TruncateTag(f.Type)},
		{Key: TagFindingSeverity, Value: severityTagValue(f)},
	}
	when := f.CreatedAt
	if when == "" {
		when = f.FirstSeen
	}
	if when != "" {
		tags = append(tags, bots.Tag{Key: TagFindingTime, Value: bots.TruncateTag(when)})
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
