// Package cloudtrailtags reads the exemption tag of CloudTrail trails. A bot family acting on trails
// imports it, so the runner's exemption check works in its Lambdas.
package cloudtrailtags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader("cloudtrail:ListTags", trailExempt) }

// trailExempt reads the trail's tags by its ARN, in the ARN's region: CloudTrail answers for a trail
// only in its home region.
func trailExempt(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
	if a, err := arn.Parse(t.ARN); err == nil && a.Region != "" {
		cfg = cfg.Copy()
		cfg.Region = a.Region
	}
	out, err := cloudtrail.NewFromConfig(cfg).ListTags(ctx, &cloudtrail.ListTagsInput{ResourceIdList: []string{t.ARN}})
	if err != nil {
		return false, exempt.Gone(err, "TrailNotFoundException", "ResourceNotFoundException", "CloudTrailARNInvalidException")
	}
	for _, r := range out.ResourceTagList {
		for _, tag := range r.TagsList {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
	}
	return false, nil
}
