package verifystep

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/mapping/ssmstore"
	"github.com/guardbots/guardbots/shared/org/orgapi"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// Handler builds the verify step's handler: GuardDuty clients per region (detector ids cached), and the
// mapping and options match decides with (GUARDBOTS_MAPPING_PARAMETER, GUARDBOTS_MAPPING_TTL,
// GUARDBOTS_ALLOW_SAMPLE_FINDINGS, GUARDBOTS_PROTECTED_ACCOUNTS) plus GUARDBOTS_MAX_FINDING_AGE, to decide
// again on GuardDuty's copy, and the KMS key it signs the plan with (GUARDBOTS_SIGNING_KEY). A variable it
// cannot read fails the init: a rail that cannot read its own configuration does not run. With
// GUARDBOTS_STATE_TABLE it also plans the scheduled clean-up of expired IAM denies from that table.
func Handler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	on, err := deployment.EnvBoolDefault(deployment.EnvVerifyFindings, true)
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
	if opts.MaxAge, err = deployment.EnvDuration(deployment.EnvMaxFindingAge, deployment.DefaultMaxFindingAge); err != nil {
		return nil, err
	}
	key := os.Getenv(deployment.EnvSigningKey)
	if key == "" {
		return nil, fmt.Errorf("%s is not set: verify signs every plan it lets a bot act on, with that KMS key", deployment.EnvSigningKey)
	}
	cfg, err := awsenv.Load(ctx)
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
	clients := steps.PerRegion(func(region string) verify.GuardDutyAPI {
		return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
	})
	v := Verifier{Checker: &verify.Checker{Client: clients}, Mappings: store, Options: opts, OwnerTag: o.OwnerTag, Disabled: !on,
		Signer: plan.Signer{KMS: kms.NewFromConfig(cfg), KeyID: key}}
	// The scheduled clean-up reads the deny records from the state table (orchestrator's account).
	if table := os.Getenv(deployment.EnvStateTable); table != "" {
		ddb := dynamodb.NewFromConfig(cfg)
		v.Cleanup = &Cleanup{Records: func(ctx context.Context) (map[string][]byte, error) {
			return statetable.ScanPrefix(ctx, ddb, table, bots.DenyRecordPrefix)
		}, Deployed: enabled}
	}
	return steps.Lambda(deployment.StepVerify, v.Verify), nil
}
