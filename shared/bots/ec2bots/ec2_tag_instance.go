package ec2bots

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
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
	ec2instance.Reader
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func runEC2TagInstance(ctx context.Context, req bots.Request) (bots.Result, error) {
	return tagWithFinding(ctx, ec2.NewFromConfig(req.AWS), req)
}

func tagWithFinding(ctx context.Context, api ec2TagAPI, req bots.Request) (bots.Result, error) {
	const bot = "ec2_tag_instance"
	res, t, in, done, err := ec2instance.Live(ctx, api, bot, req)
	if done {
		return res, err
	}

	// Only the finding's own tags are compared: the bot and execution tags are rewritten by other bots
	// and differ on every run, and a re-run must be already-done.
	want := findingEvidenceTags(req.Finding)
	have := ec2instance.TagValues(in.Tags)
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
		res.Reason = fmt.Sprintf("instance %s already carries the tags of finding %s", t.ID, req.Finding.ID)
		return res, nil
	}
	keys := ec2instance.TagKeys(missing)
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would tag %s with %v", t.ID, keys)}
		return res, nil
	}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: slices.Concat(missing, []ec2types.Tag{{Key: aws.String(bots.TagBot), Value: aws.String(bot)}}, ec2instance.ExecutionTags(req))}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: tag %s: %w", bot, t.Where, err)
	}
	res.Status = bots.StatusRemediated
	res.Changes = []string{fmt.Sprintf("tagged %s with %v", t.ID, keys)}
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
