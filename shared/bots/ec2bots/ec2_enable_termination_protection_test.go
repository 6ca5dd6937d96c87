package ec2bots

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

// attrWorld fakes DescribeInstanceAttribute and ModifyInstanceAttribute, which kumo lacks.
type attrWorld struct {
	mu        sync.Mutex
	protected bool
	shutdown  string
	modifies  []*ec2.ModifyInstanceAttributeInput
	described []ec2types.InstanceAttributeName
}

func (w *attrWorld) stubs() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("ec2:DescribeInstanceAttribute", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			q := in.(*ec2.DescribeInstanceAttributeInput)
			w.described = append(w.described, q.Attribute)
			return &ec2.DescribeInstanceAttributeOutput{
				InstanceId:                        q.InstanceId,
				DisableApiTermination:             &ec2types.AttributeBooleanValue{Value: aws.Bool(w.protected)},
				InstanceInitiatedShutdownBehavior: &ec2types.AttributeValue{Value: aws.String(w.shutdown)},
			}, nil
		}),
		bottest.StubCall("ec2:ModifyInstanceAttribute", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			q := in.(*ec2.ModifyInstanceAttributeInput)
			w.modifies = append(w.modifies, q)
			if q.DisableApiTermination != nil {
				w.protected = aws.ToBool(q.DisableApiTermination.Value)
			}
			if q.InstanceInitiatedShutdownBehavior != nil {
				w.shutdown = aws.ToString(q.InstanceInitiatedShutdownBehavior.Value)
			}
			return &ec2.ModifyInstanceAttributeOutput{}, nil
		}),
	}
}

func newProtectEnv(t *testing.T, w *attrWorld, extra ...func(*middleware.Stack) error) ec2test.Env {
	t.Helper()
	return ec2test.NewEnv(t, "ec2_enable_termination_protection", append(extra, w.stubs()...)...)
}

func (w *attrWorld) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprint("protected=", w.protected, " shutdown=", w.shutdown)
}

var _ = bottest.RegisterContract("ec2_enable_termination_protection", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		w := &attrWorld{shutdown: "terminate"}
		return newProtectEnv(t, w, stubs...).World(w.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:ModifyInstanceAttribute",
	Throttle: "ec2:DescribeInstanceAttribute",
})

func TestEC2EnableTerminationProtection_ProtectsAndStopsOnShutdownInOrder(t *testing.T) {
	w := &attrWorld{shutdown: "terminate"}
	e := newProtectEnv(t, w)
	res, err := bottest.Run(t, "ec2_enable_termination_protection", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || !w.protected || w.shutdown != "stop" {
		t.Fatalf("status %s, protected %v, shutdown %s", res.Status, w.protected, w.shutdown)
	}
	if want := []ec2types.InstanceAttributeName{"disableApiTermination", "instanceInitiatedShutdownBehavior"}; !slices.Equal(w.described, want) {
		t.Errorf("read %v, want %v", w.described, want)
	}
	if len(w.modifies) != 2 || w.modifies[0].DisableApiTermination == nil || w.modifies[0].InstanceInitiatedShutdownBehavior != nil ||
		w.modifies[1].InstanceInitiatedShutdownBehavior == nil || w.modifies[1].DisableApiTermination != nil ||
		aws.ToString(w.modifies[0].InstanceId) != e.ID || aws.ToString(w.modifies[1].InstanceId) != e.ID {
		t.Errorf("modify requests %+v, want protection then shutdown behavior, one attribute each", w.modifies)
	}
	if res.Before["disableApiTermination"] != "false" || res.Before["instanceInitiatedShutdownBehavior"] != "terminate" ||
		res.After["disableApiTermination"] != "true" || res.After["instanceInitiatedShutdownBehavior"] != "stop" {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
	if tags := e.KumoTags(t); tags[bots.TagFindingID] != ec2test.FindingID {
		t.Errorf("instance tags %v", tags)
	}
}

func TestEC2EnableTerminationProtection_ModifiesOnlyWhatDiffers(t *testing.T) {
	w := &attrWorld{protected: true, shutdown: "terminate"}
	e := newProtectEnv(t, w)
	if _, err := bottest.Run(t, "ec2_enable_termination_protection", e.Request(false)); err != nil {
		t.Fatal(err)
	}
	if len(w.modifies) != 1 || w.modifies[0].InstanceInitiatedShutdownBehavior == nil {
		t.Errorf("modify requests %+v, want only the shutdown behavior", w.modifies)
	}
}

func TestEC2EnableTerminationProtection_SpotInstanceIsSkipped(t *testing.T) {
	w := &attrWorld{}
	e := newProtectEnv(t, w, ec2test.LiveInstanceStub(func() *ec2types.Instance {
		return &ec2types.Instance{InstanceId: aws.String("i-0123456789abcdef0"), InstanceLifecycle: ec2types.InstanceLifecycleTypeSpot,
			State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning}}
	}))
	req := e.Request(false)
	req.Finding.Instance.ID = "i-0123456789abcdef0"
	res, err := bottest.Run(t, "ec2_enable_termination_protection", req)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "Spot") || len(w.described) != 0 {
		t.Errorf("result %s %q, err %v; want skipped as Spot before any attribute call", res.Status, res.Reason, err)
	}
}
