package botstep

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/metrics"
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
		return nil, fmt.Errorf("bot %s is not linked into this binary: import %s (go generate ./... writes the mains)", name, b.Package)
	}
	// Its role's permissions and its branch of the state machine were generated from the catalogue: a
	// bot declared otherwise must not run.
	if err := bots.CheckCatalogued(name); err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	resolver, err := awsenv.NewResolver(cfg)
	if err != nil {
		return nil, err
	}
	dry, err := deployment.EnvBool(deployment.EnvDryRun)
	if err != nil {
		return nil, err
	}
	r := Runner{Bot: b, Resolver: resolver, DryRun: dry, Region: cfg.Region}
	if r.Plan, err = plan.FromEnv(cfg); err != nil {
		return nil, fmt.Errorf("bot %s: %w", name, err)
	}
	// Probes are optional: a deployment without the health check refuses them (RunProbe says why).
	if key, machine := os.Getenv(deployment.EnvProbeKey), os.Getenv(deployment.EnvHealthStateMachineArn); key != "" && machine != "" {
		r.Probes = &plan.Verifier{KMS: kms.NewFromConfig(cfg), KeyID: key, States: sfn.NewFromConfig(cfg), StateMachineArn: machine, MaxAge: plan.ProbeMaxAge}
	}
	// The state table lives in the orchestrator's account: its client uses the Lambda's own credentials,
	// never the member role's.
	if table := os.Getenv(deployment.EnvStateTable); table != "" {
		r.State = &statetable.Table{Client: dynamodb.NewFromConfig(cfg), Name: table}
	}
	if r.Rails, err = RailsFromEnv(cfg, b); err != nil {
		return nil, err
	}
	// Actions are measured (metrics.go); a probe is no action and Handle checks and runs it unmeasured.
	measured := Measured(metrics.Stdout(), name, r.Run)
	return steps.Lambda(name, func(ctx context.Context, req Request) (any, error) {
		if req.Probe == nil {
			return measured(ctx, req.BotInput)
		}
		return r.Handle(ctx, req)
	}), nil
}
