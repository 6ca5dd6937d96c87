package ec2bots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
)

// protectBot is the bot's name, in its messages and its declaration.
const protectBot = "ec2_enable_termination_protection"

func init() {
	bots.Register(bots.Bot{
		Name: protectBot,
		Summary: "Turn on termination protection and set shutdown-from-the-OS to stop (not terminate), so the " +
			"evidence is not destroyed. Auto Scaling ignores termination protection: see ec2_detach_from_autoscaling.",
		Resources: ec2instance.InstanceOrCredentialResources,
		Targets:   ec2instance.InstanceOrSessionTargets,
		Related:   ec2instance.SessionInstance,
		Impact:    bots.ImpactEvidence,
		Operations: []string{"ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:ModifyInstanceAttribute",
			"ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return protectInstance(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// ec2ProtectAPI is what ec2_enable_termination_protection calls.
type ec2ProtectAPI interface {
	ec2instance.Reader
	DescribeInstanceAttribute(context.Context, *ec2.DescribeInstanceAttributeInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
	ModifyInstanceAttribute(context.Context, *ec2.ModifyInstanceAttributeInput, ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

func protectInstance(ctx context.Context, api ec2ProtectAPI, req bots.Request) (bots.Result, error) {
	res, t, in, err := ec2instance.Begin(ctx, api, protectBot, req)
	if err != nil {
		return res, err
	}
	if in.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
		// EC2 refuses termination protection on Spot Instances, and the Spot service reclaims them anyway.
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is a Spot Instance, which cannot be protected from termination", t.ID)
		return res, nil
	}

	protected, err := describeAttr(ctx, api, t.ID, ec2types.InstanceAttributeNameDisableApiTermination)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read termination protection of %s: %w", protectBot, t.Where(), err)
	}
	shutdown, err := describeAttr(ctx, api, t.ID, ec2types.InstanceAttributeNameInstanceInitiatedShutdownBehavior)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read shutdown behavior of %s: %w", protectBot, t.Where(), err)
	}
	res.Before = map[string]string{"disableApiTermination": protected, "instanceInitiatedShutdownBehavior": shutdown}
	res.After = map[string]string{"disableApiTermination": protected, "instanceInitiatedShutdownBehavior": shutdown}

	// One attribute per ModifyInstanceAttribute call (the API allows no more); only what differs.
	var changes []*ec2.ModifyInstanceAttributeInput
	var lines []string
	if protected != "true" {
		changes = append(changes, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(t.ID), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}})
		lines = append(lines, fmt.Sprintf("termination protection on %s (was %s)", t.ID, protected))
	}
	if shutdown != "stop" {
		changes = append(changes, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(t.ID), InstanceInitiatedShutdownBehavior: &ec2types.AttributeValue{Value: aws.String("stop")}})
		lines = append(lines, fmt.Sprintf("shutdown behavior of %s: stop (was %s)", t.ID, shutdown))
	}
	if len(changes) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s is already protected from termination and stops on shutdown", t.ID)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, l := range lines {
			res.Changes = append(res.Changes, "would set "+l)
		}
		return res, nil
	}
	for i, c := range changes {
		if _, err := api.ModifyInstanceAttribute(ctx, c); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: set %s (done so far: %v): %w", protectBot, t.Where(), lines[i], res.Changes, err)
		}
		res.Changes = append(res.Changes, "set "+lines[i])
		if c.DisableApiTermination != nil {
			res.After["disableApiTermination"] = "true"
		} else {
			res.After["instanceInitiatedShutdownBehavior"] = "stop"
		}
	}
	res.Status = bots.StatusRemediated
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.ActedTags(protectBot, req, t)}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was protected but tagging it failed: %w", protectBot, t.Where(), err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", t.ID, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// describeAttr reads one instance attribute as a string ("true"/"false" for booleans).
func describeAttr(ctx context.Context, api ec2ProtectAPI, id string, attr ec2types.InstanceAttributeName) (string, error) {
	out, err := api.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: attr})
	if err != nil {
		return "", err
	}
	switch attr {
	case ec2types.InstanceAttributeNameDisableApiTermination:
		if out.DisableApiTermination != nil && aws.ToBool(out.DisableApiTermination.Value) {
			return "true", nil
		}
		return "false", nil
	case ec2types.InstanceAttributeNameInstanceInitiatedShutdownBehavior:
		if out.InstanceInitiatedShutdownBehavior != nil {
			return aws.ToString(out.InstanceInitiatedShutdownBehavior.Value), nil
		}
		return "", nil
	}
	return "", fmt.Errorf("attribute %s is not read by this bot", attr)
}
