package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

const testProfileArn = "arn:aws:iam::111122223333:instance-profile/web-server"

// profileWorld fakes the instance profile association calls kumo lacks (it answers them with 400).
type profileWorld struct {
	mu       sync.Mutex
	assoc    *ec2types.IamInstanceProfileAssociation
	requests []any
}

func (w *profileWorld) stubs() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("ec2:DescribeIamInstanceProfileAssociations", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.requests = append(w.requests, in)
			out := &ec2.DescribeIamInstanceProfileAssociationsOutput{}
			if w.assoc != nil {
				out.IamInstanceProfileAssociations = []ec2types.IamInstanceProfileAssociation{*w.assoc}
			}
			return out, nil
		}),
		bottest.StubCall("ec2:DisassociateIamInstanceProfile", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.requests = append(w.requests, in)
			if w.assoc == nil || aws.ToString(in.(*ec2.DisassociateIamInstanceProfileInput).AssociationId) != aws.ToString(w.assoc.AssociationId) {
				return nil, bottest.APIError("InvalidAssociationID.NotFound", "not found")
			}
			w.assoc = nil
			return &ec2.DisassociateIamInstanceProfileOutput{}, nil
		}),
	}
}

func newProfileEnv(t *testing.T, extra ...func(*middleware.Stack) error) (ec2test.Env, *profileWorld) {
	t.Helper()
	w := &profileWorld{}
	e := ec2test.NewEnv(t, "ec2_detach_instance_profile", append(extra, w.stubs()...)...)
	w.assoc = &ec2types.IamInstanceProfileAssociation{
		AssociationId: aws.String("iip-assoc-0123"), InstanceId: aws.String(e.ID),
		IamInstanceProfile: &ec2types.IamInstanceProfile{Arn: aws.String(testProfileArn)},
		State:              ec2types.IamInstanceProfileAssociationStateAssociated,
	}
	return e, w
}

func (w *profileWorld) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprint("associated=", w.assoc != nil)
}

var _ = bottest.RegisterContract("ec2_detach_instance_profile", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, w := newProfileEnv(t, stubs...)
		return e.World(w.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:DisassociateIamInstanceProfile",
	Throttle: "ec2:DescribeIamInstanceProfileAssociations",
})

func TestEC2DetachInstanceProfile_RemovesProfileAndRecordsItForRestore(t *testing.T) {
	e, w := newProfileEnv(t)
	state := &ec2test.UndoState{}
	req := e.Request(false)
	req.State = state
	res, err := bottest.Run(t, "ec2_detach_instance_profile", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || w.assoc != nil {
		t.Fatalf("status %s, association %v; want remediated and gone", res.Status, w.assoc)
	}
	if res.Before["instanceProfileArn"] != testProfileArn || res.Before["associationId"] != "iip-assoc-0123" {
		t.Errorf("before = %v, want the removed profile ARN", res.Before)
	}
	if ops := e.Rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "ec2:DescribeIamInstanceProfileAssociations", "ec2:DisassociateIamInstanceProfile", "ec2:CreateTags"}) {
		t.Errorf("calls %v", ops)
	}
	q := w.requests[0].(*ec2.DescribeIamInstanceProfileAssociationsInput)
	if len(q.Filters) != 2 || aws.ToString(q.Filters[0].Name) != "instance-id" || !slices.Equal(q.Filters[0].Values, []string{e.ID}) ||
		aws.ToString(q.Filters[1].Name) != "state" || !slices.Equal(q.Filters[1].Values, []string{"associated"}) {
		t.Errorf("DescribeIamInstanceProfileAssociations input %+v", q)
	}
	if d := w.requests[1].(*ec2.DisassociateIamInstanceProfileInput); aws.ToString(d.AssociationId) != "iip-assoc-0123" {
		t.Errorf("disassociated %q", aws.ToString(d.AssociationId))
	}
	doc, found, _ := state.Get(context.Background(), "ec2_detach_instance_profile#"+bottest.Account+"#"+bottest.Region+"#"+e.ID)
	var rec removedProfile
	if !found || json.Unmarshal(doc, &rec) != nil || rec.ProfileArn != testProfileArn || rec.FindingID != ec2test.FindingID {
		t.Errorf("state table holds %s (found %v), want the removed profile", doc, found)
	}
	if tags := e.KumoTags(t); tags[bots.TagFindingID] != ec2test.FindingID || tags[bots.TagBot] != "ec2_detach_instance_profile" {
		t.Errorf("instance tags %v", tags)
	}
}

func TestEC2DetachInstanceProfile_RemovedByOthersMeanwhileIsAlreadyDone(t *testing.T) {
	e, w := newProfileEnv(t, bottest.StubError("ec2:DisassociateIamInstanceProfile", "InvalidAssociationID.NotFound", "gone"))
	res, err := bottest.Run(t, "ec2_detach_instance_profile", e.Request(false))
	if err != nil || res.Status != bots.StatusAlreadyDone || w.assoc == nil {
		t.Errorf("result %+v, %v; want already-done", res, err)
	}
	if slices.Contains(e.Rec.Ops(), "ec2:CreateTags") {
		t.Error("tagged an instance this run did not change")
	}
}
