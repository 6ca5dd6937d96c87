package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

func TestBuild_ListsEveryAttackSequenceMemberWithWhatWasDoneToIt(t *testing.T) {
	inst := finding.Member{Index: 0, Kind: finding.KindInstance, ID: "i-0a1b2c3d4e5f60718", Account: "444455556666", Region: "eu-west-1"}
	bucket := finding.Member{Index: 1, Kind: finding.KindS3Bucket, ID: "arn:aws:s3:::exports", Account: "111122223333", Region: "us-east-1"}
	vpc := finding.Member{Index: 2, Kind: finding.KindOther, ID: "vpc-0a1b2c3d", Account: "111122223333", Region: "us-east-1"}
	in := Input{
		Finding: &finding.Finding{ID: "as1", Type: "AttackSequence:S3/CompromisedData", Severity: 9.2, SeverityLabel: finding.SeverityCritical,
			AccountID: "111122223333", Region: "us-east-1", ResourceKind: finding.KindAttackSequence},
		Decision: &mapping.Decision{Outcome: mapping.Remediate, Verified: true,
			Actions: []mapping.Action{{Bot: "ec2_quarantine_instance", Mode: "APPROVE", Member: &inst}, {Bot: "s3_block_public_access", Mode: "APPROVE", Member: &bucket}},
			Members: []mapping.MemberPlan{
				{Member: inst, Type: "EC2_INSTANCE", Actions: []int{0}},
				{Member: bucket, Type: "S3_BUCKET", Actions: []int{1}, Notes: []string{"exempt: nothing"}},
				{Member: vpc, Type: "EC2_VPC", Notes: []string{"no action of mapping entry AttackSequence:* acts on Other members"}},
			}},
		Results: []bots.Result{
			{Bot: "ec2_quarantine_instance", Status: bots.StatusRemediated, Account: "444455556666", Region: "eu-west-1", Resources: []string{"i-0a1b2c3d4e5f60718"},
				Changes: []string{"eni-1: isolated"}},
			{Bot: "s3_block_public_access", Status: bots.StatusSkipped, Reason: "approval timed out after 3600 seconds: no action"},
		},
		Execution: Execution{ID: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:x"},
	}
	m, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var b Body
	if err := json.Unmarshal(m.Body, &b); err != nil {
		t.Fatal(err)
	}
	want := []MemberOutcome{
		{Member: "Instance i-0a1b2c3d4e5f60718 in 444455556666/eu-west-1", Type: "EC2_INSTANCE", Done: []string{"ec2_quarantine_instance: remediated; eni-1: isolated"}},
		{Member: "S3Bucket arn:aws:s3:::exports in 111122223333/us-east-1", Type: "S3_BUCKET", Done: []string{"s3_block_public_access: skipped: approval timed out after 3600 seconds: no action", "exempt: nothing"}},
		{Member: "Other vpc-0a1b2c3d in 111122223333/us-east-1", Type: "EC2_VPC", Done: []string{"no action of mapping entry AttackSequence:* acts on Other members"}},
	}
	got, _ := json.Marshal(b.Members)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("members\n got %s\nwant %s", got, exp)
	}
	if !strings.Contains(b.Summary, "ec2_quarantine_instance on i-0a1b2c3d4e5f60718 remediated, s3_block_public_access on arn:aws:s3:::exports skipped") {
		t.Errorf("summary %q", b.Summary)
	}
}

func TestBuildApprovalRequest_NamesThePairsMember(t *testing.T) {
	inst := finding.Member{Index: 3, Kind: finding.KindInstance, ID: "i-0a1b2c3d4e5f60718", Account: "444455556666", Region: "eu-west-1"}
	m, err := BuildApprovalRequest(ApprovalRequest{
		Finding: &finding.Finding{ID: "as1", Type: "AttackSequence:S3/CompromisedData", AccountID: "111122223333", Region: "us-east-1",
			ResourceKind: finding.KindAttackSequence, SeverityLabel: finding.SeverityCritical},
		Action:    mapping.Action{Bot: "ec2_quarantine_instance", Mode: "APPROVE", ApprovalTimeoutSeconds: 3600, Member: &inst},
		TaskToken: "AAAA", Execution: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:x",
	}, ApprovalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Body), "Instance i-0a1b2c3d4e5f60718 (attack sequence member 4) in 444455556666/eu-west-1") ||
		!strings.Contains(m.Subject, "i-0a1b2c3d4e5f60718") {
		t.Errorf("subject %q body %s", m.Subject, m.Body)
	}
}

func TestCloseOutcome_AnAttackSequenceIsHandledOnlyWhenEveryPairIs(t *testing.T) {
	inst := finding.Member{Index: 0, Kind: finding.KindInstance, ID: "i-0a1b2c3d4e5f60718", Account: "444455556666", Region: "eu-west-1"}
	key := finding.Member{Index: 1, Kind: finding.KindAccessKey, ID: "AKIAEXAMPLE", Account: "111122223333", Region: "us-east-1"}
	in := func(second bots.Status) Input {
		return Input{
			Decision: &mapping.Decision{Outcome: mapping.Remediate, Verified: true,
				Actions: []mapping.Action{{Bot: "ec2_quarantine_instance", Member: &inst}, {Bot: "iam_deactivate_access_key", Member: &key}},
				Members: []mapping.MemberPlan{{Member: inst, Actions: []int{0}}, {Member: key, Actions: []int{1}}}},
			Results: []bots.Result{{Bot: "ec2_quarantine_instance", Status: bots.StatusRemediated}, {Bot: "iam_deactivate_access_key", Status: second}},
		}
	}
	if got := CloseOutcome(in(bots.StatusSkipped)); got != OutcomePartial {
		t.Errorf("one pair denied: %s", got)
	}
	if got := CloseOutcome(in(bots.StatusAlreadyDone)); got != OutcomeRemediated {
		t.Errorf("every pair done: %s", got)
	}
	if got := OutcomeOf(in(bots.StatusSkipped)); got != OutcomeRemediated {
		t.Errorf("the message's outcome: %s", got)
	}
}
