package iambots

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// What the IAM bots share: the live read of the user an IAM-user bot acts on, and the tags they write.

// iamUserGetter reads an IAM user.
type iamUserGetter interface {
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
}

// liveIAMUser starts an IAM-user bot (bots.Begin) at its live read of the user the runner resolved: a
// user that no longer exists is a skip.
func liveIAMUser(ctx context.Context, api iamUserGetter, bot string, req bots.Request) (bots.Result, finding.Target, error) {
	res, t, err := bots.Begin(bot, req, finding.TargetIAMUser)
	if err != nil {
		return res, t, err
	}
	if _, err := api.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(t.ID)}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return res, t, bots.Skip("user %s no longer exists", t.ID)
		}
		return res, t, fmt.Errorf("%s: read %s: %w", bot, t.Where(), err)
	}
	return res, t, nil
}

// iamUserTagger tags IAM users (TagUser adds to the user's tags, it does not replace them).
type iamUserTagger interface {
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

// tagIAMUser marks the user t with the bot's markers.
func tagIAMUser(ctx context.Context, api iamUserTagger, t finding.Target, bot string, req bots.Request) error {
	_, err := api.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(t.ID), Tags: iamTags(bots.Markers(bot, req, t))})
	return err
}

// iamTags are marker tags (bots.Markers) in IAM's type: the one way the IAM bots build the tags they
// write, on users and roles alike (values up to 256 characters).
func iamTags(tags []bots.Tag) []iamtypes.Tag {
	out := make([]iamtypes.Tag, len(tags))
	for i, t := range tags {
		out[i] = iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

// decodePolicy undoes IAM's URL encoding of policy documents (RFC 3986: '+' is a literal plus, which
// PathUnescape keeps). A document that is not encoded is returned as it is.
func decodePolicy(doc string) string {
	if d, err := url.PathUnescape(doc); err == nil {
		return d
	}
	return doc
}
