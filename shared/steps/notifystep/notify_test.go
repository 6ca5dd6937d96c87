package notifystep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/steps"
)

type fakePublisher struct{ msgs []notify.Message }

func (p *fakePublisher) Publish(_ context.Context, m notify.Message) (string, error) {
	p.msgs = append(p.msgs, m)
	return "msg-1", nil
}

func TestNotifier_FailedOutcomesEndTheExecutionFailed(t *testing.T) {
	f := ec2Finding()
	d := &mapping.Decision{Outcome: mapping.Remediate, Actions: []mapping.Action{{Bot: "a"}, {Bot: "b"}}}
	cases := map[string]struct {
		in         notify.Input
		wantFailed bool
	}{
		"remediated": {notify.Input{Finding: f, Decision: d, Results: []bots.Result{{Bot: "a", Status: bots.StatusRemediated}}}, false},
		"one action failed": {notify.Input{Finding: f, Decision: d, Results: []bots.Result{
			{Bot: "a", Status: bots.StatusRemediated}, {Bot: "b", Status: bots.StatusFailed, Error: "Guardbots.Failed"}}}, true},
		"rejected": {notify.Input{Error: &notify.StepError{Step: "parse", Error: "Guardbots.Rejected", Cause: "not JSON"}}, true},
		"skipped":  {notify.Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "no mapping entry"}}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := &fakePublisher{}
			c.in.Execution = notify.Execution{ID: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:x"}
			out, err := Notifier{Publisher: p}.Notify(context.Background(), c.in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Failed != c.wantFailed || out.MessageID != "msg-1" || len(p.msgs) != 1 {
				t.Fatalf("out = %+v, messages = %d", out, len(p.msgs))
			}
		})
	}
}

func ec2Finding() *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: "444455556666", Region: "eu-west-1", Partition: "aws",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}
}

type fakeCloser struct {
	outcome  string
	decision *mapping.Decision
	done     []string
	err      error
}

func (c *fakeCloser) Close(_ context.Context, _ *finding.Finding, d *mapping.Decision, outcome, _ string) ([]string, error) {
	c.outcome, c.decision = outcome, d
	return c.done, c.err
}

func TestNotifier_ClosedFindingIsReportedInTheMessage(t *testing.T) {
	p := &fakePublisher{}
	c := &fakeCloser{done: []string{"GuardDuty feedback USEFUL"}}
	in := notify.Input{Finding: ec2Finding(), Decision: &mapping.Decision{Outcome: mapping.Remediate, Verified: true},
		Results: []bots.Result{{Bot: "ec2_stop_instance", Status: "remediated"}}, Execution: notify.Execution{ID: "x"}}
	if _, err := (Notifier{Publisher: p, Closer: c}).Notify(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	// The closer gets the decision: it says whether the finding is GuardDuty's copy.
	if c.outcome != notify.OutcomeRemediated || c.decision != in.Decision || !strings.Contains(string(p.msgs[len(p.msgs)-1].Body), `"closure":{"done":["GuardDuty feedback USEFUL"]}`) {
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

// The hourly clean-up is told when it removed something or failed, not when it only skipped or found
// nothing left to remove.
func TestNotifier_TheCleanupIsToldOnlyWhatChanged(t *testing.T) {
	d := &mapping.Decision{Outcome: mapping.ExpireDenies}
	for status, told := range map[bots.Status]bool{bots.StatusRemediated: true, bots.StatusFailed: true, bots.StatusSkipped: false, bots.StatusAlreadyDone: false} {
		p := &fakePublisher{}
		in := notify.Input{Decision: d, Results: []bots.Result{{Bot: "iam_deny_session", Status: status}}}
		out, err := Notifier{Publisher: p}.Notify(context.Background(), in)
		if err != nil || (len(p.msgs) == 1) != told || out.Failed != (status == bots.StatusFailed) {
			t.Errorf("%s: %d message(s), %+v, %v", status, len(p.msgs), out, err)
		}
	}
	// A finding's skip is always told.
	p := &fakePublisher{}
	if _, err := (Notifier{Publisher: p}).Notify(context.Background(), notify.Input{Finding: ec2Finding(), Decision: &mapping.Decision{Outcome: mapping.Skip}}); err != nil || len(p.msgs) != 1 {
		t.Errorf("a finding's skip: %d message(s), %v", len(p.msgs), err)
	}
}

// A release that undid the containment tells the closer "released", which records nothing on the
// finding: neither USEFUL feedback nor an archive, which would hide it from the person who released it.
func TestNotifier_AReleaseRecordsNothingOnTheFinding(t *testing.T) {
	f := ec2Finding()
	f.Source = string(steps.SourceRelease)
	d := &mapping.Decision{Outcome: mapping.Remediate, Key: steps.ReleaseKey, Verified: true,
		Actions: []mapping.Action{{Bot: "ec2_release_quarantine", Mode: "APPROVE"}}}
	for _, status := range []bots.Status{bots.StatusRemediated, bots.StatusAlreadyDone} {
		p, c := &fakePublisher{}, &fakeCloser{}
		in := notify.Input{Finding: f, Decision: d, Results: []bots.Result{{Bot: "ec2_release_quarantine", Status: status}}, Execution: notify.Execution{ID: "x"}}
		out, err := (Notifier{Publisher: p, Closer: c}).Notify(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if c.outcome != notify.OutcomeReleased || out.Outcome != notify.OutcomeReleased || out.Failed {
			t.Errorf("%s: closer told %q, notified %+v", status, c.outcome, out)
		}
		s := world()
		if done, err := closer(s, true).Close(context.Background(), f, d, c.outcome, execARN); err != nil || len(done) != 0 || len(s.calls) != 0 {
			t.Errorf("%s: closing a release recorded %v (calls %v, %v)", status, done, s.calls, err)
		}
	}
}
