package steps

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/verify"
)

// Environment variables the Lambdas read (the CDK app sets them; the local harness too).
const (
	// EnvDryRun makes every bot a dry run: the deployment-wide switch for a first rollout.
	EnvDryRun = "GUARDBOTS_DRY_RUN"
	// EnvTopicArn is the SNS topic notify publishes to.
	EnvTopicArn = "GUARDBOTS_TOPIC_ARN"
	// EnvCloseFindings makes notify record a remediation on the finding: false (default), true
	// (GuardDuty feedback USEFUL, Security Hub workflow RESOLVED/NOTIFIED) or archive (and archive the
	// GuardDuty finding).
	EnvCloseFindings = "GUARDBOTS_CLOSE_FINDINGS"
)

// ParseLambda is the parse step's Lambda handler.
func ParseLambda() lambda.Handler { setupLogging(); return Raw("parse", Parse) }

// TransformLambda is the transform step's Lambda handler.
func TransformLambda() lambda.Handler { setupLogging(); return Lambda("transform", Transform) }

// MatchLambda builds the match step's handler: the mapping from SSM, cached with a short TTL.
func MatchLambda(ctx context.Context) (lambda.Handler, error) {
	setupLogging()
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	allow, err := envBool(mapping.EnvAllowSamples)
	if err != nil {
		return nil, err
	}
	store, err := mapping.NewStore(ssm.NewFromConfig(cfg))
	if err != nil {
		return nil, err
	}
	protected, err := mapping.ParseAccountList(os.Getenv(mapping.EnvProtectedAccounts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mapping.EnvProtectedAccounts, err)
	}
	m := Matcher{Mappings: store, Options: mapping.MatchOptions{AllowSamples: allow, ProtectedAccounts: protected}}
	return Lambda("match", m.Match), nil
}

// VerifyLambda builds the verify step's handler: GuardDuty clients per region, detector ids cached.
func VerifyLambda(ctx context.Context) (lambda.Handler, error) {
	setupLogging()
	on, err := envBoolDefault(EnvVerifyFindings, true)
	if err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	clients := perRegion(func(region string) verify.GuardDutyAPI {
		return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
	})
	v := Verifier{Checker: &verify.Checker{Client: clients}, Disabled: !on}
	return Lambda("verify", v.Verify), nil
}

// RequestApprovalLambda builds the request_approval step's handler.
func RequestApprovalLambda(ctx context.Context) (lambda.Handler, error) {
	setupLogging()
	topic := os.Getenv(EnvApprovalTopicArn)
	if topic == "" {
		topic = os.Getenv(EnvTopicArn)
	}
	if topic == "" {
		return nil, fmt.Errorf("%s or %s must be set: request_approval needs the SNS topic ARN", EnvApprovalTopicArn, EnvTopicArn)
	}
	dry, err := envBool(EnvDryRun)
	if err != nil {
		return nil, err
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	a := Approver{
		Publisher: &notify.Publisher{Client: sns.NewFromConfig(cfg), TopicArn: topic},
		Options:   notify.ApprovalOptions{ApproverRoleArn: os.Getenv(EnvApproverRoleArn), DryRun: dry},
	}
	return Lambda("request_approval", a.Request), nil
}

// BotLambda builds the handler of one bot's Lambda.
func BotLambda(ctx context.Context, name string) (lambda.Handler, error) {
	setupLogging()
	b, ok := bots.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("bot %q is not registered", name)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	resolver, err := awsenv.NewResolver(cfg)
	if err != nil {
		return nil, err
	}
	dry, err := envBool(EnvDryRun)
	if err != nil {
		return nil, err
	}
	r := BotRunner{Bot: b, Resolver: resolver, DryRun: dry}
	// The state table lives in the orchestrator's account: its client uses the Lambda's own credentials,
	// never the member role's.
	if table := os.Getenv(statetable.EnvTable); table != "" {
		r.State = &statetable.Table{Client: dynamodb.NewFromConfig(cfg), Name: table}
	}
	if r.Rails, err = RailsFromEnv(cfg, b); err != nil {
		return nil, err
	}
	return Lambda(name, r.Run), nil
}

// NotifyLambda builds the notify step's handler.
func NotifyLambda(ctx context.Context) (lambda.Handler, error) {
	setupLogging()
	topic := os.Getenv(EnvTopicArn)
	if topic == "" {
		return nil, fmt.Errorf("%s is not set: notify needs the SNS topic ARN", EnvTopicArn)
	}
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	n := Notifier{Publisher: &notify.Publisher{Client: sns.NewFromConfig(cfg), TopicArn: topic}}
	switch mode := os.Getenv(EnvCloseFindings); mode {
	case "", verify.CloseOff:
	case verify.CloseFeedback, verify.CloseArchive:
		n.Closer = &verify.Closer{
			GuardDuty: perRegion(func(region string) verify.GuardDutyWriter {
				return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
			}),
			SecurityHub: perRegion(func(region string) verify.SecurityHubAPI {
				return securityhub.NewFromConfig(cfg, func(o *securityhub.Options) { o.Region = region })
			}),
			Archive: mode == verify.CloseArchive,
		}
	default:
		return nil, fmt.Errorf("%s=%q: want false, true or archive", EnvCloseFindings, mode)
	}
	return Lambda("notify", n.Notify), nil
}

// Must stops the process when a handler cannot be built: a Lambda that cannot read its configuration
// must fail its init (visible as an init error), not run half-configured.
func Must(h lambda.Handler, err error) lambda.Handler {
	if err != nil {
		setupLogging()
		slog.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	return h
}

var logOnce sync.Once

// setupLogging makes slog write JSON lines, which CloudWatch Logs Insights parses.
func setupLogging() {
	logOnce.Do(func() {
		slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	})
}

// perRegion builds one client per region on first use (the finding's region picks it).
func perRegion[C any](build func(region string) C) func(region string) C {
	var mu sync.Mutex
	clients := map[string]C{}
	return func(region string) C {
		mu.Lock()
		defer mu.Unlock()
		c, ok := clients[region]
		if !ok {
			c = build(region)
			clients[region] = c
		}
		return c
	}
}

func envBoolDefault(name string, def bool) (bool, error) {
	if os.Getenv(name) == "" {
		return def, nil
	}
	return envBool(name)
}

func envBool(name string) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}
