package ec2bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

// blocked is an env whose instance ec2_block_remote_ip has blocked a remote IP for.
func blocked(t *testing.T) (*ec2test.ContainEnv, *fakeACL) {
	t.Helper()
	e, acl := ec2test.NewContainEnv(t), newFakeACL()
	if res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"198.51.100.7"})); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("block: %+v, %v", res, err)
	}
	return e, acl
}

// The undo bot's target going missing is its record going: nothing blocked, nothing to unblock.
var _ = bottest.RegisterContract(unblockBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, acl := blocked(t)
		w := aclWorld(e, acl, unblockBot, stubs)
		w.Gone = func(*bots.Request) {
			e.Store.Delete(context.Background(), naclBlockKey(bottest.Account, bottest.Region, e.Inst.ID))
		}
		return w
	},
	Again:    bots.StatusSkipped,
	Deny:     "ec2:DeleteNetworkAclEntry",
	Throttle: "ec2:DescribeNetworkAcls",
})

func TestUnblockRemoteIP_RemovesExactlyTheRecordedEntries(t *testing.T) {
	e, acl := blocked(t)
	before := len(acl.callLog())
	res, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("%+v, %v", res, err)
	}
	want := []string{"delete acl-0123456789abcdef0 1 egress=false", "delete acl-0123456789abcdef0 1 egress=true"}
	if got := acl.callLog()[before:]; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if len(acl.entries) != 4 {
		t.Errorf("ACL left with %d entries, want the 4 defaults", len(acl.entries))
	}
	if _, ok, _ := e.Store.Get(context.Background(), naclBlockKey(bottest.Account, bottest.Region, e.Inst.ID)); ok {
		t.Error("record kept")
	}
}

func TestUnblockRemoteIP_EntryReplacedBySomeoneElseIsLeftAlone(t *testing.T) {
	e, acl := blocked(t)
	// Someone replaced inbound rule 1 with their own allow.
	acl.entries = slices.DeleteFunc(acl.entries, func(x ec2types.NetworkAclEntry) bool {
		return aws.ToInt32(x.RuleNumber) == 1 && !aws.ToBool(x.Egress)
	})
	acl.add(1, false, ec2types.RuleActionAllow, "10.1.0.0/16")
	before := len(acl.callLog())
	res, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := acl.callLog()[before:]; !slices.Equal(got, []string{"delete acl-0123456789abcdef0 1 egress=true"}) {
		t.Errorf("calls %q, want only the outbound entry removed", got)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool {
		return strings.Contains(c, "rule 1 inbound deny 198.51.100.7/32 is no longer present")
	}) {
		t.Errorf("changes %q do not report the replaced entry", res.Changes)
	}
}
