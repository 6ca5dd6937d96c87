package bots

// Helpers for bot tests: an in-process kumo emulator, clients that can never reach real AWS, an
// operations recorder (the permissions test's evidence) and SDK-level stubs for calls kumo lacks or
// errors it cannot produce.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"
)

// testRegion and testAccount are where test findings live.
const (
	testRegion  = "us-east-1"
	testAccount = "111122223333"
)

// newKumo starts an in-process kumo (an httptest server on 127.0.0.1) for the test.
func newKumo(t testing.TB) *kumo.Server {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is a configuration pointed at endpoint with static test credentials and retries disabled
// (a stubbed throttle must fail fast). apiOptions are added to every client built from it, in order:
// put the recorder before any stub that short-circuits, or the stubbed call goes unrecorded.
func testConfig(endpoint string, apiOptions ...func(*middleware.Stack) error) aws.Config {
	if endpoint == "" {
		endpoint = "http://127.0.0.1:1" // refuses connections: a stub must answer every call
	}
	return aws.Config{
		Region:           testRegion,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		APIOptions:       apiOptions,
	}
}

// opRecorder records "service:Operation" (the SDK's service id, lower-cased as in IAM, and operation
// name) for every call made through a client that carries its Option.
type opRecorder struct {
	bot string
	mu  sync.Mutex
	ops []string
}

// newRecorder records the calls made for bot, here and in the package-wide evidence that
// TestMain's permissions check reads. Every bot test that calls AWS builds its clients with one.
func newRecorder(bot string) *opRecorder { return &opRecorder{bot: bot} }

// exercised is, per bot, every operation its tests performed.
var exercised = struct {
	sync.Mutex
	ops map[string]map[string]bool
}{ops: map[string]map[string]bool{}}

// Option is the APIOption that records each call once (at Initialize, before retries).
func (r *opRecorder) Option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("opRecorder", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := operationName(ctx)
		r.mu.Lock()
		r.ops = append(r.ops, op)
		r.mu.Unlock()
		if r.bot != "" {
			exercised.Lock()
			if exercised.ops[r.bot] == nil {
				exercised.ops[r.bot] = map[string]bool{}
			}
			exercised.ops[r.bot][op] = true
			exercised.Unlock()
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// Ops returns the recorded operations in call order.
func (r *opRecorder) Ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Distinct returns the recorded operations, sorted and deduplicated.
func (r *opRecorder) Distinct() []string {
	ops := r.Ops()
	slices.Sort(ops)
	return slices.Compact(ops)
}

// operationName is "service:Operation" for the call in ctx, in the names bots declare.
func operationName(ctx context.Context) string {
	return serviceName(awsmiddleware.GetServiceID(ctx)) + ":" + awsmiddleware.GetOperationName(ctx)
}

// serviceName maps the SDK's service id to the IAM service prefix.
func serviceName(serviceID string) string {
	switch serviceID {
	case "EC2":
		return "ec2"
	case "IAM":
		return "iam"
	case "S3":
		return "s3"
	case "S3 Control":
		// Not "s3": S3 Control's GetPublicAccessBlock/PutPublicAccessBlock share their names with S3's
		// bucket-level operations but need other IAM actions (s3:…AccountPublicAccessBlock).
		return "s3control"
	case "STS":
		return "sts"
	case "SNS":
		return "sns"
	case "Lambda":
		return "lambda"
	case "RDS":
		return "rds"
	case "DynamoDB":
		return "dynamodb"
	case "Auto Scaling":
		return "autoscaling"
	case "Elastic Load Balancing v2":
		return "elasticloadbalancing"
	}
	return fmt.Sprintf("unknown(%s)", serviceID)
}

// stubCall answers one operation ("ec2:StopInstances") at the SDK level, before serialization, with
// respond's output or error; other operations pass through. respond sees the typed input, so a test
// can assert the exact request.
func stubCall(op string, respond func(input any) (any, error)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stub "+op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if operationName(ctx) != op {
				return next.HandleInitialize(ctx, in)
			}
			out, err := respond(in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
	}
}

// stubError makes op fail with an AWS error of that code, as the service would return it.
func stubError(op, code, message string) func(*middleware.Stack) error {
	return stubCall(op, func(any) (any, error) {
		return nil, &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient}
	})
}
