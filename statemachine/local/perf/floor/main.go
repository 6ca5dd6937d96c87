// Command floor is the smallest Go Lambda: aws-lambda-go's runtime loop and a handler that echoes its
// input, no AWS SDK. perf measures it beside the guardbots bootstraps as the floor of a Go Lambda's
// start (the Go runtime, the runtime loop, its first Runtime API poll).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
}
