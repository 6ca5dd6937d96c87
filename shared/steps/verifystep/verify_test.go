package verifystep

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

// fakeFetcher answers with GuardDuty's copy (or an error) and counts the calls.
type fakeFetcher struct {
	copy  *finding.Finding
	err   error
	calls int
}

func (c *fakeFetcher) Fetch(context.Context, *finding.Finding) (verify.Copy, error) {
	c.calls++
	if c.err != nil {
		return verify.Copy{}, c.err
	}
	return verify.Copy{Finding: c.copy, DetectorID: "det", Region: c.copy.Region}, nil
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// compromised is an EC2 finding of a type the default mapping isolates (compromised instance, floor 5),
// updated an hour before now.
func compromised(severity float64) *finding.Finding {
	return &finding.Finding{ID: "f1", Type: "Backdoor:EC2/C&CActivity.B", Severity: severity, SeverityLabel: finding.Label(severity),
		AccountID: "444455556666", Region: "eu-west-1", Partition: "aws", UpdatedAt: "2026-03-01T11:00:00Z", Source: "eventbridge",
		ResourceKind: finding.KindInstance, ResourceType: "Instance", ResourceRole: "TARGET", Instance: &finding.Instance{ID: "i-1"}}
}

func defaultMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse(mapping.Default())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testExecution is the execution verify runs in.
const testExecution = "arn:aws:states:eu-west-1:111122223333:execution:guardbots-remediation:run-1"

// matched is what match makes of the input: its decision on the input finding, in an execution.
func matched(t *testing.T, in *finding.Finding) Input {
	t.Helper()
	return Input{Matched: steps.Matched{Finding: in, Decision: defaultMapping(t).Match(in, mapping.MatchOptions{})}, Execution: testExecution}
}

func verifier(t *testing.T, c *fakeFetcher, opts mapping.MatchOptions) Verifier {
	if opts.MaxAge == 0 {
		opts.MaxAge = deployment.DefaultMaxFindingAge
	}
	return Verifier{Checker: c, Mappings: mapping.Static{M: defaultMapping(t)}, Options: opts, Now: func() time.Time { return now }}
}

func TestVerifier_GenuineFindingIsRemediatedOnGuardDutysCopy(t *testing.T) {
	c := &fakeFetcher{copy: compromised(8)}
	out, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), matched(t, compromised(8)))
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decision
	if d.Outcome != mapping.Remediate || !d.Verified || len(d.Actions) != 6 || out.Finding != c.copy ||
		!strings.Contains(d.Verification, "confirmed by GuardDuty (detector det in eu-west-1): GuardDuty's copy of the finding replaces the input, which agreed with it") {
		t.Errorf("decision %+v", d)
	}
}

// Attack: a real LOW finding with its severity raised to 8 in the event. Match decides remediate on the
// input; the decision made again on GuardDuty's copy is a skip, and the copy replaces the input.
func TestVerifier_LowFindingRaisedToHighIsNotQuarantined(t *testing.T) {
	c := &fakeFetcher{copy: compromised(2)}
	in := matched(t, compromised(8))
	if in.Decision.Outcome != mapping.Remediate {
		t.Fatalf("match on the forged input: %+v", in.Decision)
	}
	out, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decision
	if d.Outcome != mapping.Skip || len(d.Actions) != 0 || !strings.Contains(d.Reason, "severity 2 is below the floor 5") {
		t.Fatalf("decision %+v, want skip below the floor", d)
	}
	if out.Finding.Severity != 2 || out.Finding.SeverityLabel != finding.SeverityLow {
		t.Errorf("finding handed on has severity %v (%s): the input's", out.Finding.Severity, out.Finding.SeverityLabel)
	}
	for _, w := range []string{`severity (input "8", GuardDuty "2")`, "decided again on GuardDuty's copy: skip (match decided remediate on the input)"} {
		if !strings.Contains(d.Verification, w) {
			t.Errorf("verification %q does not say %s", d.Verification, w)
		}
	}
	if !d.Verified {
		t.Error("a decision made on GuardDuty's copy is not marked verified")
	}
}

func TestVerifier_EveryRemediateRuleIsAppliedAgainToGuardDutysCopy(t *testing.T) {
	type edit func(*finding.Finding)
	cases := []struct {
		name   string
		copy   edit
		opts   mapping.MatchOptions
		want   mapping.Outcome
		reason string
	}{
		{"archived in GuardDuty", func(f *finding.Finding) { f.Archived = true }, mapping.MatchOptions{}, mapping.Skip, "finding is archived"},
		{"a GuardDuty sample", func(f *finding.Finding) { f.Sample = true }, mapping.MatchOptions{}, mapping.Skip, "sample finding"},
		{"a sample, allowed", func(f *finding.Finding) { f.Sample = true }, mapping.MatchOptions{AllowSamples: true}, mapping.Remediate, "AUTO"},
		{"of a protected account", nil, mapping.MatchOptions{ProtectedAccounts: map[string]bool{"444455556666": true}}, mapping.Skip, "exempt: account 444455556666 is protected"},
		{"stale", func(f *finding.Finding) { f.UpdatedAt = "2026-03-01T05:00:00Z" }, mapping.MatchOptions{}, mapping.Skip, "stale: GuardDuty last updated the finding at 2026-03-01T05:00:00Z, 7h0m0s ago"},
		{"stale at a shorter maximum age", func(f *finding.Finding) { f.UpdatedAt = "2026-03-01T11:00:00Z" }, mapping.MatchOptions{MaxAge: 30 * time.Minute}, mapping.Skip, "stale"},
		{"of a type the mapping only notifies", func(f *finding.Finding) { f.Type = "Recon:EC2/Portscan" }, mapping.MatchOptions{}, mapping.Remediate, "notify_only"},
		{"of a type no rule names", func(f *finding.Finding) { f.Type = "Discovery:Bedrock/ModelInvocationUnusual" }, mapping.MatchOptions{}, mapping.Skip, "no mapping entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := compromised(8)
			if tc.copy != nil {
				tc.copy(cp)
			}
			out, err := verifier(t, &fakeFetcher{copy: cp}, tc.opts).Verify(context.Background(), matched(t, compromised(8)))
			if err != nil {
				t.Fatal(err)
			}
			if out.Decision.Outcome != tc.want || !strings.Contains(out.Decision.Reason, tc.reason) || out.Finding != cp {
				t.Errorf("decision %+v, want %s with %q on GuardDuty's copy", out.Decision, tc.want, tc.reason)
			}
		})
	}
}

// The mapping's NOTIFY mode turns a remediate decision on the input into notify on the copy.
func TestVerifier_CopyOfANotifyTypeBecomesANotifyDecision(t *testing.T) {
	m, err := mapping.Parse([]byte(`{"version": 1, "rules": [{"match": "Backdoor:EC2/*", "actions": [{"bot": "ec2_stop_instance"}]},
	  {"match": "Recon:EC2/*", "mode": "NOTIFY"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cp := compromised(8)
	cp.Type = "Recon:EC2/Portscan"
	in := compromised(8)
	v := Verifier{Checker: &fakeFetcher{copy: cp}, Mappings: mapping.Static{M: m}, Now: func() time.Time { return now }}
	out, err := v.Verify(context.Background(), Input{Matched: steps.Matched{Finding: in, Decision: m.Match(in, mapping.MatchOptions{})}, Execution: testExecution})
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Outcome != mapping.NotifyOnly || !out.Decision.Verified || !strings.Contains(out.Decision.Verification, `type (input "Backdoor:EC2/C&CActivity.B", GuardDuty "Recon:EC2/Portscan")`) {
		t.Errorf("decision %+v", out.Decision)
	}
}

func TestVerifier_ForgedFindingIsRejectedSoNoBotRuns(t *testing.T) {
	c := &fakeFetcher{err: faults.Rejectf("verify: GuardDuty has no finding f1 on detector det in eu-west-1")}
	_, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), matched(t, compromised(8)))
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "GuardDuty has no finding") {
		t.Fatalf("err %v", err)
	}
	// At the Lambda boundary the rejection is Guardbots.Rejected: the state machine's Verify failed →
	// Notify path, which runs no bot (statemachine TestExecute_ForgedFindingRunsNoBot).
	h := steps.Lambda("verify", verifier(t, c, mapping.MatchOptions{}).Verify)
	_, err = h.Invoke(context.Background(), mustJSON(t, matched(t, compromised(8))))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != string(faults.Rejected) {
		t.Errorf("error %T %v, want an InvokeResponse_Error of type %s", err, err, faults.Rejected)
	}
}

func TestVerifier_ThrottledFetchStaysThrottled(t *testing.T) {
	c := &fakeFetcher{err: &faults.Error{Kind: faults.Throttled, Err: errors.New("verify: GetFindings: ThrottlingException")}}
	_, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), matched(t, compromised(8)))
	if faults.Classify(err) != faults.Throttled {
		t.Fatalf("err %v classified %s", err, faults.Classify(err))
	}
}

type failingMappings struct{}

func (failingMappings) Mapping(context.Context) (*mapping.Mapping, error) {
	return nil, faults.Fail(errors.New("mapping parameter /guardbots/mapping (version 3): rules[0]: unknown bot"))
}

// The rail cannot decide without the mapping: it fails, and nothing acts.
func TestVerifier_UnreadableMappingFailsClosed(t *testing.T) {
	v := Verifier{Checker: &fakeFetcher{copy: compromised(8)}, Mappings: failingMappings{}}
	if _, err := v.Verify(context.Background(), matched(t, compromised(8))); faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "verify: mapping parameter") {
		t.Fatalf("err %v", err)
	}
}

func TestVerifier_DisabledSaysSoCallsNothingAndIsNotVerified(t *testing.T) {
	c := &fakeFetcher{err: errors.New("must not be called")}
	v := verifier(t, c, mapping.MatchOptions{})
	v.Disabled = true
	out, err := v.Verify(context.Background(), matched(t, compromised(8)))
	if err != nil || c.calls != 0 || out.Decision.Verified || !strings.HasPrefix(out.Decision.Verification, "not checked: GUARDBOTS_VERIFY_FINDINGS=false") {
		t.Fatalf("out %+v err %v calls %d", out.Decision, err, c.calls)
	}
}

func TestVerifier_NotifyAndSkipDecisionsNeedNoCheckAndAreNeverVerified(t *testing.T) {
	c := &fakeFetcher{err: errors.New("must not be called")}
	for _, o := range []mapping.Outcome{mapping.NotifyOnly, mapping.Skip} {
		// Verified set on the way in is not believed: only this step's own output is verified.
		in := Input{Matched: steps.Matched{Finding: compromised(8), Decision: mapping.Decision{Outcome: o, Actions: []mapping.Action{}, Verified: true}}}
		out, err := verifier(t, c, mapping.MatchOptions{}).Verify(context.Background(), in)
		if err != nil || c.calls != 0 || out.Decision.Verified {
			t.Errorf("%s: err %v calls %d verified %v", o, err, c.calls, out.Decision.Verified)
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

// fakeSigner records what it signed, or fails.
type fakeSigner struct {
	signed []string
	err    error
}

func (s *fakeSigner) Sign(_ context.Context, f *finding.Finding, d *mapping.Decision, execution string) error {
	if s.err != nil {
		return s.err
	}
	s.signed = append(s.signed, f.ID+"@"+execution)
	for i := range d.Actions {
		d.Actions[i].Signature = &mapping.Signature{Version: 1, SignedAt: "2026-03-01T12:00:00Z", Value: "c2ln"}
	}
	return nil
}

// Only a remediation the step lets through is signed — GuardDuty's copy, for this execution; a decision
// that became a skip is not; a signing failure stops the step (no unsigned plan goes on).
func TestVerifier_SignsOnlyTheRemediationItLetsThrough(t *testing.T) {
	s := &fakeSigner{}
	v := verifier(t, &fakeFetcher{copy: compromised(8)}, mapping.MatchOptions{})
	v.Signer = s
	out, err := v.Verify(context.Background(), matched(t, compromised(8)))
	if err != nil || len(s.signed) != 1 || s.signed[0] != "f1@"+testExecution || out.Decision.Actions[0].Signature == nil {
		t.Fatalf("remediation: err %v signed %v", err, s.signed)
	}
	v.Checker = &fakeFetcher{copy: compromised(2)}
	if out, err := v.Verify(context.Background(), matched(t, compromised(8))); err != nil || len(s.signed) != 1 || out.Decision.Outcome != mapping.Skip {
		t.Fatalf("skip: err %v signed %v", err, s.signed)
	}
	v.Checker, v.Signer = &fakeFetcher{copy: compromised(8)}, &fakeSigner{err: errors.New("KMS: AccessDeniedException")}
	if _, err := v.Verify(context.Background(), matched(t, compromised(8))); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("signing failure: %v", err)
	}
	// Switched off, the input's plan is signed as it came (and says it was not checked).
	s = &fakeSigner{}
	v.Signer, v.Disabled = s, true
	if out, err := v.Verify(context.Background(), matched(t, compromised(8))); err != nil || len(s.signed) != 1 || out.Decision.Verified {
		t.Fatalf("disabled: err %v signed %v", err, s.signed)
	}
	// Without the execution there is nothing to bind the plan to.
	in := matched(t, compromised(8))
	in.Execution = ""
	if _, err := v.Verify(context.Background(), in); faults.Classify(err) != faults.Rejected {
		t.Fatalf("no execution: %v", err)
	}
}
