package ec2bots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/finding"
)

// terminateBot is the bot's name, in its messages and its declaration.
const terminateBot = "ec2_terminate_instance"

func init() {
	bots.Register(bots.Bot{
		Name: terminateBot,
		Summary: "Terminate the instance (destroys it and its DeleteOnTermination volumes: snapshot first). " +
			"Refuses an instance with termination protection on; never in the default mapping.",
		Resources:  []finding.ResourceKind{finding.KindInstance},
		Targets:    []finding.TargetKind{finding.TargetInstance},
		Impact:     bots.ImpactDestructive,
		Operations: []string{"ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:TerminateInstances"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return terminateInstance(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// ec2TerminateAPI is what ec2_terminate_instance calls. It does not tag: a terminated instance's tags
// vanish with it within the hour; CloudTrail, with the session name naming bot and finding, is the record.
type ec2TerminateAPI interface {
	ec2instance.Reader
	DescribeInstanceAttribute(context.Context, *ec2.DescribeInstanceAttributeInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
	TerminateInstances(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
}

func terminateInstance(ctx context.Context, api ec2TerminateAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(terminateBot, req, finding.TargetInstance)
	if err != nil {
		return res, err
	}
	// Read, not Live: a terminated instance is this bot's work done, not a reason to skip.
	in, err := ec2instance.Read(ctx, api, t.ID)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: describe %s: %w", terminateBot, t.Where(), err)
	}
	if in == nil {
		return res, bots.Skip("instance %s no longer exists", t.ID)
	}
	state := ec2types.InstanceStateName("")
	if in.State != nil {
		state = in.State.Name
	}
	res.Before = map[string]string{"state": string(state)}
	if state == ec2types.InstanceStateNameTerminated || state == ec2types.InstanceStateNameShuttingDown {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s is already %s", t.ID, state)
		return res, nil
	}

	// Protection is someone's deliberate choice (often ec2_enable_termination_protection keeping the
	// evidence): refuse rather than flip it.
	attr, err := api.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(t.ID), Attribute: ec2types.InstanceAttributeNameDisableApiTermination})
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read termination protection of %s: %w", terminateBot, t.Where(), err)
	}
	if attr.DisableApiTermination != nil && aws.ToBool(attr.DisableApiTermination.Value) {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s has termination protection on; not terminated", t.ID)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would terminate %s (%s)", t.ID, state)}
		return res, nil
	}

	out, err := api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{t.ID}})
	if err != nil {
		if bots.APIErrorCode(err) == "OperationNotPermitted" {
			// Protection turned on between our read and our call.
			res.Status = bots.StatusSkipped
			res.Reason = fmt.Sprintf("instance %s has termination protection on; not terminated", t.ID)
			return res, nil
		}
		return bots.Result{}, fmt.Errorf("%s: terminate %s: %w", terminateBot, t.Where(), err)
	}
	after := ec2types.InstanceStateNameShuttingDown
	for _, c := range out.TerminatingInstances {
		if aws.ToString(c.InstanceId) == t.ID && c.CurrentState != nil {
			after = c.CurrentState.Name
		}
	}
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"state": string(after)}
	res.Changes = []string{fmt.Sprintf("terminated %s (%s -> %s)", t.ID, state, after)}
	return res, nil
}
