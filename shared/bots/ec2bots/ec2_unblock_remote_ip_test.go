package ec2bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
)

const unblockBot = "ec2_unblock_remote_ip"

func blocked(t *testing.T) (*containEnv, *fakeACL) {
	t.Helper()
	e, acl := newContainEnv(t), newFakeACL()
	if res, err := bottest.Run(t, blockBot, blockRequest(e, acl, blockBot, false, []string{"198.51.100.7"})); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("block: %+v, %v", res, err)
	}
	return e, acl
}

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
	if _, ok, _ := e.store.Get(context.Background(), naclBlockKey(bottest.Account, bottest.Region, e.inst.id)); ok {
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

func TestUnblockRemoteIP_SecondRunIsSkippedForNoRecord(t *testing.T) {
	e, acl := blocked(t)
	if _, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil)); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil))
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("%s %q, %v", res.Status, res.Reason, err)
	}
}

func TestUnblockRemoteIP_DryRunChangesNothing(t *testing.T) {
	e, acl := blocked(t)
	before := len(acl.callLog())
	res, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, true, nil))
	if err != nil || res.Status != bots.StatusDryRun || len(acl.callLog()) != before {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, ok, _ := e.store.Get(context.Background(), naclBlockKey(bottest.Account, bottest.Region, e.inst.id)); !ok {
		t.Error("dry run deleted the record")
	}
}

func TestUnblockRemoteIP_AccessDeniedIsAFailedErrorAndThrottlingThrottled(t *testing.T) {
	e, acl := blocked(t)
	_, err := bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil, bottest.StubError("ec2:DeleteNetworkAclEntry", "UnauthorizedOperation", "no")))
	if faults.Classify(err) != faults.Failed {
		t.Errorf("err = %v, want Failed", err)
	}
	_, err = bottest.Run(t, unblockBot, blockRequest(e, acl, unblockBot, false, nil, bottest.StubError("ec2:DescribeNetworkAcls", "RequestLimitExceeded", "slow")))
	if faults.Classify(err) != faults.Throttled {
		t.Errorf("err = %v, want Throttled", err)
	}
}
