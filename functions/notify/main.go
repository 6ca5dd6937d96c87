// Command notify is the notify step's Lambda.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
)

func main() { lambda.Start(steps.Must(steps.NotifyLambda(context.Background()))) }
