// Package demo runs the guardbots workflow end to end on this machine: the real Lambda bootstraps
// (built for the host) behind the in-process AWS emulator kumo, provisioned as the CDK app provisions
// AWS, driven by the committed ASL definition with aws-local-stepfunctions. `make demo`, `make replay`
// and the workflow tests all use it.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/lambdahost"
	"github.com/guardbots/guardbots/statemachine/local/procwatch"
)

// Where the local stack lives: one account (the orchestrator's own, so bots act without assuming a
// member role) in one region. The demo findings carry the same account.
const (
	Account   = "111122223333"
	Region    = "us-east-1"
	Partition = "aws"
	// StateMachineName is the name the execution ARNs carry, as the CDK app names the workflow.
	StateMachineName = statemachine.Name
)

// childEnv keeps every process the stack starts away from real AWS: static test credentials, no
// shared config or credentials file, no instance metadata. Endpoints are added per stack.
var childEnv = []string{
	"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
	"AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region, "AWS_PROFILE=",
	"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	"AWS_EC2_METADATA_DISABLED=true",
}

// Functions lists every Lambda function of the deployment (shared/deployment) by name with its package.
func Functions() map[string]string {
	out := map[string]string{}
	for _, f := range deployment.Functions(deployment.DefaultSettings(), deployment.Resources{}) {
		out[f.Name] = f.Package
	}
	return out
}

// Build compiles the named functions (nil: all of them) for the host into dir/<name>/bootstrap with
// lambdahost.Build, in parallel. When the Go sources, go.mod and go.sum are unchanged since the last
// build into dir, it reuses the binaries: linking 25 bootstraps is most of a cold run.
func Build(ctx context.Context, moduleRoot, dir string, names []string, log io.Writer) (map[string]string, error) {
	all := Functions()
	if names == nil {
		for n := range all {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	pkgs := map[string]string{}
	for _, n := range names {
		p, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("demo: no function %q in the workflow", n)
		}
		pkgs[n] = p
	}
	stamp, err := sourceStamp(moduleRoot, names)
	if err != nil {
		return nil, err
	}
	stampFile := filepath.Join(dir, ".stamp")
	if b, err := os.ReadFile(stampFile); err == nil && string(b) == stamp {
		out, ok := existing(dir, names)
		if ok {
			return out, nil
		}
	}
	if log != nil {
		fmt.Fprintf(log, "building %d Lambda bootstraps for this machine into %s …\n", len(names), dir)
	}
	// No DWARF and no symbol table: the link is most of the build, and these binaries are never debugged.
	if err := os.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+` "-ldflags=-s -w"`)); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	var wg sync.WaitGroup
	for name, pkg := range pkgs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			bins, err := lambdahost.Build(ctx, moduleRoot, dir, map[string]string{name: pkg})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[name] = bins[name]
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("demo: build bootstraps: %w", err)
	}
	if err := os.WriteFile(stampFile, []byte(stamp), 0o644); err != nil {
		return nil, fmt.Errorf("demo: write build stamp: %w", err)
	}
	return out, nil
}

func existing(dir string, names []string) (map[string]string, bool) {
	out := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			return nil, false
		}
		out[n] = p
	}
	return out, true
}

// sourceStamp hashes what the bootstraps are built from: every .go file under functions/ and shared/,
// go.mod, go.sum and the list of functions.
func sourceStamp(root string, names []string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), strings.Join(names, ","))
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("demo: stamp: %w", err)
		}
		h.Write(b)
	}
	for _, sub := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(root, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			fmt.Fprintln(h, filepath.ToSlash(rel))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("demo: stamp: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Options configures a Stack.
type Options struct {
	// Mapping is the mapping document put in SSM; nil means the demo mapping (Mapping()).
	Mapping []byte
	// DryRun sets GUARDBOTS_DRY_RUN=true on every bot.
	DryRun bool
	// AllowSamples sets GUARDBOTS_ALLOW_SAMPLE_FINDINGS=true on match.
	AllowSamples bool
	// FunctionEnv adds environment variables to one function's bootstrap (tests point a bot at a
	// failing endpoint with it).
	FunctionEnv map[string][]string
	// InvokeErrors answers the next invokes of a function with these errorTypes at the Lambda API, before
	// its bootstrap sees them (what a Lambda error looks like to the state machine). For a throttle:
	// a real one inside the bootstrap costs the SDK's own five jittered attempts first.
	InvokeErrors map[string][]string
	// Organization is the organization fixture the Organizations stand-in serves; nil means the demo
	// organization (Organization()).
	Organization []byte
	// Suffix makes resource names unique: kumo keeps one storage for every server in a process.
	Suffix string
	// CountAPICalls puts a counting proxy between the bootstraps and kumo (TakeAPICalls): the cost
	// model's API calls per remediation. Off by default: it adds a hop to every call.
	CountAPICalls bool
	// MaxDescriptors is the descriptor budget of each process of the stack (0: half its own limit);
	// a process over it fails the stack (procwatch).
	MaxDescriptors int
	// Wrap adjusts each bootstrap's command before it starts (lambdahost.Host.Wrap).
	Wrap func(name string, cmd *exec.Cmd)
}

// Stack is kumo with everything the workflow needs, and the bootstraps running against it.
type Stack struct {
	Kumo *kumo.Server
	Host *lambdahost.Host
	AWS  aws.Config

	MappingParameter string
	Table            string
	// AuditTable is the audit trail (pk, sk, GSI byResource), as the CDK app creates it.
	AuditTable string
	TopicARN   string
	QueueURL   string
	// The mail and chat topics, as the CDK app creates them (notify publishes every message to all
	// three), each with a queue standing in for its email subscription and chat channel.
	MailTopicARN, MailQueueURL string
	ChatTopicARN, ChatQueueURL string
	// Functions are the function names running, sorted.
	Functions  []string
	Resources  Resources
	Definition []byte

	proxy *invokeProxy
	// calls counts the bootstraps' AWS API requests when Options.CountAPICalls is set.
	calls *apiCounter
	// Plans are the plan-signing key in kumo's KMS and the guardbots state machine whose executions kumo
	// describes (a placeholder: aws-local-stepfunctions runs the definition).
	Plans *plantest.Local
	// guardDuty and iamShim serve what kumo lacks (standins.go).
	guardDuty *guardDutyStandIn
	iamShim   *iamShim
	// orgs serves AWS Organizations from the demo organization (orgstandin.go).
	orgs *orgStandIn
	// watch samples every process of the stack and fails the stack when one cannot make progress.
	watch *procwatch.Watchdog
}

// SelfName is how the stack names this process (kumo, the proxies and the stand-ins run in it).
const SelfName = "this process (kumo, Lambda API proxy, stand-ins)"

// ApproverRoleARN is the role the local stack names as the only one allowed to answer an approval
// request (request_approval puts it in the message; nothing local waits for a task token).
const ApproverRoleARN = "arn:" + Partition + ":iam::" + Account + ":role/guardbots-approver"

// StandIns says what the local stack serves itself instead of kumo, for the demo's output.
func (s *Stack) StandIns() []string {
	return []string{
		fmt.Sprintf("GuardDuty: the demo's stand-in on %s (ListDetectors, GetFindings over the findings the demo published to it, updatedAt stamped when stored; a finding id it holds keeps its first copy), for the verify step only", s.guardDuty.URL()),
		fmt.Sprintf("IAM ListRoleTags/ListUserTags: the demo's shim on %s answers them from kumo's GetRole/GetUser (kumo lacks them); every other IAM call goes to kumo", s.iamShim.URL()),
		fmt.Sprintf("AWS Organizations: the demo's stand-in on %s (DescribeAccount, ListParents, ListTagsForResource over the demo organization, statemachine/local/demo/organization.json), for match and verify only", s.orgs.URL()),
	}
}

// Signing says how the plan is signed and checked on the local stack, for the demo's output.
func (s *Stack) Signing() string {
	return fmt.Sprintf("KMS key %s (ECC_NIST_P256, SIGN_VERIFY) in kumo: verify signs each action (Sign), every bot checks the signature "+
		"with its public half (GetPublicKey) and asks kumo's DescribeExecution whether the execution runs on state machine %s — "+
		"which kumo holds as a placeholder (one Wait state), an execution of it started for each run (ABORTED when the run ends), "+
		"since aws-local-stepfunctions, not kumo, runs the definition", s.Plans.KeyID, s.Plans.StateMachineArn)
}

// Resources are what the demo findings attack: their placeholders are replaced with these.
type Resources struct {
	InstanceID string
	RoleName   string
	// RoleID is the role's unique id: a session of it is "<RoleID>:<session name>" (aws:userId).
	RoleID             string
	InstanceProfileArn string
	Bucket             string
	// Uploads is a versioned bucket holding Object (EICAR's test file) as version ObjectVersion with
	// ObjectETag: what Object:S3/MaliciousFile names.
	Uploads, Object, ObjectVersion, ObjectETag string
}

// EICAR is the antivirus test file every scanner reports and nothing executes.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Start starts kumo, provisions it and starts each built bootstrap. Close stops all of it; on an
// error Start has already stopped what it started.
//
// While it runs, the stack watches itself: a bootstrap that exits, a process over its descriptor
// budget or the Lambda API proxy unable to accept connections fails the stack (Err) — it stops every
// bootstrap at once and cancels every context bound to it with the failure as the cause (Context),
// so the run using it ends with an error naming the component instead of hanging.
func Start(ctx context.Context, bins map[string]string, opts Options) (_ *Stack, err error) {
	srv := kumo.NewServer()
	s := &Stack{Kumo: srv, AWS: Config(srv.URL)}
	s.watch = procwatch.New(procwatch.Options{MaxDescriptors: opts.MaxDescriptors, OnFail: s.stopProcesses})
	s.watch.Watch(SelfName, os.Getpid())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	sfx := opts.Suffix
	s.MappingParameter = deployment.DefaultMappingParameter + sfx
	s.Table = "guardbots-state" + sfx
	s.AuditTable = "guardbots-audit" + sfx
	doc := opts.Mapping
	if doc == nil {
		doc = Mapping()
	}
	if err := s.provision(ctx, doc, sfx); err != nil {
		return nil, err
	}
	if s.Plans, err = plantest.New(ctx, s.AWS, StateMachineName); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if s.proxy, err = newInvokeProxy(srv.URL, opts.InvokeErrors, func(err error) { s.watch.Fail("Lambda API proxy", err) }); err != nil {
		return nil, err
	}
	endpoint := srv.URL
	if opts.CountAPICalls {
		if s.calls, err = newAPICounter(srv.URL); err != nil {
			return nil, err
		}
		endpoint = s.calls.URL()
	}
	s.guardDuty = newGuardDutyStandIn()
	orgDoc := opts.Organization
	if orgDoc == nil {
		orgDoc = Organization()
	}
	if s.orgs, err = newOrgStandIn(orgDoc); err != nil {
		return nil, err
	}
	// The shim passes IAM calls on through the counter, when there is one.
	if s.iamShim, err = newIAMShim(endpoint, s.AWS); err != nil {
		return nil, err
	}
	def, err := statemachine.Definition()
	if err != nil {
		return nil, err
	}
	if s.Definition, err = statemachine.Render(def, statemachine.LambdaARNs(Partition, Region, Account)); err != nil {
		return nil, err
	}

	s.Host = &lambdahost.Host{
		Endpoint: srv.URL,
		Lambda:   lambda.NewFromConfig(s.AWS),
		Sizes:    s.sizes(opts),
		Env:      append(slices.Clone(childEnv), "AWS_ENDPOINT_URL="+endpoint),
		Wrap:     opts.Wrap,
		OnExit: func(p *lambdahost.Process, err error) {
			s.watch.Fail(fmt.Sprintf("bootstrap %s (pid %d)", p.Name, p.PID()),
				fmt.Errorf("exited (%v): the function can no longer be invoked; its last output:\n%s", err, p.LastLogs(2000)))
		},
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for name, bin := range bins {
		s.Functions = append(s.Functions, name)
		// The SDK's user agent names the function (app/<name>), so a counted call says whose it is.
		env := append(append(s.functionEnv(name, opts), "AWS_SDK_UA_APP_ID="+name), opts.FunctionEnv[name]...)
		wg.Go(func() {
			p, err := s.Host.Start(ctx, name, bin, env...)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			s.watch.Watch("bootstrap "+name, p.PID())
		})
	}
	wg.Wait()
	sort.Strings(s.Functions)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("demo: start bootstraps: %w", err)
	}
	return s, nil
}

// function is the function called name as the deployment describes it (shared/deployment, what the CDK
// app deploys), with the local stack's settings and resources.
func (s *Stack) function(name string, opts Options) (deployment.Function, bool) {
	settings := deployment.DefaultSettings()
	settings.DryRun = opts.DryRun
	settings.AllowSampleFindings = opts.AllowSamples
	settings.MappingParameter = s.MappingParameter
	// Read every time: tests change the mapping between executions.
	settings.MappingTTL = 0
	for _, f := range deployment.Functions(settings, deployment.Resources{
		AccountID: Account, TopicArn: s.TopicARN, MailTopicArn: s.MailTopicARN, ChatTopicArn: s.ChatTopicARN,
		ApproverRoleArn: ApproverRoleARN,
		StateTable:      s.Table, AuditTable: s.AuditTable, EventBus: "default",
		SigningKey: s.Plans.KeyID, StateMachineArn: s.Plans.StateMachineArn,
	}) {
		if f.Name == name {
			return f, true
		}
	}
	return deployment.Function{}, false
}

// sizes gives each function its timeout and memory size as the deployment sets them.
func (s *Stack) sizes(opts Options) func(name string) (time.Duration, int) {
	return func(name string) (time.Duration, int) {
		f, _ := s.function(name, opts)
		return f.Timeout, f.MemoryMiB
	}
}

// functionEnv is the function's environment as the deployment sets it, and where its AWS calls go
// locally.
func (s *Stack) functionEnv(name string, opts Options) []string {
	f, ok := s.function(name, opts)
	if !ok {
		return nil
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(f.Env)) {
		env = append(env, k+"="+f.Env[k])
	}
	if f.Name == deployment.StepMatch || f.Name == deployment.StepVerify {
		// The organization lookups stay on: Organizations is the demo's stand-in, for these two only.
		env = append(env, "AWS_ENDPOINT_URL_ORGANIZATIONS="+s.orgs.URL())
	}
	switch {
	case f.Name == deployment.StepVerify:
		// The check stays on: GuardDuty is the demo's stand-in, for this function only.
		env = append(env, "AWS_ENDPOINT_URL_GUARDDUTY="+s.guardDuty.URL())
	case f.Bot:
		// IAM through the shim, for the exemption rail's tag reads.
		env = append(env, "AWS_ENDPOINT_URL_IAM="+s.iamShim.URL())
	}
	return env
}

// Restart starts the named function's bootstrap again, a new process (a cold start), watched like the
// first.
func (s *Stack) Restart(ctx context.Context, name string) error {
	p, err := s.Host.Restart(ctx, name)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.watch.Watch("bootstrap "+name, p.PID())
	return nil
}

// Err is why the stack failed (a *procwatch.Failure naming the component), nil while it is healthy.
func (s *Stack) Err() error { return s.watch.Err() }

// Context returns a context derived from parent that is cancelled, with the stack's failure as its
// cause (context.Cause), when the stack fails. Bind every run on the stack to one.
func (s *Stack) Context(parent context.Context) (context.Context, context.CancelFunc) {
	return s.watch.Context(parent)
}

// Watch adds a process the run started beside the stack (a Node runner) to the ones the stack watches;
// the returned function forgets it when it ends as expected.
func (s *Stack) Watch(name string, pid int) (unwatch func()) { return s.watch.Watch(name, pid) }

// Usage samples every process of the stack now and returns its descriptors and memory, now and at
// their peak: this process, each bootstrap and whatever was added with Watch.
func (s *Stack) Usage() []procwatch.Usage {
	s.watch.Sample()
	return s.watch.Usage()
}

// stopProcesses is the watchdog's reaction to a failure: no bootstrap keeps running for a run that has
// failed. The servers stay up until Close, so the run's own calls fail with the stack's error.
func (s *Stack) stopProcesses(error) {
	if s.Host != nil {
		s.Host.Stop()
	}
}

// Close stops every bootstrap, the proxy and kumo.
func (s *Stack) Close() {
	if s.Host != nil {
		s.Host.Stop()
	}
	s.watch.Close()
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.calls != nil {
		s.calls.Close()
	}
	if s.guardDuty != nil {
		s.guardDuty.Close()
	}
	if s.orgs != nil {
		s.orgs.Close()
	}
	if s.iamShim != nil {
		s.iamShim.Close()
	}
	s.Kumo.Close()
}

// Config is a client configuration for kumo: static test credentials, the endpoint always set.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint),
		// One HTTP client for every service client made from this configuration (not a
		// BuildableClient, which each service client would copy with a pool of its own: the clients
		// made per call — Receive, AuditRecords — each left an idle connection open for 90 s). The
		// timeout bounds any call kumo never answers.
		HTTPClient: httpClient(),
	}
}

// httpClient is the client Config gives every service client; transport options are for tests.
func httpClient(transport ...func(*http.Transport)) aws.HTTPClient {
	return inMemoryBodies{awshttp.NewBuildableClient().WithTimeout(2 * time.Minute).WithTransportOptions(transport...)}
}

// inMemoryBodies sends each request body from a copy in memory. The SDK hands net/http its body in a
// wrapper that reads io.EOF once closed, and closes it as soon as the response headers arrive; kumo,
// in this process, can answer before net/http's writer has made its last read of the body, which
// then fails, so net/http closes the connection under the response being read and the SDK retries
// the call. A retried ReceiveMessage loses what the first one took (invisible for 30 s): a notification
// missing from an execution, about one run in three of 50 executions on a loaded machine. From a
// plain in-memory reader net/http sends headers and body in one write and the race is gone.
type inMemoryBodies struct{ client aws.HTTPClient }

func (c inMemoryBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return c.client.Do(r)
}

// SetMapping replaces the mapping in SSM (match reads it on every invocation here).
func (s *Stack) SetMapping(ctx context.Context, doc []byte) error {
	if _, err := mapping.Parse(doc); err != nil {
		return fmt.Errorf("demo: mapping: %w", err)
	}
	_, err := ssm.NewFromConfig(s.AWS).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(s.MappingParameter), Value: aws.String(string(doc)),
		Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("demo: put the mapping parameter %s: %w", s.MappingParameter, err)
	}
	return nil
}

// provision creates what the CDK orchestrator stack creates (mapping parameter, state table, topic with
// a subscriber) and the resources the findings are about.
func (s *Stack) provision(ctx context.Context, doc []byte, sfx string) error {
	if err := s.SetMapping(ctx, doc); err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(s.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(s.Table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(statetable.PartitionKey), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(statetable.PartitionKey), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		return fmt.Errorf("demo: create the state table %s: %w", s.Table, err)
	}
	if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(s.Table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(statetable.TTLAttribute), Enabled: aws.Bool(true)},
	}); err != nil {
		return fmt.Errorf("demo: state table TTL: %w", err)
	}
	if err := s.createAuditTable(ctx, ddb); err != nil {
		return err
	}

	snsc, sqsc := sns.NewFromConfig(s.AWS), sqs.NewFromConfig(s.AWS)
	inboxes := []struct {
		topic, queue       string
		topicARN, queueURL *string
	}{
		{"guardbots-notifications", "security-team-inbox", &s.TopicARN, &s.QueueURL},
		{"guardbots-mail", "security-team-mail", &s.MailTopicARN, &s.MailQueueURL},
		{"guardbots-chat", "security-team-chat", &s.ChatTopicARN, &s.ChatQueueURL},
	}
	for _, in := range inboxes {
		topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(in.topic + sfx)})
		if err != nil {
			return fmt.Errorf("demo: create the topic %s: %w", in.topic, err)
		}
		*in.topicARN = aws.ToString(topic.TopicArn)
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(in.queue + sfx)})
		if err != nil {
			return fmt.Errorf("demo: create the subscriber queue %s: %w", in.queue, err)
		}
		*in.queueURL = aws.ToString(q.QueueUrl)
		qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("demo: subscriber queue %s ARN: %w", in.queue, err)
		}
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"])}); err != nil {
			return fmt.Errorf("demo: subscribe the queue %s to the topic %s: %w", in.queue, in.topic, err)
		}
	}
	return s.provisionTargets(ctx, sfx)
}

// createAuditTable creates the audit table as the CDK app does: pk and sk, GSI byResource on resource
// and sk, TTL on expiresAt.
func (s *Stack) createAuditTable(ctx context.Context, ddb *dynamodb.Client) error {
	str := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: ddbtypes.KeyTypeRange}}
	}
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(s.AuditTable),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{str(statetable.PartitionKey), str(statetable.AuditSortKey), str(statetable.AuditResourceKey)},
		KeySchema:            key(statetable.PartitionKey, statetable.AuditSortKey),
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName:  aws.String(statetable.AuditResourceGSI),
			KeySchema:  key(statetable.AuditResourceKey, statetable.AuditSortKey),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		return fmt.Errorf("demo: create the audit table %s: %w", s.AuditTable, err)
	}
	if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(s.AuditTable),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(statetable.TTLAttribute), Enabled: aws.Bool(true)},
	}); err != nil {
		return fmt.Errorf("demo: audit table TTL: %w", err)
	}
	return nil
}

// StateTable is the bots' state table in kumo (undo records, claims, deny records), for reading back.
func (s *Stack) StateTable() *statetable.Table {
	ddb := dynamodb.NewFromConfig(s.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	return &statetable.Table{Client: ddb, Name: s.Table}
}

// AuditRecords reads the audit trail of a finding back, oldest first.
func (s *Stack) AuditRecords(ctx context.Context, findingID string) ([]statetable.AuditRecord, error) {
	ddb := dynamodb.NewFromConfig(s.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	return (&statetable.Audit{Client: ddb, Name: s.AuditTable}).ByFinding(ctx, findingID)
}

const trustEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// InAccount is an IAM ARN of kumo's (whose IAM names every resource in its own fixed account) as AWS
// would write it in the demo's member account, where the findings say the resources are: the bots take
// an ARN in another account than the finding's for a forgery.
func InAccount(iamARN string) string {
	a, err := arn.Parse(iamARN)
	if err != nil {
		return iamARN
	}
	a.AccountID = Account
	return a.String()
}

// provisionTargets creates the instance (running, with the role's instance profile), the role and the
// bucket (no public access block: what Policy:S3/BucketBlockPublicAccessDisabled reports).
func (s *Stack) provisionTargets(ctx context.Context, sfx string) error {
	r := &s.Resources
	r.RoleName = "web-app-role" + sfx
	iamc := iam.NewFromConfig(s.AWS)
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.RoleName), AssumeRolePolicyDocument: aws.String(trustEC2),
		Tags: []iamtypes.Tag{{Key: aws.String("app"), Value: aws.String("web-app")}}})
	if err != nil {
		return fmt.Errorf("demo: create role %s: %w", r.RoleName, err)
	}
	r.RoleID = aws.ToString(role.Role.RoleId)
	profile := "web-app-profile" + sfx
	ip, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(profile)})
	if err != nil {
		return fmt.Errorf("demo: create instance profile %s: %w", profile, err)
	}
	r.InstanceProfileArn = InAccount(aws.ToString(ip.InstanceProfile.Arn))
	if _, err := iamc.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(profile), RoleName: aws.String(r.RoleName)}); err != nil {
		return fmt.Errorf("demo: add role %s to %s: %w", r.RoleName, profile, err)
	}
	run, err := ec2.NewFromConfig(s.AWS).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0c55b159cbfafe1f0"), InstanceType: ec2types.InstanceTypeM6iLarge,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Arn: aws.String(r.InstanceProfileArn)},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web-app-01")}}}},
	})
	if err != nil {
		return fmt.Errorf("demo: run the instance: %w", err)
	}
	r.InstanceID = aws.ToString(run.Instances[0].InstanceId)
	r.Bucket = "payments-exports-" + Account + sfx
	s3c := s3.NewFromConfig(s.AWS)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(r.Bucket)}); err != nil {
		return fmt.Errorf("demo: create bucket %s: %w", r.Bucket, err)
	}
	r.Uploads, r.Object = "customer-uploads-"+Account+sfx, "incoming/invoice-1187.zip"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(r.Uploads)}); err != nil {
		return fmt.Errorf("demo: create bucket %s: %w", r.Uploads, err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(r.Uploads),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		return fmt.Errorf("demo: turn on versioning of %s: %w", r.Uploads, err)
	}
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.Uploads), Key: aws.String(r.Object), Body: strings.NewReader(EICAR)})
	if err != nil {
		return fmt.Errorf("demo: upload %s to %s: %w", r.Object, r.Uploads, err)
	}
	r.ObjectVersion, r.ObjectETag = aws.ToString(put.VersionId), aws.ToString(put.ETag)
	return nil
}
