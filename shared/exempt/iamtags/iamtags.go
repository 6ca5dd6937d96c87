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
		p := iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: aws.String(t.ID)})
		return anyPage(p.HasMorePages, func() ([]iamtypes.Tag, error) {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			return page.Tags, nil
		})
	case "iam-role":
		p := iam.NewListRoleTagsPaginator(client, &iam.ListRoleTagsInput{RoleName: aws.String(t.ID)})
		return anyPage(p.HasMorePages, func() ([]iamtypes.Tag, error) {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			return page.Tags, nil
		})
	}
	// An access key of a root or federated principal: nothing taggable to read.
	return false, nil
}

// anyPage reports whether a page of tags holds the exemption tag; a principal gone (NoSuchEntity) is
// not exempt.
func anyPage(more func() bool, next func() ([]iamtypes.Tag, error)) (bool, error) {
	for more() {
		tags, err := next()
		if err != nil {
			return false, exempt.Ignore(err, "NoSuchEntity")
		}
		for _, tag := range tags {
			if aws.ToString(tag.Key) == bots.ExemptionTag {
				return true, nil
			}
		}
	}
	return false, nil
}
