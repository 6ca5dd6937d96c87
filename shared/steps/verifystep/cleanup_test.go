package verifystep

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

var cleanupNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// denyRecord is a deny bot's record of a deny on a principal of account 111122223333 expiring at
// expires.
func denyRecord(t *testing.T, bot, principal, name, findingID string, expires time.Time) (string, []byte) {
	t.Helper()
	kind := "session"
	if bot == "iam_deny_source_ip" {
		kind = "source-ip"
	}
	r := bots.DenyRecord{Bot: bot, FindingID: findingID, Account: "111122223333", Region: "us-east-1", Partition: "aws",
		Principal: principal, Name: name, Policy: "guardbots-deny-" + kind + "-" + findingID, AddedAt: expires.Add(-12 * time.Hour), ExpiresAt: expires}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return bots.DenyRecordKey(kind, "aws", "111122223333", principal, name, findingID), b
}

func cleanupVerifier(records map[string][]byte, s *fakeSigner) Verifier {
	return Verifier{Signer: s, Now: func() time.Time { return cleanupNow },
		Cleanup: &Cleanup{Records: func(context.Context) (map[string][]byte, error) { return records, nil }}}
}

// The schedule's request is recognized by parse and passed on by transform and match as itself — no
// finding, match's decision expire-denies — and nothing that merely resembles it is.
func TestSchedule_TheRequestPassesParseTransformAndMatchAsItself(t *testing.T) {
	ctx := context.Background()
	p, err := steps.Parse(ctx, steps.ScheduleRequest)
	if err != nil || p.Source != steps.SourceSchedule || p.Finding != nil {
		t.Fatalf("parse: %+v, %v", p, err)
	}
	tr, err := steps.Transform(ctx, p)
	if err != nil || tr.Scheduled != steps.TaskExpireDenies || tr.Finding != nil {
		t.Fatalf("transform: %+v, %v", tr, err)
	}
	for _, raw := range []string{
		`{"guardbots":"expire-denies","detail":{}}`,  // more than the request
		`{"guardbots":["expire-denies"]}`,            // not the task
		`{"guardbots":"expire-denies-and-stop-all"}`, // another task
	} {
		if p, err := steps.Parse(ctx, []byte(raw)); err == nil && p.Source == steps.SourceSchedule {
			t.Errorf("%s parsed as the schedule's request", raw)
		}
	}
}

// Verify plans the clean-up from the deny records alone: one pruneOnly action per principal with a
// deny that expired (the records of a principal together), each with a finding of its own naming that
// principal, signed for this execution. What the input says — a finding, a plan of its own — counts
// for nothing.
func TestCleanup_VerifyPlansFromTheRecordsAloneAndSignsEachAction(t *testing.T) {
	recs := map[string][]byte{}
	add := func(bot, principal, name, id string, expires time.Time) {
		k, b := denyRecord(t, bot, principal, name, id, expires)
		recs[k] = b
	}
	add("iam_deny_session", "role", "web-app-role", "f1", cleanupNow.Add(-time.Hour))     // expired
	add("iam_deny_source_ip", "role", "web-app-role", "f1", cleanupNow.Add(-2*time.Hour)) // expired, same role
	add("iam_deny_session", "user", "alice", "f2", cleanupNow.Add(-time.Minute))          // expired, a user
	add("iam_deny_session", "role", "ci-role", "f3", cleanupNow.Add(time.Hour))           // in force: kept
	add("iam_deny_session", "role", "gone-role", "f4", cleanupNow.Add(-25*time.Hour))     // past the grace: TTL's
	recs["iam-deny#session#aws#111122223333#role#x#f5"] = []byte("not json")
	k, b := denyRecord(t, "ec2_terminate_instance", "role", "web-app-role", "f6", cleanupNow.Add(-time.Hour))
	recs[k] = b // a bot that does not prune: never planned
	s := &fakeSigner{}
	v := cleanupVerifier(recs, s)
	forged := &finding.Finding{ID: "forged", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		ResourceKind: finding.KindAccessKey, AccessKey: &finding.AccessKey{UserName: "break-glass", UserType: finding.UserTypeRole}}
	in := Input{Execution: testExecution, Matched: steps.Matched{Finding: forged,
		Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies, Actions: []mapping.Action{{Bot: "iam_deny_session", Params: map[string]any{"pruneOnly": false}}}},
		Cleanup:  []steps.CleanupItem{{Finding: forged, Action: mapping.Action{Bot: "iam_deny_session", Params: map[string]any{"pruneOnly": false}}}}}}
	out, err := v.Verify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Finding != nil || out.Decision.Outcome != steps.OutcomeExpireDenies || !out.Decision.Verified || len(out.Cleanup) != 2 || len(s.signed) != 2 {
		t.Fatalf("plan %+v, signed %v", out, s.signed)
	}
	if !strings.Contains(out.Decision.Reason, "2 principal(s) with 3 expired IAM deny(s)") {
		t.Errorf("reason %q", out.Decision.Reason)
	}
	got := map[string]string{}
	for _, it := range out.Cleanup {
		f := it.Finding
		if f.Source != string(steps.SourceSchedule) || f.AccountID != "111122223333" || it.Index != 0 || it.MappingKey != steps.CleanupKey ||
			it.Action.Signature == nil || it.Action.Params[bots.PruneOnlyParam] != true || it.Action.Mode != string(mapping.ModeAuto) {
			t.Errorf("item %+v", it)
		}
		targets, err := finding.Targets(f)
		if err != nil || len(targets) != 1 {
			t.Fatalf("targets of %+v: %v, %v", f.AccessKey, targets, err)
		}
		got[targets[0].Where()] = it.Action.Bot
	}
	if len(got) != 2 || got["role web-app-role in 111122223333/us-east-1"] == "" || got["user alice in 111122223333/us-east-1"] != "iam_deny_session" {
		t.Errorf("planned %v, want web-app-role and alice", got)
	}
	for _, it := range out.Cleanup {
		if it.Finding.ID == "forged" || it.Finding.AccessKey.UserName == "break-glass" || it.Finding.AccessKey.UserName == "ci-role" {
			t.Errorf("planned %s", it.Finding.AccessKey.UserName)
		}
	}
	// The clean-up finding's id is the execution's and the principal's: another execution plans anew
	// (no claim of an earlier run stands in its way).
	v2 := cleanupVerifier(recs, &fakeSigner{})
	in.Execution = testExecution + "-next"
	out2, err := v2.Verify(context.Background(), in)
	if err != nil || len(out2.Cleanup) != 2 || out2.Cleanup[0].Finding.ID == out.Cleanup[0].Finding.ID {
		t.Errorf("next execution: %+v, %v", out2.Cleanup, err)
	}
}

// Nothing expired is an empty plan; the plan is capped per execution (the rest goes to the next run).
func TestCleanup_NothingDueAndTheCap(t *testing.T) {
	k, b := denyRecord(t, "iam_deny_session", "role", "r", "f1", cleanupNow.Add(time.Hour))
	out, err := cleanupVerifier(map[string][]byte{k: b}, &fakeSigner{}).Verify(context.Background(),
		Input{Execution: testExecution, Matched: steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies}}})
	if err != nil || len(out.Cleanup) != 0 || out.Decision.Reason != "no IAM deny has expired" {
		t.Fatalf("nothing due: %+v, %v", out, err)
	}
	recs := map[string][]byte{}
	for _, name := range []string{"a", "b", "c", "d"} {
		k, b := denyRecord(t, "iam_deny_session", "role", name, "f1", cleanupNow.Add(-time.Hour))
		recs[k] = b
	}
	v := cleanupVerifier(recs, &fakeSigner{})
	v.Cleanup.MaxActions = 3
	out, err = v.Verify(context.Background(), Input{Execution: testExecution, Matched: steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies}}})
	if err != nil || len(out.Cleanup) != 3 || !strings.Contains(out.Decision.Reason, "1 more principal(s) next time") {
		t.Fatalf("capped: %d, %q, %v", len(out.Cleanup), out.Decision.Reason, err)
	}
}

// A clean-up verify cannot plan fails closed: no state table, unreadable records, no execution to
// sign for, no signer.
func TestCleanup_FailsClosed(t *testing.T) {
	req := func(exec string) Input {
		return Input{Execution: exec, Matched: steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies}}}
	}
	ctx := context.Background()
	if _, err := (Verifier{}).Verify(ctx, req(testExecution)); err == nil || !strings.Contains(err.Error(), "no state table") {
		t.Errorf("no table: %v", err)
	}
	v := Verifier{Cleanup: &Cleanup{Records: func(context.Context) (map[string][]byte, error) {
		return nil, errors.New("AccessDeniedException: dynamodb:Scan")
	}}, Signer: &fakeSigner{}}
	if _, err := v.Verify(ctx, req(testExecution)); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("unreadable: %v", err)
	}
	if _, err := v.Verify(ctx, req("")); faults.Classify(err) != faults.Rejected {
		t.Errorf("no execution: %v", err)
	}
	k, b := denyRecord(t, "iam_deny_session", "role", "r", "f1", cleanupNow.Add(-time.Hour))
	v = cleanupVerifier(map[string][]byte{k: b}, nil)
	v.Signer = nil
	if _, err := v.Verify(ctx, req(testExecution)); err == nil || !strings.Contains(err.Error(), "no signer") {
		t.Errorf("no signer: %v", err)
	}
	v.Signer = &fakeSigner{err: errors.New("KMS: AccessDeniedException")}
	if _, err := v.Verify(ctx, req(testExecution)); err == nil {
		t.Error("a signing failure planned anyway")
	}
}

// A mapping may not ask for the clean-up's parameter, in either form.
func TestCleanup_AMappingCannotSetPruneOnly(t *testing.T) {
	for _, doc := range []string{
		`{"UnauthorizedAccess:IAMUser/*": "AUTO: iam_deny_session true"}`,
		`{"version": 1, "rules": [{"match": "UnauthorizedAccess:IAMUser/*", "actions": [{"bot": "iam_deny_source_ip", "params": {"pruneOnly": true}}]}]}`,
	} {
		if _, err := mapping.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "scheduled clean-up") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// The plan names only deny bots the deployment runs: a record of one disabled since it wrote the deny
// goes to a deployed deny bot (each removes expired denies of either kind), and with none deployed
// nothing is planned — never an action the workflow would answer with "Deny bot not deployed".
func TestCleanup_PlansOnlyDeployedDenyBots(t *testing.T) {
	recs := map[string][]byte{}
	k, b := denyRecord(t, "iam_deny_source_ip", "role", "web-app-role", "f1", cleanupNow.Add(-time.Hour))
	recs[k] = b
	for _, tc := range []struct {
		deployed []string
		want     string
	}{
		{[]string{"iam_deny_source_ip", "iam_deny_session"}, "iam_deny_source_ip"},
		{[]string{"notify_only", "iam_undo_deny_source_ip", "iam_deny_session"}, "iam_deny_session"},
		{[]string{"notify_only", "iam_undo_deny_source_ip"}, ""},
		{[]string{}, ""},
	} {
		s := &fakeSigner{}
		v := cleanupVerifier(recs, s)
		v.Cleanup.Deployed = tc.deployed
		out, err := v.Verify(context.Background(), Input{Execution: testExecution, Matched: steps.Matched{Decision: mapping.Decision{Outcome: steps.OutcomeExpireDenies}}})
		if err != nil {
			t.Fatalf("%v: %v", tc.deployed, err)
		}
		var got string
		if len(out.Cleanup) == 1 {
			got = out.Cleanup[0].Action.Bot
		}
		if got != tc.want || len(out.Cleanup) > 1 || len(s.signed) != len(out.Cleanup) {
			t.Errorf("deployed %v: planned %+v, want %q", tc.deployed, out.Cleanup, tc.want)
		}
	}
}
