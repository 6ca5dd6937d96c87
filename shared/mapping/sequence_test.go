package mapping

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/org"
)

// sequenceFinding is the project's attack-sequence fixture (written from the API model): two buckets
// and a role's access key in 111122223333/us-east-1, an instance in 444455556666/eu-west-1, a VPC.
func sequenceFinding(t *testing.T) *finding.Finding {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", "attack_sequence_s3_members.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := guardduty.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := finding.FromGuardDuty(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const sequenceRule = `{"version": 1, "rules": [{"match": "AttackSequence:*", %s "actions": [
  {"bot": "ec2_tag_instance"}, {"bot": "ec2_quarantine_instance"}, {"bot": "s3_block_public_access"},
  {"bot": "iam_revoke_role_sessions"}, {"bot": "notify_only"}]}]%s}`

func pairs(d Decision) []string {
	var out []string
	for _, a := range d.Actions {
		s := a.Bot + " " + a.Mode
		if a.Member != nil {
			s += " " + a.Member.ID + " " + a.Member.Account + "/" + a.Member.Region
		}
		out = append(out, s)
	}
	return out
}

func TestDecide_AttackSequenceTurnsActionsIntoMemberPairsApproveByDefault(t *testing.T) {
	f := sequenceFinding(t)
	d := mustParse(t, strings.Replace(strings.Replace(sequenceRule, "%s", "", 1), "%s", "", 1)).Match(f, MatchOptions{})
	want := []string{
		"ec2_tag_instance APPROVE i-0a1b2c3d4e5f60718 444455556666/eu-west-1",
		"ec2_quarantine_instance APPROVE i-0a1b2c3d4e5f60718 444455556666/eu-west-1",
		"s3_block_public_access APPROVE arn:aws:s3:::payments-exports-111122223333 111122223333/us-east-1",
		"s3_block_public_access APPROVE arn:aws:s3:::customer-records-111122223333 111122223333/us-east-1",
		// The access key's role is in the sequence (its actor's session); the instance's is not (a member
		// names no instance profile).
		"iam_revoke_role_sessions APPROVE ASIAQEXAMPLE7WEBAPP1 111122223333/us-east-1",
		"notify_only AUTO",
	}
	if d.Outcome != Remediate || strings.Join(pairs(d), "\n") != strings.Join(want, "\n") {
		t.Fatalf("decision %s: %s\n got %q\nwant %q", d.Outcome, d.Reason, pairs(d), want)
	}
	if !strings.Contains(d.Reason, "AUTO by default is APPROVE") || d.Actions[0].ApprovalTimeoutSeconds != DefaultApprovalTimeoutSeconds {
		t.Errorf("reason %q, timeout %d", d.Reason, d.Actions[0].ApprovalTimeoutSeconds)
	}
	// Every member is listed, with its pairs or why it has none.
	if len(d.Members) != 5 {
		t.Fatalf("members %+v", d.Members)
	}
	inst := d.Members[3]
	if inst.Kind != finding.KindInstance || len(inst.Actions) != 2 || d.Actions[inst.Actions[1]].Bot != "ec2_quarantine_instance" ||
		!strings.Contains(strings.Join(inst.Notes, ";"), "iam_revoke_role_sessions not planned: instance i-0a1b2c3d4e5f60718 has no instance profile") {
		t.Errorf("instance member %+v", inst)
	}
	if vpc := d.Members[4]; vpc.Type != "EC2_VPC" || len(vpc.Actions) != 0 || !strings.Contains(strings.Join(vpc.Notes, ";"), "no action of mapping entry AttackSequence:* acts on Other members") {
		t.Errorf("vpc member %+v", vpc)
	}
}

func TestDecide_AttackSequenceExplicitAutoStaysAuto(t *testing.T) {
	f := sequenceFinding(t)
	doc := strings.Replace(strings.Replace(sequenceRule, "%s", `"mode": "AUTO",`, 1), "%s", "", 1)
	d := mustParse(t, doc).Match(f, MatchOptions{})
	for _, a := range d.Actions {
		if a.Mode != "AUTO" || a.ApprovalTimeoutSeconds != 0 {
			t.Errorf("action %+v", a)
		}
	}
}

func TestDecide_AttackSequenceMembersOfProtectedAccountsAreNotPaired(t *testing.T) {
	f := sequenceFinding(t)
	// The instance's account by the mapping, the buckets' by the deployment.
	doc := strings.Replace(strings.Replace(sequenceRule, "%s", "", 1), "%s", `, "defaults": {"protectedAccounts": ["444455556666"]}`, 1)
	d := mustParse(t, doc).Match(f, MatchOptions{ProtectedAccounts: map[string]bool{"111122223333": true}})
	if got := pairs(d); len(got) != 1 || got[0] != "notify_only AUTO" {
		t.Errorf("pairs %q", got)
	}
	for _, mp := range d.Members[:4] {
		if len(mp.Notes) != 1 || !strings.HasPrefix(mp.Notes[0], "exempt: account "+mp.Account+" is protected") {
			t.Errorf("member %+v", mp)
		}
	}
}

func TestDecide_AttackSequenceProtectedOUIsLookedUpPerMemberAccount(t *testing.T) {
	f := sequenceFinding(t)
	fx, err := org.ParseFixture([]byte(`{"accounts": {
	  "111122223333": {"name": "sec", "ouPath": ["r-ab12", "ou-ab12-sand0000"]},
	  "444455556666": {"name": "prod", "ouPath": ["r-ab12", "ou-ab12-prod0000"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, strings.Replace(strings.Replace(sequenceRule, "%s", "", 1), "%s", `, "defaults": {"protectedOUs": ["ou-ab12-prod0000"]}`, 1))
	d, err := m.Decide(context.Background(), f, MatchOptions{Org: fx})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Actions {
		if a.Member != nil && a.Member.Account == "444455556666" {
			t.Errorf("pair in the protected OU: %+v", a)
		}
	}
	if n := d.Members[3].Notes; len(n) != 1 || n[0] != "exempt: account 444455556666 is in protected OU ou-ab12-prod0000" {
		t.Errorf("instance notes %q", n)
	}
	// No lookup: the decision stops (fail closed), it does not act on a member it cannot place.
	if _, err := m.Decide(context.Background(), f, MatchOptions{}); err == nil || !strings.Contains(err.Error(), "member 1") {
		t.Errorf("err = %v", err)
	}
}

func TestDecide_AttackSequenceMalformedMemberIsNotPaired(t *testing.T) {
	f := sequenceFinding(t)
	f.Sequence.Resources[3].ID = "i-0a1b; rm -rf /"
	f.Sequence.Resources[0].ID = "arn:aws:s3:::other-bucket"
	d := mustParse(t, strings.Replace(strings.Replace(sequenceRule, "%s", "", 1), "%s", "", 1)).Match(f, MatchOptions{})
	for _, a := range d.Actions {
		if a.Member != nil && (a.Member.Index == 3 || a.Member.Index == 0) {
			t.Errorf("malformed member paired: %+v", a)
		}
	}
	if n := strings.Join(d.Members[3].Notes, ";"); !strings.Contains(n, "not a valid instance") {
		t.Errorf("instance notes %q", n)
	}
	if n := strings.Join(d.Members[0].Notes, ";"); !strings.Contains(n, "does not name bucket") {
		t.Errorf("bucket notes %q", n)
	}
}

func TestDecide_AttackSequencePairsAreCapped(t *testing.T) {
	f := sequenceFinding(t)
	base := f.Sequence.Resources[3]
	f.Sequence.Resources = nil
	for i := range 30 {
		r := base
		r.ID = "i-0a1b2c3d4e5f6" + strings.Repeat("0", 3) + string(rune('a'+i%6)) + string(rune('a'+i/6))
		f.Sequence.Resources = append(f.Sequence.Resources, r)
	}
	d := mustParse(t, `{"version": 1, "rules": [{"match": "AttackSequence:*", "approvalTimeoutSeconds": 86400, "actions": [{"bot": "ec2_tag_instance"}]}]}`).Match(f, MatchOptions{})
	// A day each, one after another, within a 7-day execution: 6.
	if len(d.Actions) != 6 || !strings.Contains(d.Reason, "24 more pairs not planned: at most 6") {
		t.Errorf("%d actions, reason %q", len(d.Actions), d.Reason)
	}
	if n := d.Members[29].Notes; len(n) != 1 || !strings.Contains(n[0], "at most 6 (action, member) pairs") {
		t.Errorf("notes %q", n)
	}
	d = mustParse(t, `{"version": 1, "rules": [{"match": "AttackSequence:*", "mode": "DRYRUN", "actions": [{"bot": "ec2_tag_instance"}]}]}`).Match(f, MatchOptions{})
	if len(d.Actions) != MaxSequencePairs {
		t.Errorf("%d actions", len(d.Actions))
	}
}

// The default mapping's rule for attack sequences, on the fixture: evidence and isolation of the
// instance, the access key's own session denied (not every session of its role: the default mapping
// never revokes a whole role's), each APPROVE; the
// buckets and the VPC listed with why nothing is planned for them.
func TestDefault_AttackSequencePairs(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	d := m.Match(sequenceFinding(t), MatchOptions{})
	want := []string{
		"ec2_create_snapshot APPROVE i-0a1b2c3d4e5f60718 444455556666/eu-west-1",
		"ec2_quarantine_instance APPROVE i-0a1b2c3d4e5f60718 444455556666/eu-west-1",
		"iam_deny_session APPROVE ASIAQEXAMPLE7WEBAPP1 111122223333/us-east-1",
		"notify_only AUTO",
	}
	if d.Outcome != Remediate || strings.Join(pairs(d), "\n") != strings.Join(want, "\n") {
		t.Fatalf("decision %s: %s\n got %q\nwant %q", d.Outcome, d.Reason, pairs(d), want)
	}
	// The role's key is not an IAM user's: deactivating it is not planned, and the member says why.
	if n := strings.Join(d.Members[2].Notes, ";"); !strings.Contains(n, "iam_deactivate_access_key not planned") {
		t.Errorf("access key notes %q", n)
	}
	if n := strings.Join(d.Members[0].Notes, ";"); !strings.Contains(n, "acts on S3Bucket members") {
		t.Errorf("bucket notes %q", n)
	}
}

// Past MaxSequenceMembers the list keeps every member a pair acts on: the notification names each.
func TestDecide_AttackSequenceListsEveryPairedMemberPastTheListLimit(t *testing.T) {
	f := sequenceFinding(t)
	vpc, inst := f.Sequence.Resources[4], f.Sequence.Resources[3]
	f.Sequence.Resources = nil
	for range MaxSequenceMembers + 10 {
		f.Sequence.Resources = append(f.Sequence.Resources, vpc)
	}
	f.Sequence.Resources = append(f.Sequence.Resources, inst)
	d := mustParse(t, `{"version": 1, "rules": [{"match": "AttackSequence:*", "actions": [{"bot": "ec2_tag_instance"}]}]}`).Match(f, MatchOptions{})
	if len(d.Actions) != 1 || len(d.Members) != MaxSequenceMembers+1 || d.Members[MaxSequenceMembers].ID != inst.ID ||
		d.Members[MaxSequenceMembers].Actions[0] != 0 || !strings.Contains(d.Reason, "61 members (51 listed)") {
		t.Errorf("%d actions, %d members, reason %q", len(d.Actions), len(d.Members), d.Reason)
	}
}
