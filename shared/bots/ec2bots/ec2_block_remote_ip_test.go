package ec2bots

import (
	"context"
	"encoding/json"
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
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// fakeACL is one network ACL served at the SDK level (kumo has no network ACL calls); both subnets of
// the ContainEnv instance are associated with it. Every create and delete is recorded in order.
type fakeACL struct {
	mu      sync.Mutex
	id      string
	entries []ec2types.NetworkAclEntry
	calls   []string
	subnets []string
}

func newFakeACL() *fakeACL {
	a := &fakeACL{id: "acl-0123456789abcdef0", subnets: []string{"subnet-0000000000000000a", "subnet-0000000000000000b"}}
	// The default ACL: allow all at 100, catch-all deny at 32767, both directions.
	for _, eg := range []bool{false, true} {
		a.add(100, eg, ec2types.RuleActionAllow, "0.0.0.0/0")
		a.add(32767, eg, ec2types.RuleActionDeny, "0.0.0.0/0")
	}
	return a
}

func (a *fakeACL) add(n int32, egress bool, action ec2types.RuleAction, cidr string) {
	e := ec2types.NetworkAclEntry{RuleNumber: aws.Int32(n), Egress: aws.Bool(egress), RuleAction: action, Protocol: aws.String("-1")}
	if strings.Contains(cidr, ":") {
		e.Ipv6CidrBlock = aws.String(cidr)
	} else {
		e.CidrBlock = aws.String(cidr)
	}
	a.entries = append(a.entries, e)
}

func (a *fakeACL) stubs() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("ec2:DescribeNetworkAcls", func(in any) (any, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			p := in.(*ec2.DescribeNetworkAclsInput)
			match := slices.Contains(p.NetworkAclIds, a.id)
			for _, f := range p.Filters {
				if aws.ToString(f.Name) == "association.subnet-id" && slices.ContainsFunc(f.Values, func(s string) bool { return slices.Contains(a.subnets, s) }) {
					match = true
				}
			}
			if !match {
				return &ec2.DescribeNetworkAclsOutput{}, nil
			}
			return &ec2.DescribeNetworkAclsOutput{NetworkAcls: []ec2types.NetworkAcl{{NetworkAclId: aws.String(a.id), Entries: slices.Clone(a.entries)}}}, nil
		}),
		bottest.StubCall("ec2:CreateNetworkAclEntry", func(in any) (any, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			p := in.(*ec2.CreateNetworkAclEntryInput)
			for _, e := range a.entries {
				if aws.ToInt32(e.RuleNumber) == aws.ToInt32(p.RuleNumber) && aws.ToBool(e.Egress) == aws.ToBool(p.Egress) {
					return nil, fmt.Errorf("NetworkAclEntryAlreadyExists: rule %d", aws.ToInt32(p.RuleNumber))
				}
			}
			cidr := aws.ToString(p.CidrBlock) + aws.ToString(p.Ipv6CidrBlock)
			a.calls = append(a.calls, fmt.Sprintf("create %s %d egress=%v %s %s %s", aws.ToString(p.NetworkAclId), aws.ToInt32(p.RuleNumber), aws.ToBool(p.Egress), p.RuleAction, aws.ToString(p.Protocol), cidr))
			a.add(aws.ToInt32(p.RuleNumber), aws.ToBool(p.Egress), p.RuleAction, cidr)
			return &ec2.CreateNetworkAclEntryOutput{}, nil
		}),
		bottest.StubCall("ec2:DeleteNetworkAclEntry", func(in any) (any, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			p := in.(*ec2.DeleteNetworkAclEntryInput)
			a.calls = append(a.calls, fmt.Sprintf("delete %s %d egress=%v", aws.ToString(p.NetworkAclId), aws.ToInt32(p.RuleNumber), aws.ToBool(p.Egress)))
			a.entries = slices.DeleteFunc(a.entries, func(e ec2types.NetworkAclEntry) bool {
				return aws.ToInt32(e.RuleNumber) == aws.ToInt32(p.RuleNumber) && aws.ToBool(e.Egress) == aws.ToBool(p.Egress)
			})
			return &ec2.DeleteNetworkAclEntryOutput{}, nil
		}),
	}
}

func (a *fakeACL) callLog() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// blockRequest is a TARGET finding with remote IPs for the env's instance, ACL stubs after pre.
func blockRequest(e *ec2test.ContainEnv, acl *fakeACL, bot string, dryRun bool, ips []string, pre ...func(*middleware.Stack) error) bots.Request {
	req := e.Request(bot, dryRun, append(pre, acl.stubs()...)...)
	withRemoteIPs(ips...)(&req)
	return req
}

func withRemoteIPs(ips ...string) func(*bots.Request) {
	return func(req *bots.Request) {
		req.Finding.Action = &finding.Action{Type: "NETWORK_CONNECTION", Direction: "INBOUND"}
		for _, ip := range ips {
			req.Finding.Action.RemoteIPs = append(req.Finding.Action.RemoteIPs, finding.RemoteIP{Address: ip})
		}
	}
}

func (a *fakeACL) state() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprint(len(a.entries), " ACL entries")
}

// aclWorld is containWorld with the fake ACL and a finding naming one remote IP.
func aclWorld(e *ec2test.ContainEnv, acl *fakeACL, bot string, stubs []func(*middleware.Stack) error) bottest.World {
	w := containWorld(e, bot, append(stubs, acl.stubs()...), withRemoteIPs("198.51.100.7"))
	state := w.State
	w.State = func(t *testing.T) string { return state(t) + " " + acl.state() }
	return w
}

var _ = bottest.RegisterContract(blockBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		return aclWorld(ec2test.NewContainEnv(t), newFakeACL(), blockBot, stubs)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:CreateNetworkAclEntry",
	Throttle: "ec2:DescribeNetworkAcls",
})

func TestBlockRemoteIP_DeniesEachIPBothWaysBeforeTheAllowRuleAndRecordsIt(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	acl.add(1, false, ec2types.RuleActionDeny, "203.0.113.0/24") // someone's rule: number 1 inbound is taken
	res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"198.51.100.7", "2001:db8::1"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status %s (%s)", res.Status, res.Reason)
	}
	want := []string{
		"create acl-0123456789abcdef0 2 egress=false deny -1 198.51.100.7/32",
		"create acl-0123456789abcdef0 3 egress=false deny -1 2001:db8::1/128",
		"create acl-0123456789abcdef0 1 egress=true deny -1 198.51.100.7/32",
		"create acl-0123456789abcdef0 2 egress=true deny -1 2001:db8::1/128",
	}
	if got := acl.callLog(); !slices.Equal(got, want) {
		t.Errorf("ACL calls\n got %q\nwant %q", got, want)
	}
	var rec naclBlockRecord
	raw, ok, _ := e.Store.Get(context.Background(), naclBlockKey(bottest.Account, bottest.Region, e.Inst.ID))
	if !ok || json.Unmarshal(raw, &rec) != nil || len(rec.Entries) != 4 {
		t.Fatalf("record = %s", raw)
	}
	if rec.Entries[1] != (naclBlockEntry{ACL: acl.id, RuleNumber: 3, Egress: false, CIDR: "2001:db8::1/128"}) {
		t.Errorf("record entry = %+v", rec.Entries[1])
	}
}

func TestBlockRemoteIP_FullACLIsSkippedNamingIt(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	// 18 denies + the allow rule = 19 inbound rules: two more would pass the 20-rule limit.
	for n := int32(1); n <= 18; n++ {
		acl.add(n, false, ec2types.RuleActionDeny, fmt.Sprintf("192.0.2.%d/32", n))
	}
	res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"198.51.100.7", "198.51.100.8"}))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "network ACL acl-0123456789abcdef0 is full") {
		t.Fatalf("result %s %q, %v; want skipped naming the full ACL", res.Status, res.Reason, err)
	}
	if len(acl.callLog()) != 0 || e.Store.Puts != 0 {
		t.Error("a full ACL was changed")
	}
}

func TestBlockRemoteIP_NoFreeNumberBelowFirstAllowIsSkipped(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	acl.add(1, false, ec2types.RuleActionAllow, "10.0.0.0/8")
	res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"198.51.100.7"}))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no free inbound rule number below its first allow rule 1") {
		t.Fatalf("result %s %q, %v", res.Status, res.Reason, err)
	}
}

func TestBlockRemoteIP_ActorInstanceIsSkipped(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	req := blockRequest(e, acl, blockBot, false, []string{"198.51.100.7"})
	req.Finding.ResourceRole = "ACTOR"
	res, err := bottest.Run(t, blockBot, req)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "ACTOR") {
		t.Errorf("result %s %q, %v", res.Status, res.Reason, err)
	}
}

func TestBlockRemoteIP_NoRemoteIPIsSkipped(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, nil))
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("result %s %q, %v", res.Status, res.Reason, err)
	}
}

func TestBlockRemoteIP_MoreIPsThanMaxRemoteIpsIsSkipped(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	b, _ := bots.Lookup(blockBot)
	p, err := b.ParseParams(map[string]any{"maxRemoteIps": 1})
	if err != nil {
		t.Fatal(err)
	}
	req := blockRequest(e, acl, blockBot, false, []string{"198.51.100.7", "198.51.100.8"})
	req.Params = p
	res, err := bottest.Run(t, blockBot, req)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "maxRemoteIps=1") {
		t.Errorf("result %s %q, %v", res.Status, res.Reason, err)
	}
	if _, err := b.ParseParams(map[string]any{"maxRemoteIps": 21}); err == nil || !strings.Contains(err.Error(), "maxRemoteIps") {
		t.Errorf("maxRemoteIps=21 accepted: %v", err)
	}
}

func TestBlockRemoteIP_MalformedRemoteIPIsRejected(t *testing.T) {
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	_, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"not-an-ip"}))
	if faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v, want a rejection", err)
	}
}
