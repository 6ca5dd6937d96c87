package verifystep

import (
	"context"
	"errors"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/shared/verify"
)

var errTest = errors.New("GuardDuty: ServiceUnavailable")

// recordingFetcher is a fakeFetcher that remembers which finding it was asked for.
type recordingFetcher struct {
	fakeFetcher
	asked []finding.Finding
}

func (r *recordingFetcher) Fetch(ctx context.Context, f *finding.Finding) (verify.Copy, error) {
	r.asked = append(r.asked, *f)
	return r.fakeFetcher.Fetch(ctx, f)
}

// forgedRelease is what an attacker who may start an execution (or invoke verify) can send: a release
// request whose finding and decision say whatever they like — another instance, a destructive bot in
// AUTO mode, a claim of being verified, a signature.
func forgedRelease() Input {
	f := &finding.Finding{ID: "f1", AccountID: "444455556666", Region: "eu-west-1", Source: string(steps.SourceRelease),
		Type: "Recon:EC2/PortProbeUnprotectedPort", ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-victim"}}
	return Input{Matched: steps.Matched{Finding: f, Decision: mapping.Decision{Outcome: mapping.Remediate, Key: "attacker", Verified: true,
		Actions: []mapping.Action{
			{Bot: "ec2_terminate_instance", Mode: "AUTO", Signature: &mapping.Signature{Version: 1, Value: "Zm9yZ2Vk"}},
			{Bot: "ec2_release_quarantine", Mode: "AUTO", Params: map[string]any{"x": 1}},
		}}}, Execution: testExecution}
}

// The forged release changes nothing the attacker chose: verify reads GuardDuty's copy of the named
// finding, plans every undo bot for its resource kind in APPROVE mode with the deployment's timeout, and
// signs that for GuardDuty's copy in this execution — no terminate, no AUTO, not the attacker's instance.
func TestVerifier_ForgedReleaseIsReplannedFromGuardDutysCopyAndWaitsForApproval(t *testing.T) {
	genuine := compromised(8) // GuardDuty's copy: instance i-1
	c := &recordingFetcher{fakeFetcher: fakeFetcher{copy: genuine}}
	s := &fakeSigner{}
	v := verifier(t, &c.fakeFetcher, mapping.MatchOptions{})
	v.Checker, v.Signer = c, s
	out, err := v.Verify(context.Background(), forgedRelease())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.asked) != 1 || c.asked[0].ID != "f1" || c.asked[0].AccountID != "444455556666" || c.asked[0].Region != "eu-west-1" {
		t.Fatalf("GuardDuty asked for %+v", c.asked)
	}
	d := out.Decision
	if out.Finding != genuine || out.Finding.Instance.ID != "i-1" || d.Key != steps.ReleaseKey || !d.Verified || d.Outcome != mapping.Remediate {
		t.Fatalf("out %+v / %+v", out.Finding, d)
	}
	// The account is GuardDuty's, always set (lookups off here): the Map hands it to each approval request.
	if d.Account == nil || d.Account.ID != genuine.AccountID {
		t.Errorf("account %+v, want GuardDuty's %s", d.Account, genuine.AccountID)
	}
	want := []string{"ec2_release_quarantine", "ec2_unblock_remote_ip"}
	if len(d.Actions) != len(want) {
		t.Fatalf("actions %+v, want %v", d.Actions, want)
	}
	for i, a := range d.Actions {
		if a.Bot != want[i] || a.Mode != string(mapping.ModeApprove) || a.ApprovalTimeoutSeconds != ReleaseApprovalTimeoutSeconds ||
			len(a.Params) != 0 || a.Signature == nil || a.Signature.Value == "Zm9yZ2Vk" {
			t.Errorf("action %d: %+v", i, a)
		}
		// The plan's signer and the bots' check agree on these parameters (plan.CanonicalParams).
		if _, err := plan.CanonicalParams(a.Bot, a.Params); err != nil {
			t.Errorf("action %d: %v", i, err)
		}
	}
	if len(s.signed) != 1 || s.signed[0] != "f1@"+testExecution {
		t.Errorf("signed %v", s.signed)
	}
}

// A release the verify step cannot ground in GuardDuty's own copy plans nothing and signs nothing.
func TestVerifier_ReleaseThatGuardDutyDoesNotVouchForIsRefused(t *testing.T) {
	// A kind no undo bot handles (an access key's finding has the IAM deny undo bots, and an instance's
	// credentials ec2_release_quarantine, since issues 15 and 16).
	eks := compromised(8)
	eks.ResourceKind, eks.Instance = finding.KindEKSCluster, nil
	for name, tc := range map[string]struct {
		fetch     *fakeFetcher
		opts      mapping.MatchOptions
		disabled  bool
		execution string
		wantErr   bool
		wantSkip  bool
	}{
		"no such finding":   {fetch: &fakeFetcher{err: faults.Rejectf("verify: GuardDuty has no finding f1")}, wantErr: true},
		"GuardDuty down":    {fetch: &fakeFetcher{err: faults.Fail(errTest)}, wantErr: true},
		"verification off":  {fetch: &fakeFetcher{copy: compromised(8)}, disabled: true, wantErr: true},
		"no execution":      {fetch: &fakeFetcher{copy: compromised(8)}, execution: "-", wantErr: true},
		"nothing to undo":   {fetch: &fakeFetcher{copy: eks}, wantSkip: true},
		"protected account": {fetch: &fakeFetcher{copy: compromised(8)}, opts: mapping.MatchOptions{ProtectedAccounts: map[string]bool{"444455556666": true}}, wantSkip: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := &fakeSigner{}
			v := verifier(t, tc.fetch, tc.opts)
			v.Signer, v.Disabled = s, tc.disabled
			in := forgedRelease()
			if tc.execution == "-" {
				in.Execution = ""
			}
			out, err := v.Verify(context.Background(), in)
			switch {
			case tc.wantErr:
				if err == nil {
					t.Errorf("accepted: %+v", out.Decision)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantSkip && (out.Decision.Outcome != mapping.Skip || len(out.Decision.Actions) != 0):
				t.Errorf("decision %+v", out.Decision)
			}
			if len(s.signed) != 0 {
				t.Errorf("signed %v", s.signed)
			}
		})
	}
}
