package ec2bots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// stopBot is the bot's name, in its messages and its declaration.
const stopBot = "ec2_stop_instance"

func init() {
	bots.Register(bots.Bot{
		Name:      stopBot,
		Summary:   "Stop the instance in the finding and tag it with the finding id and the bot.",
		Resources: []finding.ResourceKind{finding.KindInstance},
		Targets:   []finding.TargetKind{finding.TargetInstance},
		Params: []bots.Param{{
			Name: "force",
			Type: bots.TypeBool,
			Description: "Force the stop (no OS shutdown, no file system flush). For an instance that ignores " +
				"a normal stop; may lose unflushed data.",
			Default: false,
		}},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "ec2:StopInstances", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return stopInstance(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// ec2StopAPI is what ec2_stop_instance calls.
type ec2StopAPI interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StopInstances(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func stopInstance(ctx context.Context, api ec2StopAPI, req bots.Request) (bots.Result, error) {
	res, t, in, err := ec2instance.Begin(ctx, api, stopBot, req)
	if err != nil {
		return res, err
	}
	var state ec2types.InstanceStateName
	if in.State != nil {
		state = in.State.Name
	}
	res.Before = map[string]string{"state": string(state)}
	switch state {
	case ec2types.InstanceStateNameStopped, ec2types.InstanceStateNameStopping:
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s is already %s", t.ID, state)
		return res, nil
	case ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning:
	default:
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s is in state %q, which this bot does not handle", stopBot, t.Where(), state))
	}

	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would stop %s (%s)", t.ID, state)}
		return res, nil
	}

	force := req.Params.Bool("force")
	out, err := api.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{t.ID}, Force: aws.Bool(force)})
	if err != nil {
		if bots.APIErrorCode(err) == "IncorrectInstanceState" {
			// Stopped by someone else between our read and our call: read again rather than fail.
			if now, derr := ec2instance.Read(ctx, api, t.ID); derr == nil && now != nil && now.State != nil &&
				(now.State.Name == ec2types.InstanceStateNameStopped || now.State.Name == ec2types.InstanceStateNameStopping) {
				res.Status = bots.StatusAlreadyDone
				res.Reason = fmt.Sprintf("instance %s was %s by the time it was stopped", t.ID, now.State.Name)
				res.After = map[string]string{"state": string(now.State.Name)}
				return res, nil
			}
		}
		return bots.Result{}, fmt.Errorf("%s: stop %s: %w", stopBot, t.Where(), err)
	}
	after := state
	for _, c := range out.StoppingInstances {
		if aws.ToString(c.InstanceId) == t.ID && c.CurrentState != nil {
			after = c.CurrentState.Name
		}
	}
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"state": string(after)}
	stopped := fmt.Sprintf("stopped %s (%s -> %s)", t.ID, state, after)
	if force {
		stopped += ", forced"
	}
	res.Changes = []string{stopped}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.Tags(bots.Markers(stopBot, req, t))}); err != nil {
		// The instance is stopped, but the contract says it is tagged: report the failure, saying
		// what did happen, rather than a success with a footnote.
		return bots.Result{}, fmt.Errorf("%s: %s was stopped but tagging it failed: %w", stopBot, t.Where(), err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", t.ID, bots.TagFindingID, bots.TagBot))
	return res, nil
}
