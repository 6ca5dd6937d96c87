// Command member_health is the member-role health check's Lambda (shared/health).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/health"
	"github.com/guardbots/guardbots/shared/steps"
)

func main() { lambda.Start(steps.Must(health.Handler(context.Background()))) }
