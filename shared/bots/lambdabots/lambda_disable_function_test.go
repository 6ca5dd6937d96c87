package lambdabots

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// concurrencyFake stands in for Lambda's concurrency and tagging calls, which kumo does not serve.
// reserved is nil for a function without a reservation; exists false for a deleted function.
type concurrencyFake struct {
	mu       sync.Mutex
	exists   bool
	reserved *int32
	puts     []*lambda.PutFunctionConcurrencyInput
	tags     []*lambda.TagResourceInput
}

func (c *concurrencyFake) options() []func(*middleware.Stack) error {
	notFound := &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Function not found", Fault: smithy.FaultClient}
	return []func(*middleware.Stack) error{
		bottest.StubCall("lambda:GetFunctionConcurrency", func(any) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.exists {
				return nil, notFound
			}
			return &lambda.GetFunctionConcurrencyOutput{ReservedConcurrentExecutions: c.reserved}, nil
		}),
		bottest.StubCall("lambda:PutFunctionConcurrency", func(in any) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			p := in.(*lambda.PutFunctionConcurrencyInput)
			c.puts = append(c.puts, p)
			c.reserved = aws.Int32(aws.ToInt32(p.ReservedConcurrentExecutions))
			return &lambda.PutFunctionConcurrencyOutput{ReservedConcurrentExecutions: c.reserved}, nil
		}),
		bottest.StubCall("lambda:TagResource", func(in any) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.tags = append(c.tags, in.(*lambda.TagResourceInput))
			return &lambda.TagResourceOutput{}, nil
		}),
	}
}

func newLambdaEnv(t *testing.T, fake *concurrencyFake, stubs ...func(*middleware.Stack) error) bottest.Env {
	t.Helper()
	rec := bottest.NewRecorder("lambda_disable_function")
	// No server: every call is answered by a stub (an unanswered call fails to connect).
	return bottest.Env{Config: bottest.Config("", append(append([]func(*middleware.Stack) error{rec.Option}, stubs...), fake.options()...)...), Rec: rec}
}

func lambdaFinding(name string) *finding.Finding {
	return &finding.Finding{
		ID: bottest.FindingID, Type: "Backdoor:Lambda/C&CActivity.B", AccountID: bottest.Account, Region: bottest.Region, Partition: "aws",
		ResourceKind: finding.KindLambdaFunction, Lambda: &finding.Lambda{FunctionName: name},
	}
}

func (c *concurrencyFake) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.exists, aws.ToInt32(c.reserved), c.reserved == nil, len(c.tags), " tags")
}

var _ = bottest.RegisterContract("lambda_disable_function", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		fake := &concurrencyFake{exists: true, reserved: aws.Int32(5)}
		e := newLambdaEnv(t, fake, stubs...)
		return bottest.World{
			Request: func(dryRun bool) bots.Request { return e.Request(lambdaFinding("billing-export"), dryRun) },
			Rec:     e.Rec, State: func(*testing.T) string { return fake.state() },
			Gone: func(*bots.Request) { fake.exists = false },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "lambda:PutFunctionConcurrency",
	Throttle: "lambda:GetFunctionConcurrency",
})

func TestLambdaDisableFunction_SetsReservedConcurrencyToZeroRecordingThePrevious(t *testing.T) {
	fake := &concurrencyFake{exists: true, reserved: aws.Int32(25)}
	e := newLambdaEnv(t, fake)
	res, err := bottest.Run(t, "lambda_disable_function", e.Request(lambdaFinding("billing-export"), false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["reservedConcurrency"] != "25" || res.After["reservedConcurrency"] != "0" {
		t.Fatalf("result = %+v", res)
	}
	if len(fake.puts) != 1 || aws.ToString(fake.puts[0].FunctionName) != "billing-export" || fake.puts[0].ReservedConcurrentExecutions == nil || *fake.puts[0].ReservedConcurrentExecutions != 0 {
		t.Errorf("PutFunctionConcurrency inputs %+v, want billing-export → 0", fake.puts)
	}
	wantArn := "arn:aws:lambda:us-east-1:111122223333:function:billing-export"
	if len(fake.tags) != 1 || aws.ToString(fake.tags[0].Resource) != wantArn || fake.tags[0].Tags[bots.TagBot] != "lambda_disable_function" || fake.tags[0].Tags[bots.TagFindingID] != bottest.FindingID {
		t.Errorf("TagResource inputs %+v", fake.tags)
	}
}

func TestLambdaDisableFunction_UnreservedFunctionIsRecordedAsUnreserved(t *testing.T) {
	fake := &concurrencyFake{exists: true}
	res, err := bottest.Run(t, "lambda_disable_function", newLambdaEnv(t, fake).Request(lambdaFinding("f"), false))
	if err != nil || res.Before["reservedConcurrency"] != "unreserved" || aws.ToInt32(fake.reserved) != 0 || fake.reserved == nil {
		t.Errorf("result %+v, %v; reserved now %v", res, err, fake.reserved)
	}
}
