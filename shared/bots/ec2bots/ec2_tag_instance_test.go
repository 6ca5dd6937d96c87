package ec2bots

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func TestEC2TagInstance_TagsInstanceWithFindingIdTypeSeverityAndTime(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	res, err := runInstanceBot(t, "ec2_tag_instance", e.request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	got := e.kumoTags(t)
	want := map[string]string{
		bots.TagFindingID:  instanceFindingID,
		TagFindingType:     "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		TagFindingSeverity: "8.0 HIGH",
		TagFindingTime:     "2026-01-02T03:04:05.000Z",
		bots.TagBot:        "ec2_tag_instance",
		bots.TagExecution:  bottest.Execution,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tag %s = %q, want %q", k, got[k], v)
		}
	}
	if ops := e.rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "ec2:CreateTags"}) {
		t.Errorf("called %v", ops)
	}
}

func TestEC2TagInstance_SecondRunIsAlreadyDone(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	if _, err := runInstanceBot(t, "ec2_tag_instance", e.request(false)); err != nil {
		t.Fatal(err)
	}
	before := len(e.rec.Ops())
	res, err := runInstanceBot(t, "ec2_tag_instance", e.request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone {
		t.Fatalf("second run = %s (%v), want already-done", res.Status, res.Changes)
	}
	if ops := e.rec.Ops()[before:]; !slices.Equal(ops, []string{"ec2:DescribeInstances"}) {
		t.Errorf("second run called %v, want only a read", ops)
	}
}

func TestEC2TagInstance_ChangedSeverityIsRetaggedOnlyWhereItDiffers(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	if _, err := runInstanceBot(t, "ec2_tag_instance", e.request(false)); err != nil {
		t.Fatal(err)
	}
	var sent *ec2.CreateTagsInput
	e.cfg.APIOptions = append(e.cfg.APIOptions, observeInput(func(in any) {
		if p, ok := in.(*ec2.CreateTagsInput); ok {
			sent = p
		}
	}))
	req := e.request(false)
	req.Finding.Severity, req.Finding.SeverityLabel = 5, finding.SeverityMedium
	res, err := runInstanceBot(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result %+v, err %v; want remediated", res, err)
	}
	if res.Before[TagFindingSeverity] != "8.0 HIGH" || e.kumoTags(t)[TagFindingSeverity] != "5.0 MEDIUM" {
		t.Errorf("before %v, now %v", res.Before, e.kumoTags(t))
	}
	keys := tagKeys(sent.Tags)
	if slices.Contains(keys, TagFindingType) || !slices.Contains(keys, TagFindingSeverity) {
		t.Errorf("rewrote %v, want only the severity (and bot, execution)", keys)
	}
}

func TestEC2TagInstance_LongFindingTypeIsBoundedTo256Characters(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	req := e.request(false)
	req.Finding.Type = strings.Repeat("T", 300)
	if _, err := runInstanceBot(t, "ec2_tag_instance", req); err != nil {
		t.Fatal(err)
	}
	if got := e.kumoTags(t)[TagFindingType]; len(got) != 256 {
		t.Errorf("type tag is %d characters, want 256", len(got))
	}
	res, err := runInstanceBot(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Errorf("re-run with the long type = %+v, %v; want already-done", res, err)
	}
}

func TestEC2TagInstance_DryRunChangesNothing(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	res, err := runInstanceBot(t, "ec2_tag_instance", e.request(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusDryRun || len(res.Changes) != 1 || !strings.HasPrefix(res.Changes[0], "would tag "+e.id) {
		t.Errorf("result %s %q, want a dry run saying what it would tag", res.Status, res.Changes)
	}
	if tags := e.kumoTags(t); len(tags) != 0 {
		t.Errorf("dry run tagged the instance: %v", tags)
	}
}

func TestEC2TagInstance_MissingInstanceIsSkipped(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	req := e.request(false)
	req.Finding.Instance.ID = "i-0123456789abcdef0"
	res, err := runInstanceBot(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "instance i-0123456789abcdef0 no longer exists" {
		t.Errorf("result %s %q, err %v; want skipped, no longer exists", res.Status, res.Reason, err)
	}
}

func TestEC2TagInstance_AccessDeniedIsAFailedError(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance", bottest.StubError("ec2:CreateTags", "UnauthorizedOperation", "not authorized"))
	_, err := runInstanceBot(t, "ec2_tag_instance", e.request(false))
	assertInstanceBotFailed(t, err, e.id, "UnauthorizedOperation")
}

func TestEC2TagInstance_ThrottlingIsAThrottledError(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance", bottest.StubError("ec2:DescribeInstances", "RequestLimitExceeded", "Request limit exceeded."))
	_, err := runInstanceBot(t, "ec2_tag_instance", e.request(false))
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

func TestEC2TagInstance_OtherResourceKindIsSkippedWithoutCallingAWS(t *testing.T) {
	e := newInstanceBotEnv(t, "ec2_tag_instance")
	req := e.request(false)
	req.Finding.ResourceKind, req.Finding.Instance = finding.KindAccessKey, nil
	res, err := runInstanceBot(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusSkipped || len(e.rec.Ops()) != 0 {
		t.Errorf("result %+v, err %v, calls %v; want skipped without calls", res, err, e.rec.Ops())
	}
}

// --- Helpers shared by the instance bots' tests ---

const instanceFindingID = "60baffd3f9042e38640f2300d5c5a631"

// instanceBotEnv is a kumo server with one running instance, and a configuration whose clients record
// every call for bot, answer the given stubs, and (unlike bare kumo) return CreateTags' tags from
// DescribeInstances, as EC2 does.
type instanceBotEnv struct {
	cfg      aws.Config
	rec      *bottest.Recorder
	id       string
	endpoint string
}

func newInstanceBotEnv(t *testing.T, bot string, stubs ...func(*middleware.Stack) error) instanceBotEnv {
	t.Helper()
	srv := bottest.NewKumo(t)
	out, err := ec2.NewFromConfig(bottest.Config(srv.URL)).RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("kumo RunInstances: %v", err)
	}
	rec := bottest.NewRecorder(bot)
	opts := append([]func(*middleware.Stack) error{rec.Option}, stubs...)
	opts = append(opts, withKumoTags(srv.URL))
	return instanceBotEnv{cfg: bottest.Config(srv.URL, opts...), rec: rec, id: aws.ToString(out.Instances[0].InstanceId), endpoint: srv.URL}
}

func (e instanceBotEnv) request(dryRun bool) bots.Request {
	return bots.Request{
		Finding: &finding.Finding{
			ID: instanceFindingID, Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
			Severity: 8, SeverityLabel: finding.SeverityHigh, CreatedAt: "2026-01-02T03:04:05.000Z",
			AccountID: bottest.Account, Region: bottest.Region, Partition: "aws",
			ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: e.id, State: "running"},
		},
		DryRun:    dryRun,
		AWS:       e.cfg,
		Execution: bottest.Execution,
	}
}

// kumo is a client on the same kumo without the recorder or stubs, for setup and read-back.
func (e instanceBotEnv) kumo() *ec2.Client { return ec2.NewFromConfig(bottest.Config(e.endpoint)) }

// kumoTags reads the instance's tags back from kumo.
func (e instanceBotEnv) kumoTags(t *testing.T) map[string]string {
	t.Helper()
	return kumoTagsOf(t, e.kumo(), e.id)
}

func kumoTagsOf(t testing.TB, c *ec2.Client, id string) map[string]string {
	out, err := c.DescribeTags(context.Background(), &ec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{id}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// withKumoTags fills the instances of a DescribeInstances answer with their tags from kumo's
// DescribeTags: kumo keeps CreateTags' tags but does not return them from DescribeInstances.
func withKumoTags(endpoint string) func(*middleware.Stack) error {
	c := ec2.NewFromConfig(bottest.Config(endpoint))
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("kumoTags", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if d, ok := out.Result.(*ec2.DescribeInstancesOutput); ok && err == nil {
				for _, r := range d.Reservations {
					for i := range r.Instances {
						in := &r.Instances[i]
						tags, terr := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{aws.ToString(in.InstanceId)}}}})
						if terr != nil {
							return out, md, terr
						}
						for _, tg := range tags.Tags {
							in.Tags = append(in.Tags, ec2types.Tag{Key: tg.Key, Value: tg.Value})
						}
					}
				}
			}
			return out, md, err
		}), middleware.After)
	}
}

// runInstanceBot runs the registered bot with its default parameters.
func runInstanceBot(t *testing.T, name string, req bots.Request) (bots.Result, error) {
	t.Helper()
	b, ok := bots.Lookup(name)
	if !ok {
		t.Fatalf("%s is not registered", name)
	}
	if req.Params == nil {
		p, err := b.ParseParams(nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Params = p
	}
	return b.Run(context.Background(), req)
}

// observeInput sees every request's typed input without answering it.
func observeInput(see func(input any)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("observeInput", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			see(in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
}

// assertInstanceBotFailed checks err is a non-retryable failure whose message names the instance, account,
// region and the AWS error code.
func assertInstanceBotFailed(t *testing.T, err error, id, code string) {
	t.Helper()
	if err == nil {
		t.Fatal("got a result, want an error")
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Failed)
	}
	for _, want := range []string{id, bottest.Account, bottest.Region, code} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// undoStateFake is an in-memory StateStore.
type undoStateFake struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *undoStateFake) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[k] = v
	return nil
}

func (s *undoStateFake) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *undoStateFake) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// stubAPIError is an AWS error of that code, as the service returns it.
func stubAPIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient}
}

// liveInstanceStub answers DescribeInstances with in (nil: no such instance), as a bot reads it.
func liveInstanceStub(in func() *ec2types.Instance) func(*middleware.Stack) error {
	return bottest.StubCall("ec2:DescribeInstances", func(any) (any, error) {
		i := in()
		if i == nil {
			return &ec2.DescribeInstancesOutput{}, nil
		}
		return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{*i}}}}, nil
	})
}
