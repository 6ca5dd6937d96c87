// Command verify is the verify step's Lambda: it re-reads the finding from GuardDuty before any bot runs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/steps/verifystep"
)

func main() { lambda.Start(steps.Must(verifystep.Handler(context.Background()))) }
