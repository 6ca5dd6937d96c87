// Package bottest is what the bot families' tests share: an in-process kumo emulator, clients that can
// never reach real AWS, an operations recorder (the permissions check's evidence), SDK-level stubs for
// calls kumo lacks or errors it cannot produce, and Main, each family's TestMain. Only tests import it.
package bottest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// Region and Account are where test findings live.
const (
	Region  = "us-east-1"
	Account = "111122223333"
)

// NewKumo starts an in-process kumo (an httptest server on 127.0.0.1) for the test.
func NewKumo(t testing.TB) *kumo.Server {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// Config is a configuration pointed at endpoint with static test credentials and retries disabled
// (a stubbed throttle must fail fast). apiOptions are added to every client built from it, in order:
// put the recorder before any stub that short-circuits, or the stubbed call goes unrecorded.
func Config(endpoint string, apiOptions ...func(*middleware.Stack) error) aws.Config {
	if endpoint == "" {
		endpoint = "http://127.0.0.1:1" // refuses connections: a stub must answer every call
	}
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		APIOptions:       apiOptions,
	}
}

// Recorder records "service:Operation" (the SDK's service id, lower-cased as in IAM, and operation
// name) for every call made through a client that carries its Option.
type Recorder struct {
	bot string
	mu  sync.Mutex
	ops []string
}

// NewRecorder records the calls made for bot, here and in the package-wide evidence that
// Main's permissions check reads. Every bot test that calls AWS builds its clients with one.
func NewRecorder(bot string) *Recorder { return &Recorder{bot: bot} }

// exercised is, per bot, every operation its tests performed: the evidence Main's permissions check reads.
var exercised = struct {
	sync.Mutex
	ops map[string]map[string]bool
}{ops: map[string]map[string]bool{}}

// Option is the APIOption that records each call once (at Initialize, before retries).
func (r *Recorder) Option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("Recorder", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := OperationName(ctx)
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
func (r *Recorder) Ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Distinct returns the recorded operations, sorted and deduplicated.
func (r *Recorder) Distinct() []string {
	ops := r.Ops()
	slices.Sort(ops)
	return slices.Compact(ops)
}

// OperationName is "service:Operation" for the call in ctx, in the names bots declare.
func OperationName(ctx context.Context) string {
	return ServiceName(awsmiddleware.GetServiceID(ctx)) + ":" + awsmiddleware.GetOperationName(ctx)
}

// ServiceName maps the SDK's service id to the IAM service prefix: the id lower-cased without spaces
// ("Auto Scaling" → "autoscaling"), but for the services whose prefix is another.
func ServiceName(serviceID string) string {
	switch serviceID {
	case "":
		return "unknown"
	case "Elastic Load Balancing v2":
		return "elasticloadbalancing"
	}
	// S3 Control stays "s3control", not "s3": its GetPublicAccessBlock/PutPublicAccessBlock share their
	// names with S3's bucket-level operations but need other IAM actions (s3:…AccountPublicAccessBlock).
	return strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
}

// StubCall answers one operation ("ec2:StopInstances") at the SDK level, before serialization, with
// respond's output or error; other operations pass through. respond sees the typed input, so a test
// can assert the exact request.
func StubCall(op string, respond func(input any) (any, error)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stub "+op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if OperationName(ctx) != op {
				return next.HandleInitialize(ctx, in)
			}
			out, err := respond(in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
	}
}

// StubSend answers op in place of sending it over HTTP: after the SDK's retry middleware, so unlike
// StubCall each attempt reaches respond and a test sees the client's retryer at work (WithRetries).
func StubSend(op string, respond func(input any) (any, error)) func(*middleware.Stack) error {
	type inputKey struct{}
	return func(st *middleware.Stack) error {
		if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("send stub input "+op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, inputKey{}, in.Parameters), in)
		}), middleware.After); err != nil {
			return err
		}
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("send stub "+op, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if OperationName(ctx) != op {
				return next.HandleFinalize(ctx, in)
			}
			if err := ctx.Err(); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err // as the HTTP client would
			}
			out, err := respond(middleware.GetStackValue(ctx, inputKey{}))
			return middleware.FinalizeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
	}
}

// WithRetries lets the SDK retry each call up to attempts times, without waiting, where Config
// disables retries: for tests of the errors a bot's client retries.
func WithRetries(cfg aws.Config, attempts int) aws.Config {
	cfg.RetryMaxAttempts = attempts
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		})
	}
	return cfg
}

// StubError makes op fail with an AWS error of that code, as the service would return it.
func StubError(op, code, message string) func(*middleware.Stack) error {
	return StubCall(op, func(any) (any, error) { return nil, APIError(code, message) })
}

// Execution and FindingID are the execution ARN and finding id test requests carry.
const (
	Execution = "arn:aws:states:us-east-1:999988887777:execution:guardbots-remediation:run-1"
	FindingID = "7ab0f7a2c1d94a2b9e1f3c5d6e7f8a9b"
)

// Env is a kumo server plus, for one bot, a recorded (and optionally stubbed) configuration.
type Env struct {
	URL    string
	Config aws.Config
	Rec    *Recorder
}

// NewEnv starts kumo for the test and records bot's calls made with Env.Config, after stubs.
func NewEnv(t *testing.T, bot string, stubs ...func(*middleware.Stack) error) Env {
	t.Helper()
	srv := NewKumo(t)
	rec := NewRecorder(bot)
	return Env{
		URL:    srv.URL,
		Config: Config(srv.URL, append([]func(*middleware.Stack) error{rec.Option}, stubs...)...),
		Rec:    rec,
	}
}

// Admin is a configuration for setting up and reading back kumo's state, outside the bot's record.
func (e Env) Admin() aws.Config { return Config(e.URL) }

// Request asks the bot to act on f with the recorded configuration.
func (e Env) Request(f *finding.Finding, dryRun bool) bots.Request {
	return bots.Request{Finding: f, DryRun: dryRun, AWS: e.Config, Execution: Execution, Params: bots.Params{}}
}

var uniqueSeq atomic.Int64

// UniqueName makes a resource name no other test uses: kumo's IAM state is shared by every server in
// the process, not per server.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), uniqueSeq.Add(1))
}

// Run runs the registered bot name, which must be linked into the test, as the runner does (its
// targets resolved first, bots.Bot.Resolve), with its default parameters when req has none.
func Run(t *testing.T, name string, req bots.Request) (bots.Result, error) {
	t.Helper()
	b, ok := bots.Lookup(name)
	if !ok || b.Run == nil {
		t.Fatalf("%s is not registered in this test binary", name)
	}
	if req.Params == nil {
		p, err := b.ParseParams(nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Params = p
	}
	// The runner resolves the targets before it runs a bot; so does every test run.
	skip, err := b.Resolve(context.Background(), &req)
	if err != nil {
		return bots.Result{}, err
	}
	if skip != "" {
		return bots.SkipBecause(bots.Result{Bot: name, Account: req.Finding.AccountID, Region: req.Finding.Region, DryRun: req.DryRun}, skip), nil
	}
	return b.Run(context.Background(), req)
}

// ObserveOp calls seen with each input of op, then lets the call through.
func ObserveOp(op string, seen func(input any)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("observe "+op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if OperationName(ctx) == op {
				seen(in.Parameters)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
}

// APIError is an AWS error of that code, as the service returns it.
func APIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient}
}
