package verifystep

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// attackSequence is GuardDuty's copy of an attack sequence: one compromised instance and a VPC.
func attackSequence() *finding.Finding {
	return &finding.Finding{ID: "as1", Type: "AttackSequence:EC2/CompromisedHost", Severity: 9.2, SeverityLabel: finding.SeverityCritical,
		AccountID: "444455556666", Region: "eu-west-1", Partition: "aws", UpdatedAt: "2026-03-01T11:00:00Z", Source: "eventbridge",
		ResourceKind: finding.KindAttackSequence, ResourceType: "AttackSequence", ResourceRole: "TARGET",
		Sequence: &finding.Sequence{UID: "seq-1", Resources: []finding.SequenceResource{
			{Kind: finding.KindInstance, Type: "EC2_INSTANCE", ID: "i-0a1b2c3d4e5f60718", Account: "444455556666", Region: "eu-west-1"},
			{Kind: finding.KindOther, Type: "EC2_VPC", ID: "vpc-0a1b2c3d", Account: "444455556666", Region: "eu-west-1"},
		}}}
}

// A forged member in the input (an instance the sender wants isolated, added to GuardDuty's sequence)
// reaches match's decision on the input, and no further: verify decides again on GuardDuty's copy, and
// signs only pairs of GuardDuty's members.
func TestVerifier_ForgedAttackSequenceMemberInTheInputIsNotPlanned(t *testing.T) {
	m, err := mapping.Parse([]byte(`{"version": 1, "rules": [{"match": "AttackSequence:*", "actions": [{"bot": "ec2_quarantine_instance"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	in := attackSequence()
	in.Sequence.Resources = append(in.Sequence.Resources,
		finding.SequenceResource{Kind: finding.KindInstance, Type: "EC2_INSTANCE", ID: "i-0fedcba9876543210", Account: "444455556666", Region: "eu-west-1"})
	before := m.Match(in, mapping.MatchOptions{})
	if len(before.Actions) != 2 || before.Actions[1].Member.ID != "i-0fedcba9876543210" {
		t.Fatalf("match's decision on the input: %+v", before.Actions)
	}
	c := &fakeFetcher{copy: attackSequence()}
	v := Verifier{Checker: c, Mappings: mapping.Static{M: m}, Options: mapping.MatchOptions{MaxAge: 24 * time.Hour}, Now: func() time.Time { return now }}
	out, err := v.Verify(context.Background(), Input{Matched: steps.Matched{Finding: in, Decision: before}, Execution: testExecution})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decision
	if out.Finding != c.copy || d.Outcome != mapping.Remediate || len(d.Actions) != 1 {
		t.Fatalf("decision %+v", d)
	}
	if mb := d.Actions[0].Member; mb == nil || mb.ID != "i-0a1b2c3d4e5f60718" || mb.Index != 0 || d.Actions[0].Mode != "APPROVE" {
		t.Errorf("pair %+v", d.Actions[0])
	}
	if len(d.Members) != 2 || !strings.Contains(d.Verification, "attack sequence members") {
		t.Errorf("members %+v, verification %q", d.Members, d.Verification)
	}
}
