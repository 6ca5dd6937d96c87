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
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
)

// snapshotWorld fakes the EC2 calls kumo lacks for ec2_create_snapshot: the instance's block devices
// (kumo's RunInstances keeps none), DescribeSnapshots with its tag and volume filters, and CreateSnapshot.
type snapshotWorld struct {
	mu        sync.Mutex
	instance  *ec2types.Instance
	snapshots []ec2types.Snapshot
	requests  []any // DescribeSnapshots and CreateSnapshot inputs, in order
}

func newSnapshotWorld(id string) *snapshotWorld {
	return &snapshotWorld{instance: &ec2types.Instance{
		InstanceId: aws.String(id),
		State:      &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning},
		BlockDeviceMappings: []ec2types.InstanceBlockDeviceMapping{
			{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsInstanceBlockDevice{VolumeId: aws.String("vol-0aaa")}},
			{DeviceName: aws.String("/dev/sdf"), Ebs: &ec2types.EbsInstanceBlockDevice{VolumeId: aws.String("vol-0bbb")}},
		},
	}}
}

func (w *snapshotWorld) stubs() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		ec2test.LiveInstanceStub(func() *ec2types.Instance { return w.instance }),
		bottest.StubCall("ec2:DescribeSnapshots", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			q := in.(*ec2.DescribeSnapshotsInput)
			w.requests = append(w.requests, q)
			var out []ec2types.Snapshot
			for _, s := range w.snapshots {
				if snapshotMatches(s, q.Filters) {
					out = append(out, s)
				}
			}
			return &ec2.DescribeSnapshotsOutput{Snapshots: out}, nil
		}),
		bottest.StubCall("ec2:CreateSnapshot", func(in any) (any, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			q := in.(*ec2.CreateSnapshotInput)
			w.requests = append(w.requests, q)
			s := ec2types.Snapshot{
				SnapshotId: aws.String(fmt.Sprintf("snap-%04d", len(w.snapshots)+1)), VolumeId: q.VolumeId,
				State: ec2types.SnapshotStatePending, Tags: q.TagSpecifications[0].Tags,
			}
			w.snapshots = append(w.snapshots, s)
			return &ec2.CreateSnapshotOutput{SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, State: s.State}, nil
		}),
	}
}

func snapshotMatches(s ec2types.Snapshot, filters []ec2types.Filter) bool {
	for _, f := range filters {
		name := aws.ToString(f.Name)
		var have string
		switch {
		case name == "volume-id":
			have = aws.ToString(s.VolumeId)
		case strings.HasPrefix(name, "tag:"):
			have = ec2instance.TagValues(s.Tags)[strings.TrimPrefix(name, "tag:")]
		default:
			panic("unexpected filter " + name)
		}
		if !slices.Contains(f.Values, have) {
			return false
		}
	}
	return true
}

func newSnapshotEnv(t *testing.T, extra ...func(*middleware.Stack) error) (ec2test.Env, *snapshotWorld) {
	t.Helper()
	// kumo assigns the instance id: the world learns it once the env is up.
	w := newSnapshotWorld("")
	e := ec2test.NewEnv(t, "ec2_create_snapshot", append(extra, w.stubs()...)...)
	w.instance.InstanceId = aws.String(e.ID)
	return e, w
}

func (w *snapshotWorld) state() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprint(len(w.snapshots), " snapshots")
}

var _ = bottest.RegisterContract("ec2_create_snapshot", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, w := newSnapshotEnv(t, stubs...)
		world := e.World(w.state)
		world.Gone = func(*bots.Request) { w.instance = nil }
		return world
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:CreateSnapshot",
	Throttle: "ec2:DescribeSnapshots",
})

func TestEC2CreateSnapshot_SnapshotsEveryVolumeTaggedWithFindingAndDevice(t *testing.T) {
	e, w := newSnapshotEnv(t)
	res, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	if want := map[string]string{"vol-0aaa": "snap-0001", "vol-0bbb": "snap-0002"}; fmt.Sprint(res.After) != fmt.Sprint(want) {
		t.Errorf("after = %v, want %v", res.After, want)
	}
	if want := []string{e.ID, "vol-0aaa", "vol-0bbb", "snap-0001", "snap-0002"}; !slices.Equal(res.Resources, want) {
		t.Errorf("resources = %v, want %v", res.Resources, want)
	}
	if ops := e.Rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateSnapshot"}) {
		t.Errorf("calls %v", ops)
	}
	// The exact requests: one lookup over both volumes filtered by this finding's tag, then one
	// tagged snapshot per volume in device order.
	q := w.requests[0].(*ec2.DescribeSnapshotsInput)
	if !slices.Equal(q.OwnerIds, []string{"self"}) || len(q.Filters) != 2 ||
		aws.ToString(q.Filters[0].Name) != "tag:"+bots.TagFindingID || !slices.Equal(q.Filters[0].Values, []string{ec2test.FindingID}) ||
		aws.ToString(q.Filters[1].Name) != "volume-id" || !slices.Equal(q.Filters[1].Values, []string{"vol-0aaa", "vol-0bbb"}) {
		t.Errorf("DescribeSnapshots input %+v", q)
	}
	for i, want := range []struct{ vol, dev string }{{"vol-0aaa", "/dev/xvda"}, {"vol-0bbb", "/dev/sdf"}} {
		c := w.requests[i+1].(*ec2.CreateSnapshotInput)
		if aws.ToString(c.VolumeId) != want.vol || len(c.TagSpecifications) != 1 || c.TagSpecifications[0].ResourceType != ec2types.ResourceTypeSnapshot {
			t.Errorf("CreateSnapshot %d: %+v", i, c)
			continue
		}
		tags := ec2instance.TagValues(c.TagSpecifications[0].Tags)
		for k, v := range map[string]string{bots.TagFindingID: ec2test.FindingID, bots.TagBot: "ec2_create_snapshot", TagSnapshotInstance: e.ID, TagSnapshotDevice: want.dev, bots.TagExecution: bottest.Execution} {
			if tags[k] != v {
				t.Errorf("snapshot of %s: tag %s = %q, want %q", want.vol, k, tags[k], v)
			}
		}
		if !strings.Contains(aws.ToString(c.Description), ec2test.FindingID) {
			t.Errorf("description %q does not name the finding", aws.ToString(c.Description))
		}
	}
}

func TestEC2CreateSnapshot_SecondRunReportsTheSnapshotsAlreadyTaken(t *testing.T) {
	e, w := newSnapshotEnv(t)
	if _, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false)); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone || len(w.snapshots) != 2 {
		t.Fatalf("second run %s, %d snapshots; want already-done and still 2", res.Status, len(w.snapshots))
	}
	if res.After["vol-0aaa"] != "snap-0001" || res.After["vol-0bbb"] != "snap-0002" {
		t.Errorf("already-done result does not report the snapshot ids: %v", res.After)
	}
}

func TestEC2CreateSnapshot_OnlyTheVolumeWithoutASnapshotIsSnapshotted(t *testing.T) {
	e, w := newSnapshotEnv(t)
	w.snapshots = []ec2types.Snapshot{
		{SnapshotId: aws.String("snap-old"), VolumeId: aws.String("vol-0aaa"), State: ec2types.SnapshotStateCompleted,
			Tags: []ec2types.Tag{{Key: aws.String(bots.TagFindingID), Value: aws.String(ec2test.FindingID)}}},
		// Another finding's snapshot and a failed one are not this finding's evidence.
		{SnapshotId: aws.String("snap-other"), VolumeId: aws.String("vol-0bbb"), State: ec2types.SnapshotStateCompleted,
			Tags: []ec2types.Tag{{Key: aws.String(bots.TagFindingID), Value: aws.String("another-finding")}}},
		{SnapshotId: aws.String("snap-err"), VolumeId: aws.String("vol-0bbb"), State: ec2types.SnapshotStateError,
			Tags: []ec2types.Tag{{Key: aws.String(bots.TagFindingID), Value: aws.String(ec2test.FindingID)}}},
	}
	res, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.After["vol-0aaa"] != "snap-old" || res.After["vol-0bbb"] != "snap-0004" {
		t.Errorf("result %s %v, want remediated with snap-old kept and a new snapshot of vol-0bbb", res.Status, res.After)
	}
	if n := strings.Count(strings.Join(e.Rec.Ops(), " "), "ec2:CreateSnapshot"); n != 1 {
		t.Errorf("%d CreateSnapshot calls, want 1", n)
	}
}

func TestEC2CreateSnapshot_InstanceWithoutEBSVolumesIsSkipped(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_create_snapshot") // kumo's instances have no block devices
	res, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no EBS volume") {
		t.Errorf("result %s %q, err %v; want skipped, no EBS volume", res.Status, res.Reason, err)
	}
}

func TestEC2CreateSnapshot_AccessDeniedIsAFailedErrorNamingSnapshotsTakenSoFar(t *testing.T) {
	calls := 0
	deny := bottest.StubCall("ec2:CreateSnapshot", func(in any) (any, error) {
		calls++
		if calls == 1 {
			return &ec2.CreateSnapshotOutput{SnapshotId: aws.String("snap-first")}, nil
		}
		return nil, bottest.APIError("UnauthorizedOperation", "You are not authorized to perform this operation.")
	})
	e, _ := newSnapshotEnv(t, deny)
	_, err := bottest.Run(t, "ec2_create_snapshot", e.Request(false))
	ec2test.AssertFailed(t, err, e.ID, "UnauthorizedOperation")
	if err != nil && !strings.Contains(err.Error(), "snap-first") {
		t.Errorf("error %q does not say which snapshot was taken", err)
	}
}
