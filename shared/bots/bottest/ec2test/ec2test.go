// Package ec2test is what the tests of bots acting on one EC2 instance share: a kumo with a running
// instance and recorded clients, and fakes of what kumo does not serve. Only tests import it.
package ec2test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

const FindingID = "60baffd3f9042e38640f2300d5c5a631"

// Env is a kumo server with one running instance, and a configuration whose clients record
// every call for bot, answer the given stubs, and (unlike bare kumo) return CreateTags' tags from
// DescribeInstances, as EC2 does.
type Env struct {
	Config   aws.Config
	Rec      *bottest.Recorder
	ID       string
	Endpoint string
}

func NewEnv(t *testing.T, bot string, stubs ...func(*middleware.Stack) error) Env {
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
	opts = append(opts, WithKumoTags(srv.URL))
	return Env{Config: bottest.Config(srv.URL, opts...), Rec: rec, ID: aws.ToString(out.Instances[0].InstanceId), Endpoint: srv.URL}
}

func (e Env) Request(dryRun bool) bots.Request {
	return bots.Request{
		Finding: &finding.Finding{
			ID: FindingID, Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
			Severity: 8, SeverityLabel: finding.SeverityHigh, CreatedAt: "2026-01-02T03:04:05.000Z",
			AccountID: bottest.Account, Region: bottest.Region, Partition: "aws",
			ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: e.ID, State: "running"},
		},
		DryRun:    dryRun,
		AWS:       e.Config,
		Execution: bottest.Execution,
	}
}

// World is the bot contract's view of the env (bottest.Contract): its requests and recorder, the
// instance's state and tags (and states, what the test's fakes hold) as what the bot may change, and
// an instance id kumo does not know as the missing target.
func (e Env) World(states ...func() string) bottest.World {
	return bottest.World{
		Request: e.Request, Rec: e.Rec,
		State: func(t *testing.T) string {
			s := fmt.Sprint(e.KumoState(t), e.KumoTags(t))
			for _, f := range states {
				s += " " + f()
			}
			return s
		},
		Gone: func(req *bots.Request) { req.Finding.Instance.ID = "i-0123456789abcdef0" },
	}
}

// InstanceWorld is the contract's world of a bot that needs nothing but the instance.
func InstanceWorld(bot string) func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
	return func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		return NewEnv(t, bot, stubs...).World()
	}
}

// Kumo is a client on the same Kumo without the recorder or stubs, for setup and read-back.
func (e Env) Kumo() *ec2.Client { return ec2.NewFromConfig(bottest.Config(e.Endpoint)) }

// KumoTags reads the instance's tags back from kumo.
func (e Env) KumoTags(t *testing.T) map[string]string {
	t.Helper()
	return KumoTagsOf(t, e.Kumo(), e.ID)
}

func KumoTagsOf(t testing.TB, c *ec2.Client, id string) map[string]string {
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

// WithKumoTags fills the instances of a DescribeInstances answer with their tags from kumo's
// DescribeTags: kumo keeps CreateTags' tags but does not return them from DescribeInstances.
func WithKumoTags(endpoint string) func(*middleware.Stack) error {
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

// ObserveInput sees every request's typed input without answering it.
func ObserveInput(see func(input any)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("observeInput", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			see(in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
}

// AssertFailed checks err is a non-retryable failure whose message names the instance, account,
// region and the AWS error code.
func AssertFailed(t *testing.T, err error, id, code string) {
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

// UndoState is an in-memory StateStore that counts its writes; PutErr makes every Put fail.
type UndoState struct {
	mu     sync.Mutex
	m      map[string][]byte
	Puts   int
	PutErr error
}

func (s *UndoState) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.PutErr != nil {
		return s.PutErr
	}
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.Puts++
	s.m[k] = slices.Clone(v)
	return nil
}

func (s *UndoState) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return slices.Clone(v), ok, nil
}

func (s *UndoState) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// Snapshot is every record, for comparing before and after.
func (s *UndoState) Snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.m {
		out[k] = string(v)
	}
	return out
}

// LiveInstanceStub answers DescribeInstances with in (nil: no such instance), as a bot reads it.
func LiveInstanceStub(in func() *ec2types.Instance) func(*middleware.Stack) error {
	return bottest.StubCall("ec2:DescribeInstances", func(any) (any, error) {
		i := in()
		if i == nil {
			return &ec2.DescribeInstancesOutput{}, nil
		}
		return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{*i}}}}, nil
	})
}

func (e Env) KumoState(t *testing.T) ec2types.InstanceStateName {
	t.Helper()
	out, err := e.Kumo().DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{e.ID}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Reservations[0].Instances[0].State.Name
}
