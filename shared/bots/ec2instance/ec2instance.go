// Package ec2instance is what the bots acting on one EC2 instance share, whichever package holds them
// (ec2bots, autoscalingbots, elbbots): reading the target instance live, the tags marking what a bot
// did, and the undo record in the state table.
package ec2instance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// Begin is how a bot acting on one instance starts (bots.Begin): its result, its target and the
// instance read live. A skip (bots.Skip: the instance is gone) or a failed read is err.
func Begin(ctx context.Context, api Reader, bot string, req bots.Request) (bots.Result, finding.Target, *ec2types.Instance, error) {
	res, t, err := bots.Begin(bot, req, finding.TargetInstance)
	if err != nil {
		return res, t, nil, err
	}
	in, err := Live(ctx, api, t)
	return res, t, in, err
}

// Live reads the instance t live. An instance that no longer exists, or is shutting down or
// terminated, is a skip (bots.Skip): there is nothing left to act on.
func Live(ctx context.Context, api Reader, t finding.Target) (*ec2types.Instance, error) {
	in, err := Read(ctx, api, t.ID)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", t.Where(), err)
	}
	if reason := GoneReason(in, t.ID); reason != "" {
		return nil, bots.Skip("%s", reason)
	}
	return in, nil
}

type Reader interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// Read reads the instance from AWS; nil means it does not exist (any more).
func Read(ctx context.Context, api Reader, id string) (*ec2types.Instance, error) {
	out, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if bots.APIErrorCode(err) == "InvalidInstanceID.NotFound" {
			return nil, nil
		}
		return nil, err
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return &r.Instances[i], nil
			}
		}
	}
	return nil, nil
}

// GoneReason is the skip reason for an instance that no longer exists or is being terminated, "" when
// it is there to act on.
func GoneReason(in *ec2types.Instance, id string) string {
	if in == nil {
		return fmt.Sprintf("instance %s no longer exists", id)
	}
	if in.State != nil {
		switch s := in.State.Name; s {
		case ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameShuttingDown:
			return fmt.Sprintf("instance %s is %s", id, s)
		}
	}
	return ""
}

func TagValues(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// Tags are marker tags (bots.Markers) in EC2's type: the one way EC2 bots build the tags they write.
func Tags(tags []bots.Tag) []ec2types.Tag {
	out := make([]ec2types.Tag, len(tags))
	for i, t := range tags {
		out[i] = ec2types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

// ActedTags mark an instance a bot changed: its markers (finding id, bot, execution) and a marker of
// the bot's own (TagBot only holds whichever bot tagged last), with extra. Detachment bots read the
// bot's marker back to tell "already detached for this finding" (already-done) from "never attached"
// (skipped).
func ActedTags(bot string, req bots.Request, t finding.Target, extra ...bots.Tag) []ec2types.Tag {
	own := bots.Tag{Key: MarkerKey(bot), Value: bots.TruncateTag(req.Finding.ID)}
	return Tags(bots.Markers(bot, req, t, append([]bots.Tag{own}, extra...)...))
}

// MarkerKey is the tag key whose value is the finding id bot last acted for.
func MarkerKey(bot string) string { return "guardbots:" + bot }

// ActedOn reports whether the live instance carries bot's marker for this finding. It only picks the
// wording (already-done or skipped) when there is nothing to do, never whether to act.
func ActedOn(in *ec2types.Instance, bot string, f *finding.Finding) bool {
	return TagValues(in.Tags)[MarkerKey(bot)] == bots.TruncateTag(f.ID)
}

// RememberUndo stores what restores the instance (a removed instance profile, the target groups left)
// in the state table when the orchestrator provides one: the Result's Before reaches the notification,
// but only the table is safe from whoever controls the instance.
func RememberUndo(ctx context.Context, req bots.Request, bot, id string, value any) error {
	if req.State == nil {
		return nil
	}
	doc, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return req.State.Put(ctx, UndoStateKey(bot, req.Finding, id), doc)
}

// UndoStateKey is the state-table key of what bot must remember about instance id.
func UndoStateKey(bot string, f *finding.Finding, id string) string {
	return bot + "#" + f.AccountID + "#" + f.Region + "#" + id
}

// TagKeys lists the tag keys, sorted, for Changes lines.
func TagKeys(tags []ec2types.Tag) []string {
	out := make([]string, 0, len(tags))
	for _, tg := range tags {
		out = append(out, aws.ToString(tg.Key))
	}
	return slices.Sorted(slices.Values(out))
}

// What a bot acting on one instance declares (bots.Bot's Resources, Targets and Related) when it also
// acts on the instance of an instance-credential finding: GuardDuty reports stolen instance credentials
// on the access key, and the instance they were taken from is the related target of the session
// (finding.RelSessionInstance), which the runner finds live.
var (
	InstanceOrCredentialResources = []finding.ResourceKind{finding.KindInstance, finding.KindAccessKey}
	InstanceOrSessionTargets      = []finding.TargetKind{finding.TargetInstance, finding.TargetSession}
	SessionInstance               = []finding.Relation{finding.RelSessionInstance}
)
