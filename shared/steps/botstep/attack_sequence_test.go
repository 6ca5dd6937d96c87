package botstep

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/steps"
)

// sequence is GuardDuty's copy of an attack sequence whose one instance member is the stand's instance.
func (s *stand) sequence() *finding.Finding {
	return &finding.Finding{ID: s.finding().ID, Type: "AttackSequence:EC2/CompromisedHost", Severity: 9.2, SeverityLabel: finding.SeverityCritical,
		AccountID: "111122223333", Region: "us-east-1", Partition: "aws", ResourceKind: finding.KindAttackSequence, ResourceType: "AttackSequence",
		Sequence: &finding.Sequence{Resources: []finding.SequenceResource{
			{Kind: finding.KindOther, Type: "EC2_VPC", ID: "vpc-0a1b2c3d", Account: "111122223333", Region: "us-east-1"},
			{Kind: finding.KindInstance, Type: "EC2_INSTANCE", ID: s.instance, Account: "111122223333", Region: "us-east-1"},
		}}}
}

// signedPair is the workflow's own input for the (stop, member 1) pair: what verify signed.
func (s *stand) signedPair() steps.BotInput {
	s.t.Helper()
	f := s.sequence()
	m := finding.MemberOf(f, 1)
	a := stopAction("AUTO")
	a.Member = &m
	in := steps.BotInput{Finding: f, Execution: s.execution, Index: 0, MappingKey: "AttackSequence:*", Action: a}
	if err := s.local.Sign(context.Background(), &in); err != nil {
		s.t.Fatal(err)
	}
	return in
}

// Whoever can invoke a bot Lambda tries to make a signed (action, member) pair act on an instance
// GuardDuty's sequence does not name: by editing the member, the finding's member list, or both. Each
// is refused; the victim keeps running; the signed pair itself stops only its member.
func TestAttack_ForgedAttackSequenceMemberIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	run, err := s.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	victim := aws.ToString(run.Instances[0].InstanceId)
	victimRuns := func(what string) {
		d, err := s.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{victim}})
		if err != nil {
			t.Fatal(err)
		}
		if st := d.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameRunning {
			t.Errorf("%s: the victim is %s", what, st)
		}
	}

	// The signed member swapped for the victim, at the same place or at another.
	in := s.signedPair()
	in.Action.Member.ID = victim
	s.refused("the member edited", in, logs)
	in = s.signedPair()
	in.Action.Member.Index = 0
	s.refused("another member of the sequence", in, logs)
	// The finding's member edited to match: the finding is no longer the one verify signed.
	in = s.signedPair()
	in.Finding.Sequence.Resources[1].ID, in.Action.Member.ID = victim, victim
	s.refused("the finding's member and the action's edited alike", in, logs)
	// A forged member added to the finding, and the pair pointed at it.
	in = s.signedPair()
	in.Finding.Sequence.Resources = append(in.Finding.Sequence.Resources, finding.SequenceResource{Kind: finding.KindInstance,
		Type: "EC2_INSTANCE", ID: victim, Account: "111122223333", Region: "us-east-1"})
	m := finding.MemberOf(in.Finding, 2)
	in.Action.Member = &m
	s.refused("a forged member appended", in, logs)
	// The signed pair without its member: the sequence as a whole is not an instance finding.
	in = s.signedPair()
	in.Action.Member = nil
	s.refused("the member removed", in, logs)
	victimRuns("after the attacks")

	// The control: the signed pair stops its member, in the member's account, and only it.
	res, err := s.invoke(s.signedPair())
	if err != nil || res.Status != bots.StatusRemediated || s.state() != ec2types.InstanceStateNameStopped {
		t.Fatalf("the signed pair: %+v %v, member %s", res, err, s.state())
	}
	if len(res.Resources) != 1 || res.Resources[0] != s.instance || res.Account != "111122223333" {
		t.Errorf("result %+v", res)
	}
	victimRuns("after the signed pair")
	recs := s.rails.records(t, s.finding().ID)
	if len(recs) != 1 || recs[0].Kind != string(finding.KindInstance) || len(recs[0].ResourceIDs) != 1 || recs[0].ResourceIDs[0] != s.instance {
		t.Errorf("audit %+v", recs)
	}
}
