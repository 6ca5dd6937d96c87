// Package rdstags reads the exemption tag of RDS DB instances and clusters. A bot family acting on them
// imports it, so the runner's exemption check works in its Lambdas.
package rdstags

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() { exempt.RegisterReader("rds:ListTagsForResource", databaseExempt) }

func databaseExempt(ctx context.Context, cfg aws.Config, t finding.Target) (bool, error) {
	out, err := rds.NewFromConfig(cfg).ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(t.ARN)})
	if err != nil {
		return false, exempt.Gone(err, "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault")
	}
	for _, tag := range out.TagList {
		if aws.ToString(tag.Key) == bots.ExemptionTag {
			return true, nil
		}
	}
	return false, nil
}
