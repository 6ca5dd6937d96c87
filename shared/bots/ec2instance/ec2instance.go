// Package ec2instance is what the bots acting on one EC2 instance share, whichever package holds them
// (ec2bots, autoscalingbots, elbbots): reading the finding's instance live, the tags marking what a bot
// did, and the undo record in the state table.
package ec2instance

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// IDPattern is loose on purpose: real ids are i- and 8 or 17 hex digits, kumo's contain hyphens. It
// only has to keep garbage (a sample finding's placeholder, an injected string) out of the API call.
var IDPattern = regexp.MustCompile(`^i-[0-9a-f-]{8,32}$`)

// Target is the instance an instance bot acts on.
type Target struct {
	ID string
	// Where names the instance, account and region for error messages.
	Where string
}

// Begin checks that req is about an EC2 instance with a well-formed id and starts the
// Result. ok is false when the bot must return (res, err) at once: a skip for another resource kind,
// or a rejection.
func Begin(bot string, req bots.Request) (res bots.Result, t Target, ok bool, err error) {
	f := req.Finding
	if f == nil {
		return bots.Result{}, t, false, faults.Rejectf("%s: no finding in the request", bot)
	}
	res = bots.Result{Bot: bot, Account: f.AccountID, Region: f.Region, DryRun: req.DryRun}
	if f.ResourceKind != finding.KindInstance || f.Instance == nil || f.Instance.ID == "" {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("finding is about a %s resource, not an EC2 instance", f.ResourceKind)
		return res, t, false, nil
	}
	id := f.Instance.ID
	if !IDPattern.MatchString(id) {
		return bots.Result{}, t, false, faults.Rejectf("%s: %q is not an EC2 instance id", bot, id)
	}
	res.Resources = []string{id}
	return res, Target{ID: id, Where: fmt.Sprintf("%s in %s/%s", id, f.AccountID, f.Region)}, true, nil
}

// Live is Begin plus the live read of the instance: done is true when res (or
// err) is already the bot's answer — not an instance finding, the read failed, or the instance is gone.
func Live(ctx context.Context, api Reader, bot string, req bots.Request) (res bots.Result, t Target, in *ec2types.Instance, done bool, err error) {
	res, t, ok, err := Begin(bot, req)
	if !ok {
		return res, t, nil, true, err
	}
	if in, err = Read(ctx, api, t.ID); err != nil {
		return bots.Result{}, t, nil, true, fmt.Errorf("%s: describe %s: %w", bot, t.Where, err)
	}
	if reason := GoneReason(in, t.ID); reason != "" {
		res.Status, res.Reason = bots.StatusSkipped, reason
		return res, t, nil, true, nil
	}
	return res, t, in, false, nil
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

// ExecutionTags is the execution ARN as a tag, or nothing when it is absent or too long for a tag value.
func ExecutionTags(req bots.Request) []ec2types.Tag {
	if req.Execution == "" || len(req.Execution) > bots.MaxTagValue {
		return nil
	}
	return []ec2types.Tag{{Key: aws.String(bots.TagExecution), Value: aws.String(req.Execution)}}
}

// ActedTags mark an instance a bot changed: finding id, bot, execution and a marker of the bot's own
// (TagBot only holds whichever bot tagged last). Detachment bots read the marker back to tell "already
// detached for this finding" (already-done) from "never attached" (skipped).
func ActedTags(bot string, req bots.Request, extra ...ec2types.Tag) []ec2types.Tag {
	id := aws.String(bots.TruncateTag(req.Finding.ID))
	tags := []ec2types.Tag{
		{Key: aws.String(bots.TagFindingID), Value: id},
		{Key: aws.String(bots.TagBot), Value: aws.String(bot)},
		{Key: aws.String(MarkerKey(bot)), Value: id},
	}
	return append(append(tags, extra...), ExecutionTags(req)...)
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

// TagKeys lists the tag keys, for Changes lines.
func TagKeys(tags []ec2types.Tag) []string {
	out := make([]string, 0, len(tags))
	for _, tg := range tags {
		out = append(out, aws.ToString(tg.Key))
	}
	return slices.Sorted(slices.Values(out))
}
