// Command notify is the notify step's Lambda.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/steps/notifystep"
)

func main() { lambda.Start(steps.Must(notifystep.Handler(context.Background()))) }
