// Package s3tags reads the exemption tag of the buckets findings name. A bot family acting on buckets
// imports it, so the runner's exemption check works in its Lambdas.
package s3tags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader(finding.KindS3Bucket, bucketExempt) }

func bucketExempt(ctx context.Context, cfg aws.Config, t exempt.Target) (bool, error) {
	out, err := s3.NewFromConfig(cfg).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(t.ID)})
	if err != nil {
		// NoSuchTagSet is S3's answer for a bucket without tags.
		return false, exempt.Ignore(err, "NoSuchTagSet", "NoSuchBucket")
	}
	for _, tag := range out.TagSet {
		if aws.ToString(tag.Key) == bots.ExemptionTag {
			return true, nil
		}
	}
	return false, nil
}
