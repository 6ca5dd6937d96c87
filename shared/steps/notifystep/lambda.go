package notifystep

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// Handler builds the notify step's handler.
func Handler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	topic := os.Getenv(steps.EnvTopicArn)
	if topic == "" {
		return nil, fmt.Errorf("%s is not set: notify needs the SNS topic ARN", steps.EnvTopicArn)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	n := Notifier{Publisher: &notify.Publisher{Client: sns.NewFromConfig(cfg), TopicArn: topic}}
	switch mode := os.Getenv(steps.EnvCloseFindings); mode {
	case "", verify.CloseOff:
	case verify.CloseFeedback, verify.CloseArchive:
		// Closing the loop writes to GuardDuty and Security Hub: only for a plan the workflow signed.
		v, err := plan.FromEnv(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", steps.EnvCloseFindings, mode, err)
		}
		n.Closer = &verify.Closer{
			Vouch: Vouch(v),
			GuardDuty: steps.PerRegion(func(region string) verify.GuardDutyWriter {
				return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
			}),
			SecurityHub: steps.PerRegion(func(region string) verify.SecurityHubAPI {
				return securityhub.NewFromConfig(cfg, func(o *securityhub.Options) { o.Region = region })
			}),
			Archive: mode == verify.CloseArchive,
		}
	default:
		return nil, fmt.Errorf("%s=%q: want false, true or archive", steps.EnvCloseFindings, mode)
	}
	return steps.Lambda("notify", n.Notify), nil
}

// ApprovalHandler builds the request_approval step's handler.
func ApprovalHandler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	topic := os.Getenv(steps.EnvApprovalTopicArn)
	if topic == "" {
		topic = os.Getenv(steps.EnvTopicArn)
	}
	if topic == "" {
		return nil, fmt.Errorf("%s or %s must be set: request_approval needs the SNS topic ARN", steps.EnvApprovalTopicArn, steps.EnvTopicArn)
	}
	dry, err := steps.EnvBool(steps.EnvDryRun)
	if err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	bots.DecodeCatalogue() // an approval request is checked against it on the first invocation
	a := Approver{
		Publisher: &notify.Publisher{Client: sns.NewFromConfig(cfg), TopicArn: topic},
		Options:   notify.ApprovalOptions{ApproverRoleArn: os.Getenv(steps.EnvApproverRoleArn), DryRun: dry},
	}
	return steps.Lambda("request_approval", a.Request), nil
}
