package autoscalingbots

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/faults"
)

// asgWorld fakes Auto Scaling, which kumo does not serve: one group holding the instance.
type asgWorld struct {
	mu        sync.Mutex
	group     string // "" once detached
	lifecycle astypes.LifecycleState
	requests  []any
}

func (w *asgWorld) stubs(id func() string) []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("autoscaling:DescribeAutoScalingInstances", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.requests = append(w.requests, in)
			out := &autoscaling.DescribeAutoScalingInstancesOutput{}
			if w.group != "" {
				out.AutoScalingInstances = []astypes.AutoScalingInstanceDetails{{
					InstanceId: aws.String(id()), AutoScalingGroupName: aws.String(w.group), LifecycleState: aws.String(string(w.lifecycle)),
				}}
			}
			return out, nil
		}),
		bottest.StubCall("autoscaling:DetachInstances", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.requests = append(w.requests, in)
			w.group = ""
			return &autoscaling.DetachInstancesOutput{}, nil
		}),
	}
}

func newASGEnv(t *testing.T, lifecycle astypes.LifecycleState, extra ...func(*middleware.Stack) error) (ec2test.Env, *asgWorld) {
	t.Helper()
	w := &asgWorld{group: "web-asg", lifecycle: lifecycle}
	var id string
	e := ec2test.NewEnv(t, "ec2_detach_from_autoscaling", append(extra, w.stubs(func() string { return id })...)...)
	id = e.ID
	return e, w
}

func (w *asgWorld) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "group=" + w.group
}

var _ = bottest.RegisterContract("ec2_detach_from_autoscaling", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, w := newASGEnv(t, astypes.LifecycleStateInService, stubs...)
		return e.World(w.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "autoscaling:DetachInstances",
	Throttle: "autoscaling:DescribeAutoScalingInstances",
})

func TestEC2DetachFromAutoScaling_DetachesWithoutDecrementingCapacity(t *testing.T) {
	e, w := newASGEnv(t, astypes.LifecycleStateInService)
	state := &ec2test.UndoState{}
	req := e.Request(false)
	req.State = state
	res, err := bottest.Run(t, "ec2_detach_from_autoscaling", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || w.group != "" || res.Before["autoScalingGroup"] != "web-asg" {
		t.Fatalf("result %s %v, group %q; want remediated from web-asg", res.Status, res.Before, w.group)
	}
	if ops := e.Rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "autoscaling:DescribeAutoScalingInstances", "autoscaling:DetachInstances", "ec2:CreateTags"}) {
		t.Errorf("calls %v", ops)
	}
	if q := w.requests[0].(*autoscaling.DescribeAutoScalingInstancesInput); !slices.Equal(q.InstanceIds, []string{e.ID}) {
		t.Errorf("DescribeAutoScalingInstances %+v", q)
	}
	d := w.requests[1].(*autoscaling.DetachInstancesInput)
	if aws.ToString(d.AutoScalingGroupName) != "web-asg" || !slices.Equal(d.InstanceIds, []string{e.ID}) ||
		d.ShouldDecrementDesiredCapacity == nil || *d.ShouldDecrementDesiredCapacity {
		t.Errorf("DetachInstances %+v, want web-asg, the instance, ShouldDecrementDesiredCapacity=false", d)
	}
	if tags := e.KumoTags(t); tags[TagAutoScalingGroup] != "web-asg" || tags[bots.TagFindingID] != ec2test.FindingID {
		t.Errorf("instance tags %v", tags)
	}
	if _, found, _ := state.Get(t.Context(), "ec2_detach_from_autoscaling#"+bottest.Account+"#"+bottest.Region+"#"+e.ID); !found {
		t.Error("the group was not recorded in the state table")
	}
}

func TestEC2DetachFromAutoScaling_DetachingInstanceIsAlreadyDone(t *testing.T) {
	e, _ := newASGEnv(t, astypes.LifecycleStateDetaching)
	res, err := bottest.Run(t, "ec2_detach_from_autoscaling", e.Request(false))
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Errorf("result %+v, %v; want already-done", res, err)
	}
}

func TestEC2DetachFromAutoScaling_InstanceOutsideAnyGroupIsSkippedWithReason(t *testing.T) {
	e, w := newASGEnv(t, astypes.LifecycleStateInService)
	w.group = ""
	res, err := bottest.Run(t, "ec2_detach_from_autoscaling", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "not in an Auto Scaling group") {
		t.Errorf("result %s %q, %v; want skipped, not in a group", res.Status, res.Reason, err)
	}
}

func TestEC2DetachFromAutoScaling_PendingInstanceIsARetryableError(t *testing.T) {
	e, _ := newASGEnv(t, astypes.LifecycleStatePending)
	_, err := bottest.Run(t, "ec2_detach_from_autoscaling", e.Request(false))
	if k := faults.Classify(err); k != faults.Retryable {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Retryable)
	}
}
