package elbbots

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

// kumo serves ELBv2 target groups (create, register, describe health, deregister), but it does not
// paginate, shows no draining state, DeregisterTargets removes every port of an instance id, and its
// target groups outlive the server (names must be unique across tests).

var targetGroupSeq atomic.Int64

func newDeregisterEnv(t *testing.T, extra ...func(*middleware.Stack) error) (ec2test.Env, *elbv2.Client) {
	t.Helper()
	e := ec2test.NewEnv(t, "ec2_deregister_from_load_balancers", extra...)
	return e, elbv2.NewFromConfig(bottest.Config(e.Endpoint))
}

func createTargetGroup(t *testing.T, c *elbv2.Client, name string, targetType elbtypes.TargetTypeEnum, targets ...elbtypes.TargetDescription) string {
	t.Helper()
	out, err := c.CreateTargetGroup(context.Background(), &elbv2.CreateTargetGroupInput{
		Name: aws.String(fmt.Sprintf("%s-%d", name, targetGroupSeq.Add(1))), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-0123"), TargetType: targetType,
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
	if len(targets) > 0 {
		if _, err := c.RegisterTargets(context.Background(), &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: targets}); err != nil {
			t.Fatal(err)
		}
	}
	return arn
}

func targetsOf(t *testing.T, c *elbv2.Client, arn string) []string {
	t.Helper()
	out, err := c.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range out.TargetHealthDescriptions {
		ids = append(ids, aws.ToString(d.Target.Id))
	}
	return ids
}

func target(id string, port int32) elbtypes.TargetDescription {
	return elbtypes.TargetDescription{Id: aws.String(id), Port: aws.Int32(port)}
}

var _ = bottest.RegisterContract("ec2_deregister_from_load_balancers", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, c := newDeregisterEnv(t, stubs...)
		web := createTargetGroup(t, c, "web", elbtypes.TargetTypeEnumInstance, target(e.ID, 80))
		return e.World(func() string { return fmt.Sprint("registered in web: ", targetsOf(t, c, web)) })
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "elasticloadbalancing:DeregisterTargets",
	Throttle: "elasticloadbalancing:DescribeTargetGroups",
})

func TestEC2DeregisterFromLoadBalancers_LeavesEveryTargetGroupOnItsExactPorts(t *testing.T) {
	var deregs []*elbv2.DeregisterTargetsInput
	var healthReads []string
	e, c := newDeregisterEnv(t, ec2test.ObserveInput(func(in any) {
		switch d := in.(type) {
		case *elbv2.DeregisterTargetsInput:
			deregs = append(deregs, d)
		case *elbv2.DescribeTargetHealthInput:
			healthReads = append(healthReads, aws.ToString(d.TargetGroupArn))
		}
	}))
	web := createTargetGroup(t, c, "web", elbtypes.TargetTypeEnumInstance, target(e.ID, 8080), target(e.ID, 8443), target("i-0other000000000000", 8080))
	api := createTargetGroup(t, c, "api", elbtypes.TargetTypeEnumInstance, target(e.ID, 9000))
	unrelated := createTargetGroup(t, c, "batch", elbtypes.TargetTypeEnumInstance, target("i-0other000000000000", 80))
	ips := createTargetGroup(t, c, "ips", elbtypes.TargetTypeEnumIp)

	res, err := bottest.Run(t, "ec2_deregister_from_load_balancers", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before[web] != "8080,8443" || res.Before[api] != "9000" || len(res.Before) != 2 {
		t.Fatalf("result %s before %v", res.Status, res.Before)
	}
	for _, arn := range []string{web, api} {
		if slices.Contains(targetsOf(t, c, arn), e.ID) {
			t.Errorf("%s still holds the instance", arn)
		}
	}
	if got := targetsOf(t, c, web); !slices.Equal(got, []string{"i-0other000000000000"}) {
		t.Errorf("web holds %v, want only the other instance", got)
	}
	if got := targetsOf(t, c, unrelated); len(got) != 1 {
		t.Errorf("an unrelated group changed: %v", got)
	}
	// One DeregisterTargets per group, with the exact ports registered (kumo lists groups in no fixed
	// order, so they are matched by ARN).
	byGroup := map[string][]elbtypes.TargetDescription{}
	for _, d := range deregs {
		byGroup[aws.ToString(d.TargetGroupArn)] = d.Targets
	}
	if len(deregs) != 2 || len(byGroup[web]) != 2 || len(byGroup[api]) != 1 {
		t.Fatalf("deregistrations %+v", byGroup)
	}
	if got := byGroup[web]; aws.ToInt32(got[0].Port) != 8080 || aws.ToInt32(got[1].Port) != 8443 || aws.ToString(got[0].Id) != e.ID {
		t.Errorf("web deregistration %+v", got)
	}
	if got := byGroup[api]; aws.ToInt32(got[0].Port) != 9000 || aws.ToString(got[0].Id) != e.ID {
		t.Errorf("api deregistration %+v", got)
	}
	// ip-type groups are not read at all: the instance id cannot be registered there.
	if slices.Contains(healthReads, ips) || !slices.Contains(healthReads, unrelated) {
		t.Errorf("read targets of %v, want every instance-type group and no ip-type one", healthReads)
	}
	if tags := e.KumoTags(t); tags[bots.TagFindingID] != ec2test.FindingID {
		t.Errorf("instance tags %v", tags)
	}
}

func TestEC2DeregisterFromLoadBalancers_NeverRegisteredIsSkippedWithReason(t *testing.T) {
	e, c := newDeregisterEnv(t)
	createTargetGroup(t, c, "web", elbtypes.TargetTypeEnumInstance, target("i-0other000000000000", 80))
	res, err := bottest.Run(t, "ec2_deregister_from_load_balancers", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "not registered in any ELBv2 target group") {
		t.Errorf("result %s %q, %v; want skipped", res.Status, res.Reason, err)
	}
}

// Real ELBv2 pages target groups and shows a deregistered target as draining for the deregistration
// delay; kumo does neither, so both are stubbed here.
func TestEC2DeregisterFromLoadBalancers_ReadsEveryPageAndTreatsDrainingAsDeregistered(t *testing.T) {
	const tg1, tg2 = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/a/1", "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/b/2"
	var markers []string
	var deregs []*elbv2.DeregisterTargetsInput
	var id string
	e, _ := newDeregisterEnv(t,
		bottest.StubCall("elasticloadbalancing:DescribeTargetGroups", func(in any) (any, error) {
			m := aws.ToString(in.(*elbv2.DescribeTargetGroupsInput).Marker)
			markers = append(markers, m)
			if m == "" {
				return &elbv2.DescribeTargetGroupsOutput{NextMarker: aws.String("page2"), TargetGroups: []elbtypes.TargetGroup{{TargetGroupArn: aws.String(tg1), TargetType: elbtypes.TargetTypeEnumInstance}}}, nil
			}
			return &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{{TargetGroupArn: aws.String(tg2), TargetType: elbtypes.TargetTypeEnumInstance}}}, nil
		}),
		bottest.StubCall("elasticloadbalancing:DescribeTargetHealth", func(in any) (any, error) {
			state := elbtypes.TargetHealthStateEnumHealthy
			if aws.ToString(in.(*elbv2.DescribeTargetHealthInput).TargetGroupArn) == tg1 {
				state = elbtypes.TargetHealthStateEnumDraining
			}
			return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
				Target: &elbtypes.TargetDescription{Id: aws.String(id), Port: aws.Int32(443)}, TargetHealth: &elbtypes.TargetHealth{State: state},
			}}}, nil
		}),
		bottest.StubCall("elasticloadbalancing:DeregisterTargets", func(in any) (any, error) {
			deregs = append(deregs, in.(*elbv2.DeregisterTargetsInput))
			return &elbv2.DeregisterTargetsOutput{}, nil
		}),
	)
	id = e.ID
	res, err := bottest.Run(t, "ec2_deregister_from_load_balancers", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(markers, []string{"", "page2"}) {
		t.Errorf("pages read with markers %q, want both pages", markers)
	}
	if res.Status != bots.StatusRemediated || len(deregs) != 1 || aws.ToString(deregs[0].TargetGroupArn) != tg2 || aws.ToInt32(deregs[0].Targets[0].Port) != 443 {
		t.Errorf("result %s, deregistrations %+v; want only %s on 443", res.Status, deregs, tg2)
	}
}
