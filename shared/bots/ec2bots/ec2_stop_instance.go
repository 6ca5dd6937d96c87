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

func init() {
	bots.Register(bots.Bot{
		Name:      "ec2_stop_instance",
		Summary:   "Stop the instance in the finding and tag it with the finding id and the bot.",
		Resources: []finding.ResourceKind{finding.KindInstance},
		Params: []bots.Param{{
			Name: "force",
			Type: bots.TypeBool,
			Description: "Force the stop (no OS shutdown, no file system flush). For an instance that ignores " +
				"a normal stop; may lose unflushed data.",
			Default: false,
		}},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "ec2:StopInstances", "ec2:CreateTags"},
		Run:        runEC2StopInstance,
	})
}

// ec2StopAPI is what ec2_stop_instance calls.
type ec2StopAPI interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StopInstances(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func runEC2StopInstance(ctx context.Context, req bots.Request) (bots.Result, error) {
	return stopInstance(ctx, ec2.NewFromConfig(req.AWS), req)
}

func stopInstance(ctx context.Context, api ec2StopAPI, req bots.Request) (bots.Result, error) {
	const bot = "ec2_stop_instance"
	res, t, ok, err := ec2instance.Begin(bot, req)
	if !ok {
		return res, err
	}
	id, where := t.ID, t.Where

	state, err := instanceState(ctx, api, id)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: describe %s: %w", bot, where, err)
	}
	if state == "" {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s no longer exists", id)
		return res, nil
	}
	res.Before = map[string]string{"state": string(state)}
	switch state {
	case ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameShuttingDown:
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is %s", id, state)
		return res, nil
	case ec2types.InstanceStateNameStopped, ec2types.InstanceStateNameStopping:
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s is already %s", id, state)
		return res, nil
	case ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning:
	default:
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: instance %s is in state %q, which this bot does not handle", bot, where, state))
	}

	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would stop %s (%s)", id, state)}
		return res, nil
	}

	force := req.Params.Bool("force")
	out, err := api.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}, Force: aws.Bool(force)})
	if err != nil {
		if bots.APIErrorCode(err) == "IncorrectInstanceState" {
			// Stopped by someone else between our read and our call: read again rather than fail.
			if now, derr := instanceState(ctx, api, id); derr == nil && (now == ec2types.InstanceStateNameStopped || now == ec2types.InstanceStateNameStopping) {
				res.Status = bots.StatusAlreadyDone
				res.Reason = fmt.Sprintf("instance %s was %s by the time it was stopped", id, now)
				res.After = map[string]string{"state": string(now)}
				return res, nil
			}
		}
		return bots.Result{}, fmt.Errorf("%s: stop %s: %w", bot, where, err)
	}
	after := state
	for _, c := range out.StoppingInstances {
		if aws.ToString(c.InstanceId) == id && c.CurrentState != nil {
			after = c.CurrentState.Name
		}
	}
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"state": string(after)}
	stopped := fmt.Sprintf("stopped %s (%s -> %s)", id, state, after)
	if force {
		stopped += ", forced"
	}
	res.Changes = []string{stopped}

	tags := []ec2types.Tag{
		{Key: aws.String(bots.TagFindingID), Value: aws.String(bots.TruncateTag(req.Finding.ID))},
		{Key: aws.String(bots.TagBot), Value: aws.String(bot)},
	}
	if req.Execution != "" && len(req.Execution) <= bots.MaxTagValue {
		tags = append(tags, ec2types.Tag{Key: aws.String(bots.TagExecution), Value: aws.String(req.Execution)})
	}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: tags}); err != nil {
		// The instance is stopped, but the contract says it is tagged: report the failure, saying
		// what did happen, rather than a success with a footnote.
		return bots.Result{}, fmt.Errorf("%s: %s was stopped but tagging it failed: %w", bot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", id, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// instanceState reads the instance's state live; "" means it does not exist (any more).
func instanceState(ctx context.Context, api ec2StopAPI, id string) (ec2types.InstanceStateName, error) {
	in, err := ec2instance.Read(ctx, api, id)
	if err != nil || in == nil || in.State == nil {
		return "", err
	}
	return in.State.Name, nil
}
