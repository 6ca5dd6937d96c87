package health

import (
	"context"
	"fmt"
	"os"
	"strings"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
)

// Handler builds the member_health Lambda's handler from its environment: the probe key, the topic, the
// role prefix and StackSet (for the report), an optional account list, the metrics namespace.
func Handler(ctx context.Context) (awslambda.Handler, error) {
	steps.SetupLogging()
	cfg, err := awsenv.Load(ctx)
	if err != nil {
		return nil, err
	}
	c, err := FromEnv(cfg.Region)
	if err != nil {
		return nil, err
	}
	c.Signer.KMS = kms.NewFromConfig(cfg)
	c.Lambda = lambda.NewFromConfig(cfg)
	c.Metrics = cloudwatch.NewFromConfig(cfg)
	c.Publisher = notify.Publisher{Client: sns.NewFromConfig(cfg), TopicArn: os.Getenv(deployment.EnvTopicArn)}
	orgs := organizations.NewFromConfig(cfg)
	if len(c.Accounts) == 0 {
		c.Organization = orgs
	}
	if c.Management.Account == "" {
		c.Management.Lookup = orgs
	}
	return steps.Lambda(deployment.HealthFunction, c.Run), nil
}

// FromEnv reads the Checker's settings (no clients); a missing or malformed variable is an error naming it.
func FromEnv(region string) (*Checker, error) {
	c := &Checker{Region: region, RolePrefix: os.Getenv(deployment.EnvRolePrefix), StackSet: os.Getenv(deployment.EnvHealthStackSet),
		Namespace: os.Getenv(deployment.EnvHealthNamespace)}
	c.Signer = plan.Signer{KeyID: os.Getenv(deployment.EnvProbeKey)}
	if c.Signer.KeyID == "" {
		return nil, fmt.Errorf("%s must be set: the health check signs its probes with it", deployment.EnvProbeKey)
	}
	if os.Getenv(deployment.EnvTopicArn) == "" {
		return nil, fmt.Errorf("%s must be set: the health check notifies when a role is not ok", deployment.EnvTopicArn)
	}
	if c.RolePrefix == "" {
		c.RolePrefix = deployment.DefaultRolePrefix
	}
	if c.Namespace == "" {
		c.Namespace = deployment.HealthNamespace
	}
	if v := strings.TrimSpace(os.Getenv(deployment.EnvHealthAccounts)); v != "" {
		for _, a := range strings.Split(v, ",") {
			c.Accounts = append(c.Accounts, strings.TrimSpace(a))
		}
	}
	c.Management.Account = strings.TrimSpace(os.Getenv(deployment.EnvHealthManagementAccount))
	if c.Management.Account != "" && !org.IsAccountID(c.Management.Account) {
		return nil, fmt.Errorf("%s: %q is not a 12-digit account id", deployment.EnvHealthManagementAccount, c.Management.Account)
	}
	for _, b := range strings.Split(os.Getenv(deployment.EnvHealthManagementBots), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Management.Bots = append(c.Management.Bots, b)
		}
	}
	return c, nil
}
