package ec2bots

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

// newTerminateEnv is kumo (which terminates for real but keeps no termination protection) with
// DescribeInstanceAttribute stubbed to report protection as given.
func newTerminateEnv(t *testing.T, protected bool, extra ...func(*middleware.Stack) error) ec2test.Env {
	t.Helper()
	attr := bottest.StubCall("ec2:DescribeInstanceAttribute", func(in any) (any, error) {
		q := in.(*ec2.DescribeInstanceAttributeInput)
		if q.Attribute != ec2types.InstanceAttributeNameDisableApiTermination {
			t.Errorf("read attribute %s, want disableApiTermination", q.Attribute)
		}
		return &ec2.DescribeInstanceAttributeOutput{InstanceId: q.InstanceId, DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(protected)}}, nil
	})
	return ec2test.NewEnv(t, "ec2_terminate_instance", append(extra, attr)...)
}

var _ = bottest.RegisterContract("ec2_terminate_instance", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		return newTerminateEnv(t, false, stubs...).World()
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:TerminateInstances",
	Throttle: "ec2:DescribeInstances",
})

func TestEC2TerminateInstance_TerminatesUnprotectedInstance(t *testing.T) {
	e := newTerminateEnv(t, false)
	res, err := bottest.Run(t, "ec2_terminate_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["state"] != "running" {
		t.Fatalf("result %s %v, want remediated from running", res.Status, res.Before)
	}
	if s := e.KumoState(t); s != ec2types.InstanceStateNameTerminated && s != ec2types.InstanceStateNameShuttingDown {
		t.Errorf("instance is %s, want terminated", s)
	}
	if ops := e.Rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:TerminateInstances"}) {
		t.Errorf("calls %v", ops)
	}
}

func TestEC2TerminateInstance_ProtectedInstanceIsSkippedAndProtectionKept(t *testing.T) {
	e := newTerminateEnv(t, true)
	res, err := bottest.Run(t, "ec2_terminate_instance", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "termination protection") {
		t.Fatalf("result %s %q, err %v; want skipped for termination protection", res.Status, res.Reason, err)
	}
	if s := e.KumoState(t); s != ec2types.InstanceStateNameRunning {
		t.Errorf("instance is %s, want running", s)
	}
	if slices.Contains(e.Rec.Ops(), "ec2:TerminateInstances") || slices.Contains(e.Rec.Ops(), "ec2:ModifyInstanceAttribute") {
		t.Errorf("calls %v: must neither terminate nor touch protection", e.Rec.Ops())
	}
}

func TestEC2TerminateInstance_ProtectionTurnedOnMeanwhileIsSkipped(t *testing.T) {
	e := newTerminateEnv(t, false, bottest.StubError("ec2:TerminateInstances", "OperationNotPermitted", "The instance may not be terminated. Modify its 'disableApiTermination' instance attribute and try again."))
	res, err := bottest.Run(t, "ec2_terminate_instance", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("result %+v, %v; want skipped", res, err)
	}
}
