// Package ec2tags makes the EC2 reads the runner makes before a bot acts on instances: their exemption
// tags, and the instance an instance-credential finding's session leads to (finding.RelSessionInstance).
// A bot family acting on instances imports it, so the runner's checks work in its Lambdas.
package ec2tags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	exempt.RegisterReader("ec2:DescribeTags", resourceExempt)
	bots.RegisterLookup(finding.RelSessionInstance, sessionInstance)
}

// sessionInstance reads the instance a session is named after (finding.RelSessionInstance's Via): it is
// the related target while it runs; gone or terminating, there is nothing to act on.
func sessionInstance(ctx context.Context, cfg aws.Config, via finding.Target) ([]finding.Target, string, error) {
	in, err := ec2instance.Read(ctx, ec2.NewFromConfig(cfg), via.ID)
	if err != nil {
		return nil, "", err
	}
	if reason := ec2instance.GoneReason(in, via.ID); reason != "" {
		return nil, reason, nil
	}
	return []finding.Target{{Kind: finding.TargetInstance, ID: via.ID, ARN: via.ARN}}, "", nil
}

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
