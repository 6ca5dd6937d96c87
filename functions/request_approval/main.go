// Command request_approval is the Lambda the state machine's "Wait for approval" Task invokes with a task
// token: it tells the approvers how to approve or deny one APPROVE action.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/steps/notifystep"
)

func main() { lambda.Start(steps.Must(notifystep.ApprovalHandler(context.Background()))) }
