package verifystep

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// Handler builds the verify step's handler: GuardDuty clients per region, detector ids cached.
func Handler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	on, err := steps.EnvBoolDefault(steps.EnvVerifyFindings, true)
	if err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	clients := steps.PerRegion(func(region string) verify.GuardDutyAPI {
		return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
	})
	v := Verifier{Checker: &verify.Checker{Client: clients}, Disabled: !on}
	return steps.Lambda("verify", v.Verify), nil
}
