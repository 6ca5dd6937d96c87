package elbbots

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
)

// deregisterBot is the bot's name, in its messages and its declaration.
const deregisterBot = "ec2_deregister_from_load_balancers"

func init() {
	bots.Register(bots.Bot{
		Name: deregisterBot,
		Summary: "Deregister the instance from every ELBv2 (Application/Network/Gateway Load Balancer) target " +
			"group it is registered in by instance id, on each registered port. Classic Load Balancers and " +
			"ip-type target groups are out of scope. Not registered anywhere: skipped (already-done when " +
			"this bot deregistered it for the finding).",
		Resources: ec2instance.InstanceOrCredentialResources,
		Targets:   ec2instance.InstanceOrSessionTargets,
		Related:   ec2instance.SessionInstance,
		Impact:    bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DeregisterTargets", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return deregisterFromLoadBalancers(ctx, ec2.NewFromConfig(req.AWS), elbv2.NewFromConfig(req.AWS), req)
		},
	})
}

type ec2DeregisterAPI interface {
	ec2instance.Reader
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

type elbDeregisterAPI interface {
	elbv2.DescribeTargetGroupsAPIClient
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
}

// leftTargetGroups is what re-registers the instance, as kept in the state table.
type leftTargetGroups struct {
	FindingID  string              `json:"findingId"`
	InstanceID string              `json:"instanceId"`
	Targets    []registeredTargets `json:"targets"`
}

type registeredTargets struct {
	TargetGroupArn string  `json:"targetGroupArn"`
	Ports          []int32 `json:"ports"`
}

func deregisterFromLoadBalancers(ctx context.Context, api ec2DeregisterAPI, elb elbDeregisterAPI, req bots.Request) (bots.Result, error) {
	res, t, in, err := ec2instance.Begin(ctx, api, deregisterBot, req)
	if err != nil {
		return res, err
	}

	// ELBv2 cannot be asked "where is this instance registered": list every target group and read each
	// one's targets. The health call is made without a Targets filter because a filter without a port
	// asks about the group's default port only, missing an instance registered on another port.
	var registered []registeredTargets
	pages := elbv2.NewDescribeTargetGroupsPaginator(elb, &elbv2.DescribeTargetGroupsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: list target groups for %s: %w", deregisterBot, t.Where(), err)
		}
		for _, tg := range page.TargetGroups {
			if tg.TargetType != elbtypes.TargetTypeEnumInstance {
				continue
			}
			arn := aws.ToString(tg.TargetGroupArn)
			health, err := elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
			if err != nil {
				if bots.APIErrorCode(err) == "TargetGroupNotFound" {
					continue // deleted since the listing
				}
				return bots.Result{}, fmt.Errorf("%s: read targets of %s for %s: %w", deregisterBot, arn, t.Where(), err)
			}
			var ports []int32
			for _, d := range health.TargetHealthDescriptions {
				if d.Target == nil || aws.ToString(d.Target.Id) != t.ID {
					continue
				}
				// Draining is what a deregistered target looks like for the deregistration delay.
				if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumDraining {
					continue
				}
				ports = append(ports, aws.ToInt32(d.Target.Port))
			}
			if len(ports) > 0 {
				registered = append(registered, registeredTargets{TargetGroupArn: arn, Ports: ports})
			}
		}
	}
	if len(registered) == 0 {
		if ec2instance.ActedOn(in, deregisterBot, req.Finding) {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("instance %s was already deregistered from its target groups for this finding", t.ID)
			return res, nil
		}
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is not registered in any ELBv2 target group", t.ID)
		return res, nil
	}
	res.Before = map[string]string{}
	for _, r := range registered {
		res.Before[r.TargetGroupArn] = portList(r.Ports)
		res.Resources = append(res.Resources, r.TargetGroupArn)
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, r := range registered {
			res.Changes = append(res.Changes, fmt.Sprintf("would deregister %s (port %s) from %s", t.ID, portList(r.Ports), r.TargetGroupArn))
		}
		return res, nil
	}
	if err := ec2instance.RememberUndo(ctx, req, deregisterBot, t.ID, leftTargetGroups{FindingID: req.Finding.ID, InstanceID: t.ID, Targets: registered}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: record the target groups of %s in the state table: %w", deregisterBot, t.Where(), err)
	}
	for _, r := range registered {
		targets := make([]elbtypes.TargetDescription, len(r.Ports))
		for i, p := range r.Ports {
			// The exact port: a deregistration without one means the group's default port.
			targets[i] = elbtypes.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(p)}
		}
		if _, err := elb.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(r.TargetGroupArn), Targets: targets}); err != nil {
			return bots.Result{}, fmt.Errorf("%s: deregister %s from %s (done so far: %v): %w", deregisterBot, t.Where(), r.TargetGroupArn, res.Changes, err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("deregistered %s (port %s) from %s", t.ID, portList(r.Ports), r.TargetGroupArn))
	}
	res.Status = bots.StatusRemediated
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.ActedTags(deregisterBot, req, t)}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was deregistered from %d target group(s) but tagging it failed: %w", deregisterBot, t.Where(), len(registered), err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", t.ID, bots.TagFindingID, bots.TagBot))
	return res, nil
}

func portList(ports []int32) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
