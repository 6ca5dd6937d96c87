// Package iamtags reads the exemption tag of the IAM user or role behind the access keys findings
// name. A bot family acting on access keys imports it, so the runner's exemption check works in its
// Lambdas.
package iamtags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader(finding.KindAccessKey, principalExempt) }

func principalExempt(ctx context.Context, cfg aws.Config, t exempt.Target) (bool, error) {
	client := iam.NewFromConfig(cfg)
	switch t.Kind {
	case "iam-user":
		return tagged(ctx, iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: aws.String(t.ID)}),
			func(o *iam.ListUserTagsOutput) []iamtypes.Tag { return o.Tags })
	case "iam-role":
		return tagged(ctx, iam.NewListRoleTagsPaginator(client, &iam.ListRoleTagsInput{RoleName: aws.String(t.ID)}),
			func(o *iam.ListRoleTagsOutput) []iamtypes.Tag { return o.Tags })
	}
	// An access key of a root or federated principal: nothing taggable to read.
	return false, nil
}

// pager is IAM's ListUserTags and ListRoleTags paginators.
type pager[T any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (T, error)
}

// tagged reports whether a page of tags holds the exemption tag; a principal gone (NoSuchEntity) is
// not exempt.
func tagged[T any](ctx context.Context, p pager[T], tags func(T) []iamtypes.Tag) (bool, error) {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, exempt.Ignore(err, "NoSuchEntity")
		}
		for _, tag := range tags(page) {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
	}
	return false, nil
}
