package botstep

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/steps/matchstep"
	"github.com/guardbots/guardbots/shared/steps/verifystep"
)

// The scheduled clean-up of expired IAM denies, from the schedule's request to the bot, against kumo:
// IAM (the role and its inline policies), DynamoDB (the deny records, the claims, the audit trail), KMS
// (verify's signature) and Step Functions (the running execution). Its "fake clock" is the data: the
// denies and their records are written as a deny bot would have written them hours ago, one whose
// tokens have all expired and one still in force.

// cleanupStand is a role with an expired and a live session deny, their records, and the plan key.
type cleanupStand struct {
	t             *testing.T
	rails         *railsEnv
	local         *plantest.Local
	iam           *iam.Client
	table         *statetable.Table
	role, other   string
	expired, kept string // finding ids of the two denies
	runner        Runner
}

func newCleanupStand(t *testing.T) *cleanupStand {
	t.Helper()
	ctx := context.Background()
	e := newRailsEnv(t)
	cfg := kumoConfig(e.srv.URL)
	l, err := plantest.New(ctx, cfg, "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	// kumo's IAM is shared by every server in the process: names of this test's own.
	suffix := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	suffix = suffix[max(0, len(suffix)-30):]
	s := &cleanupStand{t: t, rails: e, local: l, iam: iam.NewFromConfig(cfg),
		table: &statetable.Table{Client: e.ddb, Name: e.state.Name},
		role:  "web-" + suffix, other: "glass-" + suffix, expired: "a1b2c3d4e5f60718293a4b5c6d7e8f90", kept: "0f9e8d7c6b5a49382716f5e4d3c2b1a0"}
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range []string{s.role, s.other} {
		out, err := s.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.Role.RoleId)
		// Tokens issued before now-13h are all gone (a 1-hour role: max(1h, 12h) after); now-1h is not.
		s.deny(r, id, s.expired, now.Add(-13*time.Hour), now.Add(-time.Hour))
		s.deny(r, id, s.kept, now.Add(-time.Hour), now.Add(11*time.Hour))
	}
	b, _ := bots.Lookup("iam_deny_session")
	s.runner = Runner{Bot: b, Resolver: kumoResolver{cfg}, State: s.table, Rails: e.rails(), Plan: l.Verifier()}
	return s
}

// deny writes, as iam_deny_session would have, the session deny of finding id on role, and its record.
// Only the record on s.role counts for planning: the other role's record is not written, so nothing
// plans a clean-up of it.
func (s *cleanupStand) deny(role, roleID, id string, issuedBefore, expires time.Time) {
	ctx := context.Background()
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"GuardbotsDenySession%s","Effect":"Deny","Action":"*","Resource":"*",`+
		`"Condition":{"StringEquals":{"aws:userId":"%s:i-0123456789abcdef0"},"DateLessThan":{"aws:TokenIssueTime":"%s"}}}]}`,
		id, roleID, issuedBefore.Format(time.RFC3339))
	name := "guardbots-deny-session-" + id
	if _, err := s.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		s.t.Fatal(err)
	}
	if role != s.role {
		return
	}
	rec, _ := json.Marshal(bots.DenyRecord{Bot: "iam_deny_session", FindingID: id, FindingType: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
		Account: "111122223333", Region: "us-east-1", Partition: "aws", Principal: "role", Name: role, Policy: name, Document: doc,
		AddedAt: issuedBefore, ExpiresAt: expires})
	if err := s.table.PutExpiring(ctx, bots.DenyRecordKey("session", "aws", "111122223333", "role", role, id), rec, expires.Add(bots.DenyRecordGrace)); err != nil {
		s.t.Fatal(err)
	}
}

// policies are the inline policy names of role.
func (s *cleanupStand) policies(role string) []string {
	s.t.Helper()
	out, err := s.iam.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Sort(out.PolicyNames)
	return out.PolicyNames
}

func (s *cleanupStand) untouched(what string) {
	s.t.Helper()
	want := []string{"guardbots-deny-session-" + s.kept, "guardbots-deny-session-" + s.expired}
	slices.Sort(want)
	for _, r := range []string{s.role, s.other} {
		if got := s.policies(r); !slices.Equal(got, want) {
			s.t.Fatalf("%s: role %s holds %v, want both denies untouched", what, r, got)
		}
	}
}

// plan runs the schedule's request through parse, transform, match and verify (records from kumo's
// state table, signed with kumo's KMS) for execution.
func (s *cleanupStand) plan(execution string) steps.Matched {
	s.t.Helper()
	ctx := context.Background()
	p, err := steps.Parse(ctx, steps.ScheduleRequest)
	if err != nil {
		s.t.Fatal(err)
	}
	tr, err := steps.Transform(ctx, p)
	if err != nil {
		s.t.Fatal(err)
	}
	m, err := matchstep.Matcher{}.Match(ctx, tr)
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := s.verifier().Verify(ctx, verifystep.Input{Matched: m, Execution: execution})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// verifier is verify as the Lambda builds it: deny records from kumo's state table, kumo's KMS key.
func (s *cleanupStand) verifier() verifystep.Verifier {
	return verifystep.Verifier{Signer: s.local.Signer(), Cleanup: &verifystep.Cleanup{Records: func(ctx context.Context) (map[string][]byte, error) {
		return statetable.ScanPrefix(ctx, s.rails.ddb, s.table.Name, bots.DenyRecordPrefix)
	}}}
}

func item(it steps.CleanupItem, execution string) steps.BotInput {
	return steps.BotInput{Finding: it.Finding, Action: it.Action, Index: it.Index, MappingKey: it.MappingKey, Execution: execution}
}

// The schedule's execution removes exactly the deny that expired, on the principal its record names,
// with the deny bot's own role and under every rail: the live deny stays, the other role (no record)
// is not touched, the record goes, the audit trail says what was removed.
func TestCleanup_TheScheduledExecutionRemovesOnlyTheExpiredDeny(t *testing.T) {
	s := newCleanupStand(t)
	ctx := context.Background()
	execution, err := s.local.Start(ctx, "cleanup-"+s.expired[:8])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.local.Stop(context.Background(), execution) })
	planned := s.plan(execution)
	if len(planned.Cleanup) != 1 || planned.Cleanup[0].Finding.AccessKey.UserName != s.role {
		t.Fatalf("plan %+v", planned)
	}
	it := planned.Cleanup[0]
	res, err := s.runner.Run(ctx, item(it, execution))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("clean-up: %+v, %v", res, err)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool {
		return strings.Contains(c, "removed the expired session deny guardbots-deny-session-"+s.expired)
	}) {
		t.Errorf("changes %q", res.Changes)
	}
	if got := s.policies(s.role); !slices.Equal(got, []string{"guardbots-deny-session-" + s.kept}) {
		t.Errorf("role %s holds %v, want only the live deny", s.role, got)
	}
	if got := s.policies(s.other); len(got) != 2 {
		t.Errorf("role %s, which no record names, holds %v", s.other, got)
	}
	recs, err := statetable.ScanPrefix(ctx, s.rails.ddb, s.table.Name, bots.DenyRecordPrefix)
	if err != nil || len(recs) != 1 {
		t.Errorf("records left %v, %v; want the live deny's", recs, err)
	}
	audit := s.rails.records(t, it.Finding.ID)
	if len(audit) != 1 || audit[0].Status != string(bots.StatusRemediated) {
		t.Errorf("audit %+v", audit)
	}
	// Started again at once (anyone allowed to start an execution can), nothing is due: nothing planned,
	// the live deny stays.
	again, err := s.local.Start(ctx, "cleanup-again-"+s.expired[:8])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.local.Stop(context.Background(), again) })
	if p := s.plan(again); len(p.Cleanup) != 0 {
		t.Errorf("second run planned %+v", p.Cleanup)
	}
	if got := s.policies(s.role); len(got) != 1 {
		t.Errorf("after the second run: %v", got)
	}
}

// Who could drive the clean-up path, and with what: an invoker of the deny bot's Lambda with a
// clean-up of their own, or with verify's plan edited; a clean-up finding made to write a deny; a
// finding's action turned into a clean-up; verify's plan replayed after its execution. Each is
// refused before any AWS call, and both roles keep both denies.
func TestCleanup_TheAttacksOnTheCleanupPathAreRefused(t *testing.T) {
	s := newCleanupStand(t)
	ctx := context.Background()
	execution, err := s.local.Start(ctx, "cleanup-attack-"+s.expired[:8])
	if err != nil {
		t.Fatal(err)
	}
	planned := s.plan(execution)
	if len(planned.Cleanup) != 1 {
		t.Fatalf("plan %+v", planned)
	}
	legit := item(planned.Cleanup[0], execution)
	refused := func(what string, in steps.BotInput, want string) {
		t.Helper()
		res, err := s.runner.Run(ctx, in)
		if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %+v, %v; want refused (%s)", what, res, err, want)
		}
		s.untouched(what)
	}
	// A clean-up of the attacker's own, unsigned, on the other role.
	forged := legit
	f := *legit.Finding
	f.AccessKey = &finding.AccessKey{UserName: s.other, UserType: finding.UserTypeRole, RawUserType: "Role"}
	forged.Finding, forged.Action.Signature = &f, nil
	refused("an unsigned clean-up", forged, "signature")
	// Verify's signed clean-up, its principal changed to the other role.
	edited := legit
	edited.Finding = &f
	refused("the signed clean-up aimed at another role", edited, "signature")
	// Verify's signed clean-up, turned into a write (pruneOnly off).
	write := legit
	write.Action.Params = map[string]any{bots.PruneOnlyParam: false}
	refused("the signed clean-up made a write", write, "signature")
	// Should verify ever sign them, a clean-up finding that would write a deny, and a finding's action
	// with the clean-up's parameter, are refused by the runner itself.
	signedWrite := write
	if err := s.local.Sign(ctx, &signedWrite); err != nil {
		t.Fatal(err)
	}
	refused("a signed clean-up finding without pruneOnly", signedWrite, "may only remove expired denies")
	gd := legit
	g := *legit.Finding
	g.Source, g.ID = "guardduty", "7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51"
	gd.Finding, gd.MappingKey = &g, "UnauthorizedAccess:IAMUser/*"
	if err := s.local.Sign(ctx, &gd); err != nil {
		t.Fatal(err)
	}
	refused("a finding's signed action with pruneOnly", gd, "is the scheduled clean-up's")
	// A schedule's request is planned by verify, never by whatever arrives as the plan.
	m := steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies}, Cleanup: []steps.CleanupItem{{Finding: &f, Action: legit.Action}}}
	out, err := s.verifier().Verify(ctx, verifystep.Input{Matched: m, Execution: execution})
	if err != nil || len(out.Cleanup) != 1 || out.Cleanup[0].Finding.AccessKey.UserName != s.role {
		t.Fatalf("verify kept the input's plan: %+v, %v", out.Cleanup, err)
	}
	// Verify's own plan, replayed once its execution has ended.
	if err := s.local.Stop(ctx, execution); err != nil {
		t.Fatal(err)
	}
	refused("the plan replayed after its execution", legit, "")
	if recs := s.rails.records(t, legit.Finding.ID); len(recs) != 0 {
		t.Errorf("audit records of refused inputs: %+v", recs)
	}
}
