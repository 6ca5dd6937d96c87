package notifystep

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/bus"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
)

// Handler builds the notify step's handler.
func Handler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	topic := os.Getenv(deployment.EnvTopicArn)
	if topic == "" {
		return nil, fmt.Errorf("%s is not set: notify needs the SNS topic ARN", deployment.EnvTopicArn)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	snsc := sns.NewFromConfig(cfg)
	n := Notifier{Publisher: publishers(snsc, topic), AuditTable: os.Getenv(deployment.EnvAuditTable), Metrics: metrics.Stdout()}
	if b := os.Getenv(deployment.EnvEventBus); b != "" {
		if !bus.ValidBus(b) {
			return nil, fmt.Errorf("%s=%q: want an event bus name or ARN", deployment.EnvEventBus, b)
		}
		n.Events = bus.Publisher{Client: eventbridge.NewFromConfig(cfg), Bus: b}
	}
	switch mode := os.Getenv(deployment.EnvCloseFindings); mode {
	case "", deployment.CloseOff:
	case deployment.CloseFeedback, deployment.CloseArchive:
		// Closing the loop writes to GuardDuty and Security Hub: only for a plan the workflow signed.
		v, err := plan.FromEnv(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", deployment.EnvCloseFindings, mode, err)
		}
		n.Closer = &Closer{
			Vouch: Vouch(v),
			GuardDuty: steps.PerRegion(func(region string) GuardDutyWriter {
				return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
			}),
			SecurityHub: steps.PerRegion(func(region string) SecurityHubAPI {
				return securityhub.NewFromConfig(cfg, func(o *securityhub.Options) { o.Region = region })
			}),
			Archive: mode == deployment.CloseArchive,
		}
	default:
		return nil, fmt.Errorf("%s=%q: want false, true or archive", deployment.EnvCloseFindings, mode)
	}
	return steps.Lambda(deployment.StepNotify, n.Notify), nil
}

// ApprovalHandler builds the request_approval step's handler.
func ApprovalHandler(ctx context.Context) (lambda.Handler, error) {
	steps.SetupLogging()
	topic := os.Getenv(deployment.EnvApprovalTopicArn)
	if topic == "" {
		topic = os.Getenv(deployment.EnvTopicArn)
	}
	if topic == "" {
		return nil, fmt.Errorf("%s or %s must be set: request_approval needs the SNS topic ARN", deployment.EnvApprovalTopicArn, deployment.EnvTopicArn)
	}
	dry, err := deployment.EnvBool(deployment.EnvDryRun)
	if err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	bots.DecodeCatalogue() // an approval request is checked against it on the first invocation
	a := Approver{
		Publisher: publishers(sns.NewFromConfig(cfg), topic),
		Metrics:   metrics.Stdout(),
		Options:   notify.ApprovalOptions{ApproverRoleArn: os.Getenv(deployment.EnvApproverRoleArn), DryRun: dry},
	}
	return steps.Lambda(deployment.StepRequestApproval, a.Request), nil
}

// publishers are the SNS destinations of a message: the JSON topic (whose message id the step
// returns), and the mail and chat topics when the deployment has them.
func publishers(c notify.SNSPublisher, topic string) notify.Fanout {
	out := notify.Fanout{notify.Publisher{Client: c, TopicArn: topic}}
	if mail := os.Getenv(deployment.EnvMailTopicArn); mail != "" {
		out = append(out, notify.Publisher{Client: c, TopicArn: mail, Form: notify.FormText})
	}
	if chat := os.Getenv(deployment.EnvChatTopicArn); chat != "" {
		out = append(out, notify.Publisher{Client: c, TopicArn: chat, Form: notify.FormChat})
	}
	return out
}
