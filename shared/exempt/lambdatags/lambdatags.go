// Package lambdatags reads the exemption tag of Lambda functions. A bot family acting on functions
// imports it, so the runner's exemption check works in its Lambdas.
package lambdatags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader("lambda:ListTags", functionExempt) }

// functionExempt reads by the target's ARN, built from the very name the bot acts on.
func functionExempt(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
	out, err := lambda.NewFromConfig(cfg).ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(t.ARN)})
	if err != nil {
		return false, exempt.Gone(err, "ResourceNotFoundException")
	}
	_, ok := out.Tags[bots.ExemptionTag]
	return ok, nil
}
