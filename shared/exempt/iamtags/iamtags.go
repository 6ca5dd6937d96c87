// Package iamtags makes the IAM reads the runner makes before a bot acts on IAM users and roles: their
// exemption tags, and the role behind an instance profile (finding.RelInstanceProfileRole). A bot family
// acting on them imports it, so the runner's checks work in its Lambdas.
package iamtags

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	exempt.RegisterReader("iam:ListUserTags", func(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
		return tagged(ctx, iam.NewListUserTagsPaginator(iam.NewFromConfig(cfg), &iam.ListUserTagsInput{UserName: aws.String(t.ID)}),
			func(o *iam.ListUserTagsOutput) []iamtypes.Tag { return o.Tags })
	})
	exempt.RegisterReader("iam:ListRoleTags", func(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
		return tagged(ctx, iam.NewListRoleTagsPaginator(iam.NewFromConfig(cfg), &iam.ListRoleTagsInput{RoleName: aws.String(t.ID)}),
			func(o *iam.ListRoleTagsOutput) []iamtypes.Tag { return o.Tags })
	})
	bots.RegisterLookup(finding.RelInstanceProfileRole, profileRole)
}

// pager is IAM's ListUserTags and ListRoleTags paginators.
type pager[T any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (T, error)
}

// tagged reports whether a page of tags holds the exemption tag; a principal that no longer exists
// (NoSuchEntity) is gone.
func tagged[T any](ctx context.Context, p pager[T], tags func(T) []iamtypes.Tag) (bool, error) {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, exempt.Gone(err, "NoSuchEntity")
		}
		for _, tag := range tags(page) {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
	}
	return false, nil
}

// profileRole is the role of the instance profile, read live: the one the instance's credentials act
// as. An instance profile holds at most one role.
func profileRole(ctx context.Context, cfg aws.Config, profile finding.Target) ([]finding.Target, string, error) {
	out, err := iam.NewFromConfig(cfg).GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(profile.ID)})
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return nil, fmt.Sprintf("instance profile %s no longer exists", profile.ID), nil
		}
		return nil, "", err
	}
	if out.InstanceProfile == nil || len(out.InstanceProfile.Roles) == 0 {
		return nil, fmt.Sprintf("instance profile %s has no role", profile.ID), nil
	}
	r := out.InstanceProfile.Roles[0]
	return []finding.Target{{Kind: finding.TargetIAMRole, ID: aws.ToString(r.RoleName), ARN: aws.ToString(r.Arn)}}, "", nil
}
