package verifystep

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
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

func remediateDecision() steps.Matched {
	return steps.Matched{Finding: ec2Finding(), Decision: mapping.Decision{Outcome: mapping.Remediate, Key: "k", Reason: "mapping entry k is AUTO",
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
	h := steps.Lambda("verify", Verifier{Checker: c}.Verify)
	_, err = h.Invoke(context.Background(), mustJSON(t, remediateDecision()))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != string(faults.Rejected) {
		t.Errorf("error %T %v, want an InvokeResponse_Error of type %s", err, err, faults.Rejected)
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
		in := steps.Matched{Finding: ec2Finding(), Decision: mapping.Decision{Outcome: o, Actions: []mapping.Action{}}}
		if _, err := (Verifier{Checker: c}).Verify(context.Background(), in); err != nil || c.calls != 0 {
			t.Errorf("%s: err %v calls %d", o, err, c.calls)
		}
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

func ec2Finding() *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: "444455556666", Region: "eu-west-1", Partition: "aws",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}
}
