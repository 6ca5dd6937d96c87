package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/health"
)

// healthClients builds the Step Functions client and finds the member-health state machine; tests
// replace it.
var healthClients = func(ctx context.Context, region string) (health.StatesAPI, string, error) {
	cfg, err := config.LoadDefaultConfig(ctx, func(o *config.LoadOptions) error {
		if region != "" {
			o.Region = region
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, "", fmt.Errorf("who am I (sts:GetCallerIdentity): %w", err)
	}
	partition := strings.Split(aws.ToString(id.Arn), ":")[1]
	arn := fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", partition, cfg.Region, aws.ToString(id.Account), deployment.HealthStateMachineName)
	return sfn.NewFromConfig(cfg), arn, nil
}

// healthCmd runs the deployed member-role health check with the caller's credentials (of the security
// account, in the home region) and prints its report: the only subcommand that calls AWS.
func healthCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	accounts := fs.String("accounts", "", "comma-separated accounts to probe (default: every active account of the organization)")
	region := fs.String("region", "", "the home region (default: the AWS configuration's)")
	timeout := fs.Duration("timeout", deployment.HealthTimeout+2*time.Minute, "how long to wait for the report")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	var list []string
	for _, a := range strings.Split(*accounts, ",") {
		if a = strings.TrimSpace(a); a != "" {
			list = append(list, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, arn, err := healthClients(ctx, *region)
	if err != nil {
		fmt.Fprintln(stderr, "health:", err)
		return 2
	}
	rep, exec, err := health.StartAndWait(ctx, c, arn, list, 5*time.Second)
	if err != nil {
		fmt.Fprintln(stderr, "health:", err)
		return 2
	}
	fmt.Fprintf(stdout, "execution %s\n", exec)
	if err := health.Print(stdout, rep); err != nil {
		fmt.Fprintln(stderr, "health:", err)
		return 2
	}
	if !rep.OK {
		return 1
	}
	return 0
}
