package autoscalingbots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
)

// detachASGBot is the bot's name, in its messages and its declaration.
const detachASGBot = "ec2_detach_from_autoscaling"

func init() {
	bots.Register(bots.Bot{
		Name: detachASGBot,
		Summary: "Detach the instance from its Auto Scaling group without decrementing the desired capacity, " +
			"so the group launches a replacement instead of terminating the evidence (Auto Scaling ignores " +
			"termination protection). The group also removes it from the group's load balancer target groups.",
		Resources: ec2instance.InstanceOrCredentialResources,
		Targets:   ec2instance.InstanceOrSessionTargets,
		Related:   ec2instance.SessionInstance,
		Impact:    bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DetachInstances", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return detachFromAutoScaling(ctx, ec2.NewFromConfig(req.AWS), autoscaling.NewFromConfig(req.AWS), req)
		},
	})
}

// TagAutoScalingGroup records on the instance the group it was detached from.
const TagAutoScalingGroup = "guardbots:autoscaling-group"

type ec2DetachASGAPI interface {
	ec2instance.Reader
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

type autoScalingDetachAPI interface {
	DescribeAutoScalingInstances(context.Context, *autoscaling.DescribeAutoScalingInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
	DetachInstances(context.Context, *autoscaling.DetachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error)
}

// detachedFromGroup is what re-attaches the instance, as kept in the state table.
type detachedFromGroup struct {
	FindingID  string `json:"findingId"`
	InstanceID string `json:"instanceId"`
	Group      string `json:"autoScalingGroupName"`
}

func detachFromAutoScaling(ctx context.Context, api ec2DetachASGAPI, as autoScalingDetachAPI, req bots.Request) (bots.Result, error) {
	res, t, in, err := ec2instance.Begin(ctx, api, detachASGBot, req)
	if err != nil {
		return res, err
	}
	out, err := as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{t.ID}})
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: describe Auto Scaling membership of %s: %w", detachASGBot, t.Where(), err)
	}
	var member *astypes.AutoScalingInstanceDetails
	for i := range out.AutoScalingInstances {
		if aws.ToString(out.AutoScalingInstances[i].InstanceId) == t.ID {
			member = &out.AutoScalingInstances[i]
		}
	}
	if member == nil {
		if ec2instance.ActedOn(in, detachASGBot, req.Finding) {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("instance %s was already detached from %s for this finding", t.ID, ec2instance.TagValues(in.Tags)[TagAutoScalingGroup])
			return res, nil
		}
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is not in an Auto Scaling group", t.ID)
		return res, nil
	}
	group := aws.ToString(member.AutoScalingGroupName)
	lifecycle := aws.ToString(member.LifecycleState)
	res.Resources = append(res.Resources, group)
	res.Before = map[string]string{"autoScalingGroup": group, "lifecycleState": lifecycle}
	switch astypes.LifecycleState(lifecycle) {
	case astypes.LifecycleStateInService, astypes.LifecycleStateStandby:
	case astypes.LifecycleStateDetaching, astypes.LifecycleStateDetached:
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s is already %s from %s", t.ID, lifecycle, group)
		return res, nil
	case astypes.LifecycleStatePending, astypes.LifecycleStatePendingWait, astypes.LifecycleStatePendingProceed,
		astypes.LifecycleStateEnteringStandby:
		// DetachInstances wants InService or Standby; these states pass within minutes, so let the
		// state machine retry rather than give up on containment.
		return bots.Result{}, &faults.Error{Kind: faults.Retryable, Err: fmt.Errorf("%s: %s is %s in Auto Scaling group %s; detach once it is InService", detachASGBot, t.Where(), lifecycle, group)}
	default:
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is %s in Auto Scaling group %s, which cannot be detached", t.ID, lifecycle, group)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would detach %s from Auto Scaling group %s (desired capacity kept, a replacement launches)", t.ID, group)}
		return res, nil
	}
	if err := ec2instance.RememberUndo(ctx, req, detachASGBot, t.ID, detachedFromGroup{FindingID: req.Finding.ID, InstanceID: t.ID, Group: group}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: record Auto Scaling group %s of %s in the state table: %w", detachASGBot, group, t.Where(), err)
	}
	if _, err := as.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
		AutoScalingGroupName:           aws.String(group),
		InstanceIds:                    []string{t.ID},
		ShouldDecrementDesiredCapacity: aws.Bool(false),
	}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: detach %s from Auto Scaling group %s: %w", detachASGBot, t.Where(), group, err)
	}
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"autoScalingGroup": "", "lifecycleState": string(astypes.LifecycleStateDetaching)}
	res.Changes = []string{fmt.Sprintf("detached %s from Auto Scaling group %s (desired capacity kept)", t.ID, group)}
	tags := ec2instance.ActedTags(detachASGBot, req, t, bots.Tag{Key: TagAutoScalingGroup, Value: bots.TruncateTag(group)})
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: tags}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was detached from %s but tagging it failed: %w", detachASGBot, t.Where(), group, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s", t.ID, ec2instance.TagKeys(tags)))
	return res, nil
}
