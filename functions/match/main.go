// Command match is the match step's Lambda.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
)

func main() { lambda.Start(steps.Must(steps.MatchLambda(context.Background()))) }
