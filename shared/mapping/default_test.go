package mapping

import (
	"bytes"
	"slices"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// requireDefaultBots skips when the bots the default mapping names are not in the registry's catalogue.
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
		{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", finding.KindInstance, Remediate, []string{"ec2_tag_instance", "ec2_stop_instance"}},
		{"Backdoor:EC2/C&CActivity.B!DNS", finding.KindInstance, Remediate, []string{"ec2_tag_instance", "ec2_create_snapshot",
			"ec2_enable_termination_protection", "ec2_detach_from_autoscaling", "ec2_deregister_from_load_balancers", "ec2_quarantine_instance"}},
		{"UnauthorizedAccess:EC2/SSHBruteForce", finding.KindInstance, Remediate, []string{"ec2_tag_instance", "ec2_block_remote_ip"}},
		{"Recon:EC2/PortProbeUnprotectedPort", finding.KindInstance, Remediate, []string{"ec2_tag_instance", "ec2_block_remote_ip"}},
		{"Recon:EC2/Portscan", finding.KindInstance, Remediate, []string{"notify_only"}},
		{"UnauthorizedAccess:IAMUser/TorIPCaller", finding.KindAccessKey, Remediate, []string{"iam_deactivate_access_key"}},
		// A shared instance role means a fleet: revoking its sessions is never automatic by default.
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", finding.KindAccessKey, Remediate, []string{"notify_only"}},
		{"Policy:IAMUser/RootCredentialUsage", finding.KindAccessKey, Remediate, []string{"notify_only"}},
		{"Policy:S3/BucketBlockPublicAccessDisabled", finding.KindS3Bucket, Remediate, []string{"s3_block_public_access"}},
		// Account-wide settings can be intentional (a public website account): notify only.
		{"Policy:S3/AccountBlockPublicAccessDisabled", finding.KindS3Bucket, Remediate, []string{"notify_only"}},
		{"Backdoor:Lambda/C&CActivity.B", finding.KindLambdaFunction, Remediate, []string{"lambda_disable_function"}},
		{"CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin", finding.KindRDSDBInstance, Remediate, []string{"rds_disable_public_access"}},
		{"Discovery:RDS/TorIPCaller", finding.KindRDSDBInstance, Remediate, []string{"notify_only"}},
		{"AttackSequence:EKS/CompromisedCluster", finding.KindAttackSequence, Remediate, []string{"notify_only"}},
		{"PrivilegeEscalation:Runtime/DockerSocketAccessed", finding.KindContainer, Remediate, []string{"notify_only"}},
		{"Some:New/TypeNotYetKnown", finding.KindOther, Skip, nil},
	}
	for _, tt := range tests {
		d := m.Match(&finding.Finding{Type: tt.typ, Severity: 8, ResourceKind: tt.kind}, MatchOptions{})
		var names []string
		for _, a := range d.Actions {
			names = append(names, a.Bot)
		}
		if d.Outcome != tt.want || !slices.Equal(names, tt.bots) {
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
