package ec2bots

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// What the containment bots share — those that act on an instance through its network interfaces and
// the network around it (quarantine and release, remote-IP block and unblock).

// containBegin starts a containment bot (bots.Begin): these bots name the ENIs or ACLs they change as
// their resources, not the instance.
func containBegin(bot string, req bots.Request) (bots.Result, finding.Target, error) {
	res, t, err := bots.Begin(bot, req, finding.TargetInstance)
	res.Resources = nil
	return res, t, err
}

// containState fails, naming the variable to set, when there is no state table to keep what undoes
// the bot's work in: recorded before a change (not needed for a dry run), or read back by an undo bot
// (always).
func containState(bot string, req bots.Request, what string, undo bool) error {
	if req.State != nil || req.DryRun && !undo {
		return nil
	}
	return faults.Fail(fmt.Errorf("%s: no state table to %s: set %s", bot, what, deployment.EnvStateTable))
}

// containRecordKey is the state-table key of a containment record about an instance.
func containRecordKey(record, account, region, instanceID string) string {
	return record + "#" + account + "#" + region + "#" + instanceID
}

// containTagger tags an instance.
type containTagger interface {
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// containTagInstance tags the instance with the bot's markers (finding id, bot, execution).
func containTagInstance(ctx context.Context, api containTagger, t finding.Target, bot string, req bots.Request) error {
	_, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.Tags(bots.Markers(bot, req, t))})
	return err
}

// containENI is one network interface as read from DescribeInstances.
type containENI struct {
	ID, VpcID, SubnetID string
	Groups              []string
}

// containENIs lists every ENI of the instance with its current groups, in device order.
func containENIs(inst *ec2types.Instance) []containENI {
	var out []containENI
	nis := slices.Clone(inst.NetworkInterfaces)
	sort.SliceStable(nis, func(i, j int) bool { return containDeviceIndex(nis[i]) < containDeviceIndex(nis[j]) })
	for _, ni := range nis {
		e := containENI{ID: aws.ToString(ni.NetworkInterfaceId), VpcID: aws.ToString(ni.VpcId), SubnetID: aws.ToString(ni.SubnetId)}
		if e.ID == "" {
			continue
		}
		if e.VpcID == "" {
			e.VpcID = aws.ToString(inst.VpcId)
		}
		if e.SubnetID == "" {
			e.SubnetID = aws.ToString(inst.SubnetId)
		}
		for _, g := range ni.Groups {
			e.Groups = append(e.Groups, aws.ToString(g.GroupId))
		}
		out = append(out, e)
	}
	return out
}

func containDeviceIndex(ni ec2types.InstanceNetworkInterface) int32 {
	if ni.Attachment == nil {
		return 1 << 30
	}
	return aws.ToInt32(ni.Attachment.DeviceIndex)
}

// containDoneSoFar says, in an error, what a containment bot changed before it failed.
func containDoneSoFar(changes []string) string {
	if len(changes) == 0 {
		return "nothing"
	}
	return strings.Join(changes, "; ")
}
