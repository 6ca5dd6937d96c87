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
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// ContainEnv is what the bots that contain an instance through its network interfaces act on: a kumo
// (security groups, tags) with a VPC of its own, an instance with two ENIs in that VPC, each on real
// kumo groups (kumo's instances have no ENIs, so FakeInstance serves it), and a state store.
type ContainEnv struct {
	t     *testing.T
	URL   string
	VPC   string
	Inst  *FakeInstance
	Store *UndoState
	// Web is both ENIs' original group, DB the second ENI's other one.
	Web, DB string
	recs    map[string]*bottest.Recorder
	mu      sync.Mutex
	tagged  []*ec2.CreateTagsInput
	retries int
}

const containFindingID = "5eb3c6d1a2f0e4b7c8d9e0f1a2b3c4d5"

// NewContainEnv starts kumo for the test and lays out the VPC, its groups and the instance.
func NewContainEnv(t *testing.T) *ContainEnv {
	t.Helper()
	srv := bottest.NewKumo(t)
	e := &ContainEnv{t: t, URL: srv.URL, Store: &UndoState{}, recs: map[string]*bottest.Recorder{}}
	// kumo's storage is shared by every server in the process: a VPC per test keeps group names apart.
	vpc, err := e.Kumo().CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("kumo CreateVpc: %v", err)
	}
	e.VPC = aws.ToString(vpc.Vpc.VpcId)
	e.Web = e.CreateGroup("web-" + e.VPC)
	e.DB = e.CreateGroup("db-" + e.VPC)
	e.Inst = &FakeInstance{ID: "i-0a1b2c3d4e5f60718", State: ec2types.InstanceStateNameRunning, ENIs: []*FakeENI{
		{ID: "eni-0000000000000000a", VPC: e.VPC, Subnet: "subnet-0000000000000000a", Groups: []string{e.Web}},
		{ID: "eni-0000000000000000b", VPC: e.VPC, Subnet: "subnet-0000000000000000b", Groups: []string{e.Web, e.DB}},
	}}
	return e
}

// Kumo is a client without recorder or stubs, for arranging and reading back.
func (e *ContainEnv) Kumo() *ec2.Client { return ec2.NewFromConfig(bottest.Config(e.URL)) }

// CreateGroup creates a group in the env's VPC and returns its id.
func (e *ContainEnv) CreateGroup(name string) string {
	e.t.Helper()
	out, err := e.Kumo().CreateSecurityGroup(context.Background(), &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(name), VpcId: aws.String(e.VPC)})
	if err != nil {
		e.t.Fatalf("kumo CreateSecurityGroup %s: %v", name, err)
	}
	return aws.ToString(out.GroupId)
}

// Group reads a group back from kumo by name in the env's VPC (nil when absent).
func (e *ContainEnv) Group(name string) *ec2types.SecurityGroup {
	e.t.Helper()
	out, err := e.Kumo().DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{GroupNames: []string{name}})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range out.SecurityGroups {
		if aws.ToString(out.SecurityGroups[i].VpcId) == e.VPC {
			return &out.SecurityGroups[i]
		}
	}
	return nil
}

// WithRetries makes the bots' clients retry each call up to attempts times (bottest.WithRetries).
func (e *ContainEnv) WithRetries(attempts int) { e.retries = attempts }

// Config is the configuration bot runs with: its recorder, then pre (stubs that must win), then the
// fake instance and its tags; everything else goes to kumo.
func (e *ContainEnv) Config(bot string, pre ...func(*middleware.Stack) error) aws.Config {
	rec := e.Rec(bot)
	opts := append([]func(*middleware.Stack) error{rec.Option}, pre...)
	opts = append(opts, e.Inst.stubs()...)
	opts = append(opts, kumoGroupNameFilter)
	// kumo's CreateTags rejects ids it does not know, such as the fake instance's: those are answered here.
	opts = append(opts, bottest.StubCall("ec2:CreateTags", func(in any) (any, error) {
		p := in.(*ec2.CreateTagsInput)
		if !slices.Equal(p.Resources, []string{e.Inst.ID}) {
			_, err := e.Kumo().CreateTags(context.Background(), p)
			return &ec2.CreateTagsOutput{}, err
		}
		e.mu.Lock()
		e.tagged = append(e.tagged, p)
		e.mu.Unlock()
		return &ec2.CreateTagsOutput{}, nil
	}))
	cfg := bottest.Config(e.URL, opts...)
	if e.retries > 0 {
		cfg = bottest.WithRetries(cfg, e.retries)
	}
	return cfg
}

// Rec is bot's recorder in this env.
func (e *ContainEnv) Rec(bot string) *bottest.Recorder {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recs[bot] == nil {
		e.recs[bot] = bottest.NewRecorder(bot)
	}
	return e.recs[bot]
}

// Request asks bot to act on the instance of a TARGET finding, with the env's state store.
func (e *ContainEnv) Request(bot string, dryRun bool, pre ...func(*middleware.Stack) error) bots.Request {
	return bots.Request{
		Finding: &finding.Finding{
			ID: containFindingID, Type: "Backdoor:EC2/C&CActivity.B!DNS",
			AccountID: bottest.Account, Region: bottest.Region, Partition: "aws", ResourceRole: "TARGET",
			ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: e.Inst.ID, State: "running"},
		},
		DryRun:    dryRun,
		AWS:       e.Config(bot, pre...),
		Execution: bottest.Execution,
		State:     e.Store,
	}
}

// Tagged are the CreateTags requests made on the instance.
func (e *ContainEnv) Tagged() []*ec2.CreateTagsInput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.tagged)
}

// State describes the ENIs' groups and the state store, for the bot contract.
func (e *ContainEnv) State(*testing.T) string {
	var s []string
	for _, eni := range e.Inst.ENIs {
		s = append(s, eni.ID+"="+strings.Join(e.Inst.GroupsOf(eni.ID), ","))
	}
	return fmt.Sprint(s, e.Store.Snapshot())
}

// kumoGroupNameFilter moves a DescribeSecurityGroups group-name filter into GroupNames. kumo ignores
// Filters and returns every group in the process, and its response breaks ("use of closed network
// connection") beyond a few dozen groups; EC2 itself needs the filter (GroupNames only works in a
// default VPC), so the bots keep sending it and this adapter makes kumo filter as EC2 would.
func kumoGroupNameFilter(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("kumo group-name filter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*ec2.DescribeSecurityGroupsInput); ok {
			q := *p
			q.Filters = nil
			for _, f := range p.Filters {
				if aws.ToString(f.Name) == "group-name" {
					q.GroupNames = append(q.GroupNames, f.Values...)
				}
			}
			in.Parameters = &q
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// FakeInstance answers DescribeInstances and ModifyNetworkInterfaceAttribute (kumo's instances have no
// ENIs and kumo lacks ModifyNetworkInterfaceAttribute) and records every modify. Modify is answered in
// place of the HTTP send, so the client's retryer sees each attempt.
type FakeInstance struct {
	mu       sync.Mutex
	ID       string
	State    ec2types.InstanceStateName
	Gone     bool
	ENIs     []*FakeENI
	modifies []ec2.ModifyNetworkInterfaceAttributeInput
	// OnModify runs before each modify attempt is applied (n counts the applied ones); an error fails
	// the attempt.
	OnModify func(n int, in *ec2.ModifyNetworkInterfaceAttributeInput) error
}

type FakeENI struct {
	ID, VPC, Subnet string
	Groups          []string
}

// GroupsOf is the ENI's groups now.
func (fi *FakeInstance) GroupsOf(eni string) []string {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, e := range fi.ENIs {
		if e.ID == eni {
			return slices.Clone(e.Groups)
		}
	}
	return nil
}

// SetGroups changes the ENI's groups, as someone else would.
func (fi *FakeInstance) SetGroups(eni string, groups ...string) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, e := range fi.ENIs {
		if e.ID == eni {
			e.Groups = groups
		}
	}
}

// Moves is each applied modify as "eni→group,group".
func (fi *FakeInstance) Moves() []string {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	var out []string
	for _, m := range fi.modifies {
		out = append(out, aws.ToString(m.NetworkInterfaceId)+"→"+strings.Join(m.Groups, ","))
	}
	return out
}

func (fi *FakeInstance) stubs() []func(*middleware.Stack) error {
	describe := bottest.StubCall("ec2:DescribeInstances", func(in any) (any, error) {
		fi.mu.Lock()
		defer fi.mu.Unlock()
		req := in.(*ec2.DescribeInstancesInput)
		if fi.Gone || !slices.Equal(req.InstanceIds, []string{fi.ID}) {
			return nil, &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID does not exist", Fault: smithy.FaultClient}
		}
		inst := ec2types.Instance{InstanceId: aws.String(fi.ID), State: &ec2types.InstanceState{Name: fi.State}}
		for i, e := range fi.ENIs {
			ni := ec2types.InstanceNetworkInterface{
				NetworkInterfaceId: aws.String(e.ID), VpcId: aws.String(e.VPC), SubnetId: aws.String(e.Subnet),
				Attachment: &ec2types.InstanceNetworkInterfaceAttachment{DeviceIndex: aws.Int32(int32(i))},
			}
			for _, g := range e.Groups {
				ni.Groups = append(ni.Groups, ec2types.GroupIdentifier{GroupId: aws.String(g)})
			}
			inst.NetworkInterfaces = append(inst.NetworkInterfaces, ni)
		}
		if len(fi.ENIs) > 0 {
			inst.VpcId, inst.SubnetId = aws.String(fi.ENIs[0].VPC), aws.String(fi.ENIs[0].Subnet)
		}
		return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{inst}}}}, nil
	})
	modify := bottest.StubSend("ec2:ModifyNetworkInterfaceAttribute", func(in any) (any, error) {
		req := in.(*ec2.ModifyNetworkInterfaceAttributeInput)
		fi.mu.Lock()
		n, hook := len(fi.modifies), fi.OnModify
		fi.mu.Unlock()
		if hook != nil {
			if err := hook(n, req); err != nil {
				return nil, err
			}
		}
		fi.mu.Lock()
		defer fi.mu.Unlock()
		for _, e := range fi.ENIs {
			if e.ID == aws.ToString(req.NetworkInterfaceId) {
				fi.modifies = append(fi.modifies, *req)
				e.Groups = slices.Clone(req.Groups)
				return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
			}
		}
		return nil, &smithy.GenericAPIError{Code: "InvalidNetworkInterfaceID.NotFound", Message: "no such ENI", Fault: smithy.FaultClient}
	})
	return []func(*middleware.Stack) error{describe, modify}
}
