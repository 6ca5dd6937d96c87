package demo

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

// The hourly clean-up of expired IAM denies, end to end in kumo with the real bootstraps and the
// committed definition: the schedule's request goes through parse, transform and match as itself,
// verify plans from the state table's records (a DynamoDB Scan in kumo) and signs with kumo's KMS, and
// iam_deny_session removes from the role the one deny whose tokens have all expired — written here as
// the bot would have written it 13 hours ago, with its record — while the credential finding's two
// live denies stay. Then, with nothing due, a second run ends quietly.
func TestWorkflow_TheScheduledCleanupRemovesOnlyTheExpiredDeny(t *testing.T) {
	s := newStack(t, Options{})
	wantClean(t, runFinding(t, s, "iam_instance_credential_exfiltration"), Expectations(false)["iam_instance_credential_exfiltration"])
	ctx := context.Background()
	if err := s.PlantExpiredDeny(ctx); err != nil {
		t.Fatal(err)
	}
	policy := ExpiredDenyPolicy
	key := bots.DenyRecordKey("session", "aws", Account, "role", s.Resources.RoleName, ExpiredDenyFinding)
	if st := readBack(t, s); len(st.Denies) != 3 {
		t.Fatalf("before the clean-up: %q", st.Denies)
	}

	ex := run(t, s, "expire_denies", steps.ScheduleRequest)
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("clean-up execution %s (%s: %s), calls %v", ex.Status, ex.Error, ex.Cause, ex.Calls())
	}
	wantCalls(t, ex, "parse", "transform", "match", "verify", "iam_deny_session", "notify")
	wantClean(t, ex, Expectations(false)[CleanupScene])
	st := readBack(t, s)
	if bad := Expectations(false)[CleanupScene].Resource(st); bad != "" {
		t.Error(bad)
	}
	if len(st.Denies) != 2 || slices.ContainsFunc(st.Denies, func(d string) bool { return strings.HasPrefix(d, policy) }) {
		t.Errorf("after the clean-up the role holds %q: want the two live denies only", st.Denies)
	}
	if _, found, err := s.StateTable().Get(ctx, key); err != nil || found {
		t.Errorf("the expired deny's record: found %v (%v)", found, err)
	}
	recs, err := statetable.ScanPrefix(ctx, s.StateTable().Client.(statetable.ScanAPI), s.Table, bots.DenyRecordPrefix)
	if err != nil || len(recs) != 2 {
		t.Errorf("deny records left %d (%v), want the two live ones", len(recs), err)
	}
	n := oneNotification(t, ex)
	if n.Outcome != "remediated" || !strings.Contains(n.Subject, "clean-up of expired IAM denies") || len(n.Body.Actions) != 1 ||
		!slices.ContainsFunc(n.Body.Actions[0].Changes, func(c string) bool { return strings.Contains(c, "removed the expired session deny "+policy) }) {
		t.Errorf("notification %q %q %+v", n.Subject, n.Outcome, n.Body.Actions)
	}

	again := run(t, s, "expire_denies_again", steps.ScheduleRequest)
	if again.Status != "SUCCEEDED" || len(again.Notifications) != 0 {
		t.Fatalf("second run %s, %d notification(s)", again.Status, len(again.Notifications))
	}
	wantCalls(t, again, "parse", "transform", "match", "verify")
	if st := readBack(t, s); len(st.Denies) != 2 {
		t.Errorf("after the second run: %q", st.Denies)
	}
}
