// Command match is the match step's Lambda.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/steps/matchstep"
)

func main() { lambda.Start(steps.Must(matchstep.Handler(context.Background()))) }
