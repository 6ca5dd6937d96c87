package botstep

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

// Handler builds the handler of one bot's Lambda.
func Handler(ctx context.Context, name string) (lambda.Handler, error) {
	steps.SetupLogging()
	b, ok := bots.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("bot %q is not registered", name)
	}
	// The catalogue knows every bot; only the implementation linked into this binary can run.
	if b.Run == nil {
		return nil, fmt.Errorf("bot %s is not linked into this binary: import %s (go generate ./statemachine/local writes the mains)", name, b.Package)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	resolver, err := awsenv.NewResolver(cfg)
	if err != nil {
		return nil, err
	}
	dry, err := steps.EnvBool(steps.EnvDryRun)
	if err != nil {
		return nil, err
	}
	r := Runner{Bot: b, Resolver: resolver, DryRun: dry}
	if r.Plan, err = PlanFromEnv(cfg); err != nil {
		return nil, fmt.Errorf("bot %s: %w", name, err)
	}
	// The state table lives in the orchestrator's account: its client uses the Lambda's own credentials,
	// never the member role's.
	if table := os.Getenv(statetable.EnvTable); table != "" {
		r.State = &statetable.Table{Client: dynamodb.NewFromConfig(cfg), Name: table}
	}
	if r.Rails, err = RailsFromEnv(cfg, b); err != nil {
		return nil, err
	}
	return steps.Lambda(name, r.Run), nil
}

// PlanFromEnv is the plan check of a Lambda that acts on a signed plan: the signing key and the guardbots
// state machine from the environment (both required: without them nothing can vouch for an action, and
// nothing acts), KMS and Step Functions with the Lambda's own credentials.
func PlanFromEnv(cfg aws.Config) (*plan.Verifier, error) {
	key, machine := os.Getenv(steps.EnvSigningKey), os.Getenv(steps.EnvStateMachineArn)
	if key == "" || machine == "" {
		return nil, fmt.Errorf("%s and %s must be set: a bot acts only on a plan the verify step signed, in a running execution of the guardbots state machine",
			steps.EnvSigningKey, steps.EnvStateMachineArn)
	}
	return &plan.Verifier{KMS: kms.NewFromConfig(cfg), KeyID: key, States: sfn.NewFromConfig(cfg), StateMachineArn: machine,
		MaxAge: steps.ExecutionTimeout}, nil
}
