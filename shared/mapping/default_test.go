package mapping

import (
	"bytes"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// requireDefaultBots skips when the bots the default mapping names are not registered yet (they are
// written in shared/bots alongside this package).
func requireDefaultBots(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{"ec2_stop_instance", "notify_only"} {
		if _, ok := bots.Lookup(name); !ok {
			tb.Skipf("bot %s is not registered yet: the default mapping cannot be validated", name)
		}
	}
}

func TestDefault_FitsTheStandardTier(t *testing.T) {
	if err := ValidateSize(Default(), TierStandard); err != nil {
		t.Fatal(err)
	}
}

func TestDefault_IsValidAndMapsNoDestructiveBot(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default(), WithTier(TierStandard))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m.Bots() {
		if b.Impact == bots.ImpactDestructive {
			t.Errorf("the default mapping maps destructive bot %s", b.Name)
		}
	}
	if len(m.Bots()) == 0 {
		t.Error("the default mapping runs no bot")
	}
}

func TestDefault_Decisions(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ  string
		kind finding.ResourceKind
		want Outcome
		bots []string
	}{
		{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", finding.KindInstance, Remediate, []string{"ec2_stop_instance"}},
		{"Backdoor:EC2/C&CActivity.B!DNS", finding.KindInstance, Remediate, []string{"notify_only"}},
		{"UnauthorizedAccess:EC2/SSHBruteForce", finding.KindInstance, Remediate, []string{"notify_only"}},
		{"Recon:EC2/PortProbeUnprotectedPort", finding.KindInstance, NotifyOnly, nil},
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", finding.KindAccessKey, NotifyOnly, nil},
		{"Policy:S3/BucketBlockPublicAccessDisabled", finding.KindAccessKey, NotifyOnly, nil},
		{"AttackSequence:EKS/CompromisedCluster", finding.KindAttackSequence, NotifyOnly, nil},
		{"PrivilegeEscalation:Runtime/DockerSocketAccessed", finding.KindContainer, NotifyOnly, nil},
		{"Some:New/TypeNotYetKnown", finding.KindOther, Skip, nil},
	}
	for _, tt := range tests {
		d := m.Match(&finding.Finding{Type: tt.typ, Severity: 8, ResourceKind: tt.kind}, MatchOptions{})
		var names []string
		for _, a := range d.Actions {
			names = append(names, a.Bot)
		}
		if d.Outcome != tt.want || len(names) != len(tt.bots) || (len(names) > 0 && names[0] != tt.bots[0]) {
			t.Errorf("%s: %s %v (%s), want %s %v", tt.typ, d.Outcome, names, d.Reason, tt.want, tt.bots)
		}
	}
}

func TestDefault_ReturnsACopy(t *testing.T) {
	d := Default()
	d[0] = 'x'
	if bytes.Equal(d, Default()) {
		t.Error("Default() shares its bytes")
	}
}
