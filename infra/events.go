package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/notify"
)

// Every outcome is a guardbots event on the orchestrator account's default bus (issue 17 §3): users
// route it with ordinary rules. The optional outcomesApi* context keys create one such rule as a worked
// example: an API destination (a ticketing or paging system's HTTP endpoint) with its connection, the
// API key read from Secrets Manager at deploy time.

// Context keys of the outcome outputs.
const (
	ctxOutcomesAPIEndpoint  = "outcomesApiEndpoint"
	ctxOutcomesAPISecretArn = "outcomesApiSecretArn"
	ctxOutcomesAPIKeyHeader = "outcomesApiKeyHeader"
	ctxOutcomesAPIOutcomes  = "outcomesApiOutcomes"
)

// Outputs configure where outcomes go beyond the SNS topics.
type Outputs struct {
	// APIEndpoint is an https URL that gets each matching outcome's event detail by POST ("" creates no
	// API destination).
	APIEndpoint string
	// APISecretArn is the Secrets Manager secret whose value is the API key.
	APISecretArn string
	// APIKeyHeader is the header the key goes in (default Authorization).
	APIKeyHeader string
	// APIOutcomes are the outcomes sent (default: those a person must act on or know of).
	APIOutcomes []string
}

// DefaultOutputs sends nothing beyond the default bus.
func DefaultOutputs() Outputs {
	return Outputs{APIKeyHeader: "Authorization",
		APIOutcomes: []string{notify.OutcomeRemediated, notify.OutcomePartial, notify.OutcomeFailed, notify.OutcomeHeld, notify.OutcomeReleased}}
}

// readOutputs reads the outputs' context keys over o.
func readOutputs(get ContextReader, o Outputs) Outputs {
	str := func(key string, dst *string) {
		if v := get(key); v != nil && strings.TrimSpace(fmt.Sprint(v)) != "" {
			*dst = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	str(ctxOutcomesAPIEndpoint, &o.APIEndpoint)
	str(ctxOutcomesAPISecretArn, &o.APISecretArn)
	str(ctxOutcomesAPIKeyHeader, &o.APIKeyHeader)
	switch v := get(ctxOutcomesAPIOutcomes).(type) {
	case nil:
	case []any:
		o.APIOutcomes = nil
		for _, e := range v {
			o.APIOutcomes = append(o.APIOutcomes, strings.TrimSpace(fmt.Sprint(e)))
		}
	default:
		o.APIOutcomes = nil
		for _, e := range strings.Split(fmt.Sprint(v), ",") {
			if e = strings.TrimSpace(e); e != "" {
				o.APIOutcomes = append(o.APIOutcomes, e)
			}
		}
	}
	return o
}

var (
	secretArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$`)
	headerRE    = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
)

// validate reports every output setting that would not work.
func (o Outputs) validate() []string {
	var errs []string
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("context %s: %s", key, fmt.Sprintf(format, a...)))
	}
	if o.APIEndpoint == "" {
		if o.APISecretArn != "" {
			bad(ctxOutcomesAPISecretArn, "set without %s", ctxOutcomesAPIEndpoint)
		}
		return errs
	}
	// An API destination sends over HTTPS only; no credentials in the URL (they would be in the template).
	if u, err := url.Parse(o.APIEndpoint); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		bad(ctxOutcomesAPIEndpoint, "%q is not an https URL without credentials", o.APIEndpoint)
	}
	if !secretArnRE.MatchString(o.APISecretArn) {
		bad(ctxOutcomesAPISecretArn, "%q is not a Secrets Manager secret ARN (the API key is read from it at deploy time)", o.APISecretArn)
	}
	if !headerRE.MatchString(o.APIKeyHeader) {
		bad(ctxOutcomesAPIKeyHeader, "%q is not an HTTP header name", o.APIKeyHeader)
	}
	if len(o.APIOutcomes) == 0 {
		bad(ctxOutcomesAPIOutcomes, "empty: list the outcomes to send")
	}
	for _, x := range o.APIOutcomes {
		if !slices.Contains(notify.Outcomes, x) {
			bad(ctxOutcomesAPIOutcomes, "%q is not an outcome (%s)", x, strings.Join(notify.Outcomes, ", "))
		}
	}
	return errs
}

// defaultBusArn is the orchestrator account's default event bus in its region.
func defaultBusArn() string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/default", *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID())
}

// outcomePattern matches guardbots' outcome events of version 1 (and the given outcomes, if any).
func outcomePattern(outcomes []string) *awsevents.EventPattern {
	detail := map[string]any{"version": []string{notify.EventVersion}}
	if len(outcomes) > 0 {
		detail["outcome"] = outcomes
	}
	return &awsevents.EventPattern{
		Source:     jsii.Strings(notify.EventSource),
		DetailType: jsii.Strings(notify.EventDetailType),
		// The account is the orchestrator's own: anyone else's events reach this bus only through a
		// bus policy, which guardbots does not grant.
		Account: jsii.Strings(*awscdk.Aws_ACCOUNT_ID()),
		Detail:  &detail,
	}
}

// newOutcomeEvents lets notify put guardbots events on the default bus, and only those, and builds
// the API destination example when it is configured.
func newOutcomeEvents(stack awscdk.Stack, prefix string, o Outputs, notifyRole awsiam.Role, alerts notifications) {
	notifyRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PutOutcomeEvents"),
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: jsii.Strings(defaultBusArn()),
		// Only events that say they are guardbots outcomes: the role cannot pose as AWS services or as
		// other applications on the bus. The keys are multivalued (one value per entry of the batch):
		// every entry must be one, and a request without them matches nothing.
		Conditions: &map[string]any{
			"ForAllValues:StringEquals": map[string]any{
				"events:source":      notify.EventSource,
				"events:detail-type": notify.EventDetailType,
			},
			"Null": map[string]any{"events:source": "false", "events:detail-type": "false"},
		},
	}))
	if o.APIEndpoint == "" {
		return
	}
	conn := awsevents.NewConnection(stack, jsii.String("OutcomesApiConnection"), &awsevents.ConnectionProps{
		Description: jsii.String("guardbots: outcome events to " + o.APIEndpoint),
		Authorization: awsevents.Authorization_ApiKey(jsii.String(o.APIKeyHeader),
			awscdk.SecretValue_SecretsManager(jsii.String(o.APISecretArn), nil)),
	})
	dest := awsevents.NewApiDestination(stack, jsii.String("OutcomesApiDestination"), &awsevents.ApiDestinationProps{
		Connection:         conn,
		Endpoint:           jsii.String(o.APIEndpoint),
		HttpMethod:         awsevents.HttpMethod_POST,
		RateLimitPerSecond: jsii.Number(10),
		Description:        jsii.String("guardbots: outcome events (detail only) for a ticketing or paging system"),
	})
	dlq := awssqs.NewQueue(stack, jsii.String("OutcomesApiDLQ"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(dlq, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue of the API destination target.")
	alerts.alarm(dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
	}).CreateAlarm(stack, jsii.String("OutcomesApiDLQAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("guardbots: outcome events could not be delivered to " + o.APIEndpoint + " (see the dead-letter queue)"),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	awsevents.NewRule(stack, jsii.String("OutcomesToApi"), &awsevents.RuleProps{
		Description:  jsii.String("guardbots: outcome events (" + strings.Join(o.APIOutcomes, ", ") + ") to the API destination"),
		EventPattern: outcomePattern(o.APIOutcomes),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewApiDestination(dest, &awseventstargets.ApiDestinationProps{
			DeadLetterQueue: dlq,
			// Named with the prefix, as every guardbots role is (the fence and the SCP name them so).
			EventRole: awsiam.NewRole(stack, jsii.String("OutcomesApiRole"), &awsiam.RoleProps{
				RoleName:    jsii.String(prefix + "-outcomes-api"),
				AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
				Description: jsii.String("guardbots: EventBridge invokes the outcomes API destination"),
			}),
			RetryAttempts: jsii.Number(8),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(24)),
			Event:         awsevents.RuleTargetInput_FromEventPath(jsii.String("$.detail")),
		})},
	})
}
