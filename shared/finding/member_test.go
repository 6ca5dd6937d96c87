package finding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/guardduty"
)

func membersFixture(t *testing.T) *Finding {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", "attack_sequence_s3_members.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := guardduty.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := FromGuardDuty(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Each member resolves to targets in its own account and region through the same tables as any finding.
func TestMemberView_ResolvesEachMemberInItsOwnAccountAndRegion(t *testing.T) {
	f := membersFixture(t)
	want := []string{
		"bucket payments-exports-111122223333 in 111122223333/us-east-1 arn:aws:s3:::payments-exports-111122223333",
		"bucket customer-records-111122223333 in 111122223333/us-east-1 arn:aws:s3:::customer-records-111122223333",
		// The key's session says whose it is: the role, and the session itself (iam_deny_session's target).
		"role web-app-role in 111122223333/us-east-1  | session AROAQEXAMPLEROLEID001:i-0a1b2c3d4e5f60718 in 111122223333/us-east-1 ",
		"instance i-0a1b2c3d4e5f60718 in 444455556666/eu-west-1 arn:aws:ec2:eu-west-1:444455556666:instance/i-0a1b2c3d4e5f60718",
		"", // a VPC: no target
	}
	for i := range f.Sequence.Resources {
		v, err := MemberView(f, MemberOf(f, i))
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		ts, err := Targets(v)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		var got []string
		for _, t := range ts {
			got = append(got, t.Where()+" "+t.ARN)
		}
		if strings.Join(got, " | ") != want[i] {
			t.Errorf("member %d: %q, want %q", i, got, want[i])
		}
		if v.Sequence != nil || v.Action != nil || v.ID != f.ID {
			t.Errorf("member %d view %+v", i, v)
		}
	}
}

func TestMemberView_RejectsAMemberTheSequenceDoesNotHoldThere(t *testing.T) {
	f := membersFixture(t)
	for name, m := range map[string]Member{
		"another id":      {Index: 3, Kind: KindInstance, ID: "i-0fedcba9876543210", Account: "444455556666", Region: "eu-west-1"},
		"another account": {Index: 3, Kind: KindInstance, ID: "i-0a1b2c3d4e5f60718", Account: "111122223333", Region: "eu-west-1"},
		"another kind":    {Index: 4, Kind: KindInstance, ID: "vpc-0a1b2c3d", Account: "111122223333", Region: "us-east-1"},
		"out of range":    {Index: 5, Kind: KindInstance, ID: "i-0a1b2c3d4e5f60718", Account: "444455556666", Region: "eu-west-1"},
		"negative":        {Index: -1},
	} {
		if _, err := MemberView(f, m); faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	g := *f
	g.ResourceKind = KindInstance
	if _, err := MemberView(&g, MemberOf(f, 3)); faults.Classify(err) != faults.Rejected {
		t.Errorf("not a sequence: err = %v", err)
	}
}

func TestMemberView_ChecksARNsAgainstTheMember(t *testing.T) {
	f := membersFixture(t)
	for i, id := range map[int]string{
		3: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60718", // another account's
		0: "arn:aws:s3:::payments-exports-111122223333/key",                  // an object, not the bucket
	} {
		f.Sequence.Resources[i].ID = id
		if _, err := MemberView(f, MemberOf(f, i)); faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "ARN") {
			t.Errorf("member %d %s: err = %v", i, id, err)
		}
	}
}

// A sequence naming more than MaxSequenceItems of a list keeps the first ones and counts the rest: the
// finding travels in every state of the workflow.
func TestSequence_KeepsAtMostMaxSequenceItemsOfEachListAndCountsTheRest(t *testing.T) {
	q := &guardduty.Sequence{}
	for range MaxSequenceItems + 30 {
		q.Resources = append(q.Resources, guardduty.SequenceResource{UID: "i-0a1b2c3d4e5f60718", ResourceType: "EC2_INSTANCE"})
	}
	for range MaxSequenceItems + 5 {
		q.Endpoints = append(q.Endpoints, guardduty.NetworkEndpoint{Domain: "x.example"})
	}
	s := sequence(q, &Finding{AccountID: "111122223333", Region: "us-east-1"})
	if len(s.Resources) != MaxSequenceItems || len(s.Endpoints) != MaxSequenceItems || s.Omitted != 35 {
		t.Errorf("%d resources, %d endpoints, %d omitted", len(s.Resources), len(s.Endpoints), s.Omitted)
	}
}
