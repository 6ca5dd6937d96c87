// Package exempt reads the exemption tag (bots.ExemptionTag, "guardbots:exempt", any value) on the live
// resources a finding names, in the finding's account, with the bot's own (assumed-role) configuration.
// The tags in the finding are a snapshot taken when GuardDuty saw the activity: an owner who tagged the
// resource since, or removed the tag, must be obeyed, so they are never used here.
//
// The reads per resource kind are exactly bots.ExemptionOperationsFor(kind); the registry adds them to
// every bot that changes something, so the member roles grant them.
package exempt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// Target is one resource a finding names, as the rails key and report it.
type Target struct {
	// Kind is "instance", "iam-user", "iam-role", "access-key", "bucket", "lambda-function" or "rds-db".
	Kind string
	ID   string
	// arn is the resource's ARN where its tag read needs one (Lambda, RDS).
	arn string
}

// String reads well in a notification: "instance i-0abc", "bucket logs".
func (t Target) String() string { return t.Kind + " " + t.ID }

// Targets returns the resources the finding names for its resource kind, in a stable order. A root or
// federated principal has no taggable resource: it is named by its access key.
func Targets(f *finding.Finding) []Target {
	if f == nil {
		return nil
	}
	switch f.ResourceKind {
	case finding.KindInstance:
		if f.Instance != nil && f.Instance.ID != "" {
			return []Target{{Kind: "instance", ID: f.Instance.ID}}
		}
	case finding.KindAccessKey:
		k := f.AccessKey
		if k == nil {
			return nil
		}
		switch {
		case k.UserType == finding.UserTypeIAMUser && k.UserName != "":
			return []Target{{Kind: "iam-user", ID: k.UserName}}
		case (k.UserType == finding.UserTypeAssumedRole || k.UserType == finding.UserTypeRole) && k.UserName != "":
			return []Target{{Kind: "iam-role", ID: k.UserName}}
		case k.AccessKeyID != "":
			return []Target{{Kind: "access-key", ID: k.AccessKeyID}}
		}
	case finding.KindS3Bucket:
		var out []Target
		for _, b := range f.Buckets {
			if b.Name != "" {
				out = append(out, Target{Kind: "bucket", ID: b.Name})
			}
		}
		return out
	case finding.KindLambdaFunction:
		if l := f.Lambda; l != nil && (l.FunctionName != "" || l.FunctionArn != "") {
			arn := unqualifiedFunctionArn(l.FunctionArn)
			name := l.FunctionName
			if name == "" {
				name = arn[strings.LastIndex(arn, ":")+1:]
			}
			if arn == "" {
				arn = fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition(f), f.Region, f.AccountID, name)
			}
			return []Target{{Kind: "lambda-function", ID: name, arn: arn}}
		}
	case finding.KindRDSDBInstance:
		if r := f.RDS; r != nil {
			switch {
			case r.InstanceID != "":
				return []Target{{Kind: "rds-db", ID: r.InstanceID,
					arn: fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", partition(f), f.Region, f.AccountID, r.InstanceID)}}
			case r.ClusterID != "":
				return []Target{{Kind: "rds-cluster", ID: r.ClusterID,
					arn: fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", partition(f), f.Region, f.AccountID, r.ClusterID)}}
			}
		}
	}
	return nil
}

// Check returns the first of the finding's resources that carries the exemption tag now, or ok=false.
// A resource that no longer exists is not exempt (the bot then finds it gone and skips); any other
// read error is returned, and the caller must not act (fail closed).
func Check(ctx context.Context, cfg aws.Config, f *finding.Finding) (exempt Target, ok bool, err error) {
	for _, t := range Targets(f) {
		tagged, err := tagged(ctx, cfg, t)
		if err != nil {
			return Target{}, false, fmt.Errorf("exemption check of %s in account %s (%s): %w", t, f.AccountID, f.Region, err)
		}
		if tagged {
			return t, true, nil
		}
	}
	return Target{}, false, nil
}

func tagged(ctx context.Context, cfg aws.Config, t Target) (bool, error) {
	switch t.Kind {
	case "instance":
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
	case "iam-user":
		p := iam.NewListUserTagsPaginator(iam.NewFromConfig(cfg), &iam.ListUserTagsInput{UserName: aws.String(t.ID)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return false, ignore(err, "NoSuchEntity")
			}
			for _, tag := range page.Tags {
				if aws.ToString(tag.Key) == bots.ExemptionTag {
					return true, nil
				}
			}
		}
		return false, nil
	case "iam-role":
		p := iam.NewListRoleTagsPaginator(iam.NewFromConfig(cfg), &iam.ListRoleTagsInput{RoleName: aws.String(t.ID)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return false, ignore(err, "NoSuchEntity")
			}
			for _, tag := range page.Tags {
				if aws.ToString(tag.Key) == bots.ExemptionTag {
					return true, nil
				}
			}
		}
		return false, nil
	case "bucket":
		out, err := s3.NewFromConfig(cfg).GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(t.ID)})
		if err != nil {
			// NoSuchTagSet is S3's answer for a bucket without tags.
			return false, ignore(err, "NoSuchTagSet", "NoSuchBucket")
		}
		for _, tag := range out.TagSet {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
		return false, nil
	case "lambda-function":
		out, err := lambda.NewFromConfig(cfg).ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(t.arn)})
		if err != nil {
			return false, ignore(err, "ResourceNotFoundException")
		}
		_, ok := out.Tags[bots.ExemptionTag]
		return ok, nil
	case "rds-db", "rds-cluster":
		out, err := rds.NewFromConfig(cfg).ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(t.arn)})
		if err != nil {
			return false, ignore(err, "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault")
		}
		for _, tag := range out.TagList {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
		return false, nil
	}
	// An access key of a root or federated principal: nothing taggable to read.
	return false, nil
}

// ignore turns the listed "resource is gone / has no tags" error codes into no error.
func ignore(err error, codes ...string) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		for _, c := range codes {
			if api.ErrorCode() == c {
				return nil
			}
		}
	}
	return err
}

// unqualifiedFunctionArn drops a version or alias: ListTags takes the function's own ARN.
func unqualifiedFunctionArn(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[5] != "function" {
		return ""
	}
	return strings.Join(parts[:7], ":")
}

func partition(f *finding.Finding) string {
	if f.Partition != "" {
		return f.Partition
	}
	return "aws"
}
