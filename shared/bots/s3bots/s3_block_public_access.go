package s3bots

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// s3_block_public_access does not tag buckets: PutBucketTagging replaces the whole tag set, and a
// read-modify-write could drop tags the owner wrote meanwhile (or break tag-based access control). The
// notification and CloudTrail record the change.
// bucketBlockBot is the bot's name, in its messages and its declaration.
const bucketBlockBot = "s3_block_public_access"

func init() {
	bots.Register(bots.Bot{
		Name:       bucketBlockBot,
		Summary:    "Turn on all four bucket-level public access block settings on every bucket in the finding.",
		Resources:  []finding.ResourceKind{finding.KindS3Bucket},
		Targets:    []finding.TargetKind{finding.TargetBucket},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"s3:GetPublicAccessBlock", "s3:PutPublicAccessBlock"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return blockBucketPublicAccess(ctx, s3.NewFromConfig(req.AWS), req)
		},
	})
}

// s3BlockAPI is what s3_block_public_access calls.
type s3BlockAPI interface {
	GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
}

func blockBucketPublicAccess(ctx context.Context, api s3BlockAPI, req bots.Request) (bots.Result, error) {
	// Every bucket of the finding, each once.
	res, _, err := bots.Begin(bucketBlockBot, req, finding.TargetBucket)
	if err != nil {
		return res, err
	}
	f, targets := req.Finding, req.TargetsOf(finding.TargetBucket)
	res.Resources = nil
	for _, t := range targets {
		res.Resources = append(res.Resources, t.ID)
	}
	res.Before, res.After = map[string]string{}, map[string]string{}

	var gone, blocked, changed []string
	for _, t := range targets {
		b, where := t.ID, t.Where()
		cfg, exists, err := bucketPublicAccessBlock(ctx, api, b, f.AccountID)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: read the public access block of %s%s: %w", bucketBlockBot, where, doneSoFar(req.DryRun, changed), err)
		}
		if !exists {
			gone = append(gone, b)
			res.Before[b] = "bucket gone"
			continue
		}
		res.Before[b] = describeBlock(cfg)
		if fullyBlocked(cfg) {
			blocked = append(blocked, b)
			continue
		}
		if req.DryRun {
			changed = append(changed, b)
			res.Changes = append(res.Changes, fmt.Sprintf("would block all public access to bucket %s (now %s)", b, res.Before[b]))
			continue
		}
		if _, err := api.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
			Bucket: aws.String(b), ExpectedBucketOwner: aws.String(f.AccountID),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
			},
		}); err != nil {
			if bots.APIErrorCode(err) == "NoSuchBucket" {
				gone = append(gone, b)
				res.Before[b] = "bucket gone"
				continue
			}
			return bots.Result{}, fmt.Errorf("%s: block public access to %s%s: %w", bucketBlockBot, where, doneSoFar(req.DryRun, changed), err)
		}
		slog.InfoContext(ctx, "bucket public access blocked", "bot", bucketBlockBot, "finding", f.ID, "account", f.AccountID, "bucket", b)
		changed = append(changed, b)
		res.After[b] = describeBlock(&s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		})
		res.Changes = append(res.Changes, fmt.Sprintf("blocked all public access to bucket %s (was %s)", b, res.Before[b]))
	}
	for _, b := range blocked {
		res.Changes = append(res.Changes, fmt.Sprintf("bucket %s already blocks all public access", b))
	}
	for _, b := range gone {
		res.Changes = append(res.Changes, fmt.Sprintf("bucket %s no longer exists", b))
	}
	switch {
	case len(changed) > 0 && req.DryRun:
		res.Status = bots.StatusDryRun
	case len(changed) > 0:
		res.Status = bots.StatusRemediated
	case len(blocked) > 0:
		res.Status = bots.StatusAlreadyDone
		res.Reason = "every bucket in the finding already blocks all public access"
		if len(gone) > 0 {
			res.Reason += fmt.Sprintf("; gone: %s", strings.Join(gone, ", "))
		}
	default:
		return bots.SkipBecause(res, fmt.Sprintf("no bucket in the finding exists any more: %s", strings.Join(gone, ", "))), nil
	}
	if len(res.After) == 0 {
		res.After = nil
	}
	return res, nil
}

// bucketPublicAccessBlock reads the bucket's block; a bucket without one has every setting off.
// exists is false when the bucket is gone.
func bucketPublicAccessBlock(ctx context.Context, api s3BlockAPI, bucket, owner string) (cfg *s3types.PublicAccessBlockConfiguration, exists bool, err error) {
	out, err := api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner)})
	switch {
	case err == nil:
	case bots.APIErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return &s3types.PublicAccessBlockConfiguration{}, true, nil
	case bots.APIErrorCode(err) == "NoSuchBucket":
		return nil, false, nil
	default:
		return nil, false, err
	}
	if out.PublicAccessBlockConfiguration == nil {
		return &s3types.PublicAccessBlockConfiguration{}, true, nil
	}
	return out.PublicAccessBlockConfiguration, true, nil
}

func fullyBlocked(c *s3types.PublicAccessBlockConfiguration) bool {
	return aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.RestrictPublicBuckets)
}

func describeBlock(c *s3types.PublicAccessBlockConfiguration) string {
	return fmt.Sprintf("BlockPublicAcls=%t IgnorePublicAcls=%t BlockPublicPolicy=%t RestrictPublicBuckets=%t",
		aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.BlockPublicPolicy), aws.ToBool(c.RestrictPublicBuckets))
}

// doneSoFar tells, in an error, which buckets were already blocked before the failure.
func doneSoFar(dryRun bool, changed []string) string {
	if dryRun || len(changed) == 0 {
		return ""
	}
	return fmt.Sprintf(" (after blocking %s)", strings.Join(changed, ", "))
}
