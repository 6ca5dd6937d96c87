// Command parse is the parse step's Lambda.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
)

func main() { lambda.Start(steps.ParseLambda()) }
