// Package ec2tags reads the exemption tag of EC2 targets (instances). A bot family acting on instances
// imports it, so the runner's exemption check works in its Lambdas.
package ec2tags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader("ec2:DescribeTags", resourceExempt) }

// resourceExempt reads the tag of any EC2 resource by its id. DescribeTags answers a resource that no
// longer exists with no tags, not an error: the bot's own live read then finds it gone and skips.
func resourceExempt(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
	out, err := ec2.NewFromConfig(cfg).DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("resource-id"), Values: []string{t.ID}},
		{Name: aws.String("key"), Values: []string{bots.ExemptionTag}},
	}})
	if err != nil {
		return false, err
	}
	for _, tag := range out.Tags {
		if aws.ToString(tag.Key) == bots.ExemptionTag && aws.ToString(tag.ResourceId) == t.ID {
			return true, nil
		}
	}
	return false, nil
}
