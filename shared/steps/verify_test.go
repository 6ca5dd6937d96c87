package steps

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/verify"
)

type fakeChecker struct {
	verdict verify.Verdict
	err     error
	calls   int
}

func (c *fakeChecker) Check(context.Context, *finding.Finding) (verify.Verdict, error) {
	c.calls++
	return c.verdict, c.err
}

func remediateDecision() Matched {
	return Matched{Finding: ec2Finding(), Decision: mapping.Decision{Outcome: mapping.Remediate, Key: "k", Reason: "mapping entry k is AUTO",
		Actions: []mapping.Action{{Bot: "ec2_stop_instance", Mode: "AUTO"}}}}
}

func TestVerifier_ForgedFindingIsRejectedSoNoBotRuns(t *testing.T) {
	c := &fakeChecker{err: faults.Rejectf("verify: finding f disagrees with GuardDuty: type: input \"A\", GuardDuty \"B\"")}
	_, err := Verifier{Checker: c}.Verify(context.Background(), remediateDecision())
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "disagrees with GuardDuty") {
		t.Fatalf("err %v", err)
	}
	// At the Lambda boundary the rejection is Guardbots.Rejected: the state machine's Verify failed →
	// Notify path, which runs no bot (statemachine TestExecute_ForgedFindingRunsNoBot).
	h := Lambda("verify", Verifier{Checker: c}.Verify)
	_, err = h.Invoke(context.Background(), mustJSON(t, remediateDecision()))
	if ie := invokeErr(t, err); ie.Type != string(faults.Rejected) {
		t.Errorf("errorType %s", ie.Type)
	}
}

func TestVerifier_ThrottledCheckStaysThrottled(t *testing.T) {
	c := &fakeChecker{err: &faults.Error{Kind: faults.Throttled, Err: errors.New("verify: GetFindings: ThrottlingException")}}
	_, err := Verifier{Checker: c}.Verify(context.Background(), remediateDecision())
	if faults.Classify(err) != faults.Throttled {
		t.Fatalf("err %v classified %s", err, faults.Classify(err))
	}
}

func TestVerifier_GenuineFindingKeepsTheDecisionAndSaysItWasConfirmed(t *testing.T) {
	c := &fakeChecker{verdict: verify.Verdict{DetectorID: "det", Region: "us-east-1"}}
	out, err := Verifier{Checker: c}.Verify(context.Background(), remediateDecision())
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Outcome != mapping.Remediate || len(out.Decision.Actions) != 1 ||
		!strings.Contains(out.Decision.Verification, "confirmed by GuardDuty (detector det in us-east-1)") {
		t.Errorf("decision %+v", out.Decision)
	}
}

func TestVerifier_ArchivedInGuardDutyBecomesASkip(t *testing.T) {
	c := &fakeChecker{verdict: verify.Verdict{DetectorID: "det", Region: "us-east-1", Archived: true}}
	out, err := Verifier{Checker: c}.Verify(context.Background(), remediateDecision())
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Outcome != mapping.Skip || len(out.Decision.Actions) != 0 || !strings.Contains(out.Decision.Reason, "archived in GuardDuty") {
		t.Errorf("decision %+v", out.Decision)
	}
}

func TestVerifier_DisabledSaysSoAndCallsNothing(t *testing.T) {
	c := &fakeChecker{err: errors.New("must not be called")}
	out, err := Verifier{Checker: c, Disabled: true}.Verify(context.Background(), remediateDecision())
	if err != nil || c.calls != 0 || out.Decision.Verification != "not checked: GUARDBOTS_VERIFY_FINDINGS=false" {
		t.Fatalf("out %+v err %v calls %d", out.Decision, err, c.calls)
	}
}

func TestVerifier_NotifyAndSkipDecisionsNeedNoCheck(t *testing.T) {
	c := &fakeChecker{err: errors.New("must not be called")}
	for _, o := range []mapping.Outcome{mapping.NotifyOnly, mapping.Skip} {
		in := Matched{Finding: ec2Finding(), Decision: mapping.Decision{Outcome: o, Actions: []mapping.Action{}}}
		if _, err := (Verifier{Checker: c}).Verify(context.Background(), in); err != nil || c.calls != 0 {
			t.Errorf("%s: err %v calls %d", o, err, c.calls)
		}
	}
}

type fakeCloser struct {
	outcome string
	done    []string
	err     error
}

func (c *fakeCloser) Close(_ context.Context, _ *finding.Finding, outcome, _ string) ([]string, error) {
	c.outcome = outcome
	return c.done, c.err
}

func TestNotifier_ClosedFindingIsReportedInTheMessage(t *testing.T) {
	p := &fakePublisher{}
	c := &fakeCloser{done: []string{"GuardDuty feedback USEFUL"}}
	in := notify.Input{Finding: ec2Finding(), Decision: &mapping.Decision{Outcome: mapping.Remediate},
		Results: []bots.Result{{Bot: "ec2_stop_instance", Status: "remediated"}}, Execution: notify.Execution{ID: "x"}}
	if _, err := (Notifier{Publisher: p, Closer: c}).Notify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if c.outcome != notify.OutcomeRemediated || !strings.Contains(string(p.msgs[len(p.msgs)-1].Body), `"closure":{"done":["GuardDuty feedback USEFUL"]}`) {
		t.Errorf("outcome %s, body %s", c.outcome, p.msgs[len(p.msgs)-1].Body)
	}
}

func TestNotifier_FailureToCloseIsReportedNotFatal(t *testing.T) {
	p := &fakePublisher{}
	c := &fakeCloser{err: errors.New("close: AccessDenied")}
	in := notify.Input{Finding: ec2Finding(), Results: []bots.Result{{Bot: "ec2_stop_instance", Status: "remediated"}}}
	out, err := (Notifier{Publisher: p, Closer: c}).Notify(context.Background(), in)
	if err != nil || out.Failed {
		t.Fatalf("out %+v err %v", out, err)
	}
	if !strings.Contains(string(p.msgs[len(p.msgs)-1].Body), `"error":"close: AccessDenied"`) {
		t.Errorf("body %s", p.msgs[len(p.msgs)-1].Body)
	}
}

func TestMatcher_ProtectedAccountFromTheEnvironmentIsExempt(t *testing.T) {
	prot, _ := mapping.ParseAccountList("111122223333")
	m := Matcher{Mappings: StaticMapping{M: defaultMapping(t)}, Options: mapping.MatchOptions{ProtectedAccounts: prot}}
	f, d, err := Decide(context.Background(), fixture(t, "envelope_sns_string.json"), defaultMapping(t), mapping.MatchOptions{})
	if err != nil || d.Outcome != mapping.Remediate {
		t.Fatalf("fixture decision %+v %v", d, err)
	}
	out, err := m.Match(context.Background(), Transformed{Finding: f})
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Outcome != mapping.Skip || out.Decision.Reason != "exempt: account 111122223333 is protected" {
		t.Errorf("decision %+v", out.Decision)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
