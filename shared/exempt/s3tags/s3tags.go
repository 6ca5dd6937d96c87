// Package s3tags reads the exemption tag of buckets. A bot family acting on buckets imports it, so the
// runner's exemption check works in its Lambdas.
package s3tags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader("s3:GetBucketTagging", bucketExempt) }

// bucketExempt reads the bucket as the bots address it: owned by the finding's account.
func bucketExempt(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
	out, err := s3.NewFromConfig(cfg).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(t.ID), ExpectedBucketOwner: aws.String(t.Account)})
	if err != nil {
		// NoSuchTagSet is S3's answer for a bucket without tags.
		if err = exempt.Ignore(err, "NoSuchTagSet"); err != nil {
			return false, exempt.Gone(err, "NoSuchBucket")
		}
		return false, nil
	}
	for _, tag := range out.TagSet {
		if aws.ToString(tag.Key) == bots.ExemptionTag {
			return true, nil
		}
	}
	return false, nil
}
