package matchstep

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/mapping/ssmstore"
	"github.com/guardbots/guardbots/shared/org/orgapi"
	"github.com/guardbots/guardbots/shared/steps"
)

// Handler builds the match step's handler: the mapping from SSM, cached with a short TTL, and the
// organization from AWS Organizations, cached (unless GUARDBOTS_ORGANIZATION_LOOKUPS=false).
func Handler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	opts, err := mapping.OptionsFromEnv()
	if err != nil {
		return nil, err
	}
	// A mapping naming a bot the deployment does not run is refused: it has no Lambda and no role.
	enabled, err := deployment.EnabledBotsFromEnv()
	if err != nil {
		return nil, err
	}
	bots.DecodeCatalogue() // the mapping is validated against it on the first invocation
	store, err := ssmstore.New(ssm.NewFromConfig(cfg), ssmstore.WithDeployedBots(enabled))
	if err != nil {
		return nil, err
	}
	o, err := orgapi.FromEnv(cfg)
	if err != nil {
		return nil, err
	}
	opts.Org = o.Lookup
	m := Matcher{Mappings: store, Options: opts, OwnerTag: o.OwnerTag}
	return steps.Lambda(deployment.StepMatch, m.Match), nil
}
