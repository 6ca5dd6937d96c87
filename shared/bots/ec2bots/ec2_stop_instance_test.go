package ec2bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

var _ = bottest.RegisterContract("ec2_stop_instance", bottest.Contract{
	World:    ec2test.InstanceWorld("ec2_stop_instance"),
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:StopInstances",
	Throttle: "ec2:DescribeInstances",
})

func TestEC2StopInstance_StopsRunningInstanceAndTagsIt(t *testing.T) {
	var stopped *ec2.StopInstancesInput
	e := ec2test.NewEnv(t, "ec2_stop_instance", bottest.ObserveOp("ec2:StopInstances", func(in any) { stopped = in.(*ec2.StopInstancesInput) }))
	res, err := bottest.Run(t, "ec2_stop_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	if got := e.KumoState(t); got != ec2types.InstanceStateNameStopped && got != ec2types.InstanceStateNameStopping {
		t.Errorf("instance is %s after the bot ran, want stopped or stopping", got)
	}
	if res.Before["state"] != "running" || (res.After["state"] != "stopped" && res.After["state"] != "stopping") {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
	if res.Account != bottest.Account || res.Region != bottest.Region || !slices.Equal(res.Resources, []string{e.ID}) {
		t.Errorf("result does not say where it acted: %+v", res)
	}
	if stopped == nil || aws.ToBool(stopped.Force) {
		t.Errorf("StopInstances input %+v, want an unforced stop", stopped)
	}
	tags := e.KumoTags(t)
	want := map[string]string{bots.TagFindingID: ec2test.FindingID, bots.TagBot: "ec2_stop_instance", bots.TagExecution: bottest.Execution}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
}

func TestEC2StopInstance_ForceParameterIsSent(t *testing.T) {
	var stopped *ec2.StopInstancesInput
	e := ec2test.NewEnv(t, "ec2_stop_instance", bottest.StubCall("ec2:StopInstances", func(in any) (any, error) {
		stopped = in.(*ec2.StopInstancesInput)
		return &ec2.StopInstancesOutput{}, nil
	}))
	b, _ := bots.Lookup("ec2_stop_instance")
	p, err := b.ParsePositional([]string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	req := e.Request(false)
	req.Params = p
	if _, err := bottest.Run(t, "ec2_stop_instance", req); err != nil {
		t.Fatal(err)
	}
	if stopped == nil || !aws.ToBool(stopped.Force) {
		t.Errorf("StopInstances input %+v, want Force=true", stopped)
	}
}

func TestEC2StopInstance_EmptyReservationIsSkipped(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_stop_instance", ec2test.LiveInstanceStub(func() *ec2types.Instance { return nil }))
	res, err := bottest.Run(t, "ec2_stop_instance", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no longer exists") {
		t.Errorf("result = %+v, err %v; want skipped", res, err)
	}
}

func TestEC2StopInstance_TerminatedInstanceIsSkippedWithItsState(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_stop_instance")
	if _, err := e.Kumo().TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{e.ID}}); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, "ec2_stop_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "terminated") && !strings.Contains(res.Reason, "shutting-down") {
		t.Errorf("result = %s %q, want skipped naming the state", res.Status, res.Reason)
	}
}

func TestEC2StopInstance_TaggingFailureIsAnErrorThatSaysItStopped(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_stop_instance", bottest.StubError("ec2:CreateTags", "UnauthorizedOperation", "not authorized"))
	_, err := bottest.Run(t, "ec2_stop_instance", e.Request(false))
	if err == nil || !strings.Contains(err.Error(), "was stopped but tagging it failed") {
		t.Fatalf("err = %v, want a tagging failure that says the instance was stopped", err)
	}
}

func TestEC2StopInstance_StoppedByOthersMeanwhileIsAlreadyDone(t *testing.T) {
	describes := 0
	var e ec2test.Env
	e = ec2test.NewEnv(t, "ec2_stop_instance",
		ec2test.LiveInstanceStub(func() *ec2types.Instance {
			describes++
			state := ec2types.InstanceStateNameRunning
			if describes > 1 {
				state = ec2types.InstanceStateNameStopping
			}
			return &ec2types.Instance{InstanceId: aws.String(e.ID), State: &ec2types.InstanceState{Name: state}}
		}),
		bottest.StubError("ec2:StopInstances", "IncorrectInstanceState", "The instance is not in a state from which it can be stopped."),
	)
	res, err := bottest.Run(t, "ec2_stop_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone || res.After["state"] != "stopping" {
		t.Errorf("result = %s %v, want already-done, stopping", res.Status, res.After)
	}
	if slices.Contains(e.Rec.Ops(), "ec2:CreateTags") {
		t.Error("tagged an instance this run did not stop")
	}
}
