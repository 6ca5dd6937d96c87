package botstep

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
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

// recordingResolver records the account and region each bot's credentials were asked for.
type recordingResolver struct {
	cfg   aws.Config
	where *[]string
}

func (r recordingResolver) ForBot(_ context.Context, _, _, account, region, _ string) (aws.Config, string, error) {
	*r.where = append(*r.where, account+"/"+region)
	return r.cfg, "", nil
}

// Each pair goes through the rails as its member: credentials for the member's account and region, its
// own exemption tag, and the audit record under its account and kind; an exempt member is skipped while
// the other is acted on.
func TestRails_AttackSequencePairsActInTheirMembersAccountAndHonourItsExemption(t *testing.T) {
	e := newRailsEnv(t)
	ctx := context.Background()
	cfg := kumoConfig(e.srv.URL)
	api := ec2.NewFromConfig(cfg)
	run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(2), MaxCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	acted, exemptID := aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{exemptID},
		Tags: []ec2types.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("build farm")}}}); err != nil {
		t.Fatal(err)
	}
	f := &finding.Finding{ID: "as-rails", Type: "AttackSequence:EC2/CompromisedHost", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		ResourceKind: finding.KindAttackSequence, Sequence: &finding.Sequence{Resources: []finding.SequenceResource{
			{Kind: finding.KindInstance, Type: "EC2_INSTANCE", ID: acted, Account: "444455556666", Region: "eu-west-1"},
			{Kind: finding.KindInstance, Type: "EC2_INSTANCE", ID: exemptID, Account: "555566667777", Region: "eu-central-1"},
		}}}
	b, _ := bots.Lookup("ec2_stop_instance")
	rails := e.rails()
	rails.Exempt = exempt.Check
	// Pairs run one after another (the Map runs one at a time): the audit sort key is the time, the bot
	// and the execution, so the clock moves between them as it does there.
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rails.Now = func() time.Time { t0 = t0.Add(time.Millisecond); return t0 }
	var where []string
	r := Runner{Bot: b, Resolver: recordingResolver{cfg: cfg, where: &where}, Rails: rails}
	pair := func(i int) steps.BotInput {
		m := finding.MemberOf(f, i)
		return steps.BotInput{Finding: f, Execution: "arn:exec:seq", Index: i, MappingKey: "AttackSequence:*",
			Action: mapping.Action{Bot: b.Name, Mode: "AUTO", Params: map[string]any{}, Member: &m}}
	}
	res, err := r.Run(ctx, pair(0))
	if err != nil || res.Status != bots.StatusRemediated || res.Account != "444455556666" || res.Region != "eu-west-1" {
		t.Fatalf("member 1: %+v %v", res, err)
	}
	res, err = r.Run(ctx, pair(1))
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "exempt: instance "+exemptID+" is tagged guardbots:exempt" {
		t.Fatalf("member 2: %+v %v", res, err)
	}
	if strings.Join(where, ",") != "444455556666/eu-west-1,555566667777/eu-central-1" {
		t.Errorf("credentials asked for %v", where)
	}
	recs := e.records(t, "as-rails")
	if len(recs) != 2 {
		t.Fatalf("audit %+v", recs)
	}
	for _, rec := range recs {
		if rec.Kind != "Instance" || rec.FindingType != f.Type || len(rec.ResourceIDs) != 1 ||
			(rec.ResourceIDs[0] == acted) != (rec.Account == "444455556666" && rec.Status == "remediated") {
			t.Errorf("audit record %+v", rec)
		}
	}
}
