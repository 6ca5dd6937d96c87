package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
		// At the severity that reaches the workflow (HIGH), a brute-force finding is the instance attacking others.
		{"UnauthorizedAccess:EC2/SSHBruteForce", finding.KindInstance, Remediate, []string{"ec2_tag_instance", "ec2_create_snapshot",
			"ec2_enable_termination_protection", "ec2_detach_from_autoscaling", "ec2_deregister_from_load_balancers", "ec2_quarantine_instance"}},
		{"Recon:EC2/PortProbeUnprotectedPort", finding.KindInstance, Remediate, []string{"notify_only"}},
		{"Recon:EC2/Portscan", finding.KindInstance, Remediate, []string{"notify_only"}},
		{"UnauthorizedAccess:IAMUser/TorIPCaller", finding.KindAccessKey, Remediate, []string{"iam_deactivate_access_key", "iam_deny_session", "iam_deny_source_ip"}},
		// Only what the attacker holds (the stolen session, their address), then the instance the
		// credentials came from: never the whole role, which may be a fleet's.
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", finding.KindAccessKey, Remediate, []string{"iam_deny_session", "iam_deny_source_ip", "ec2_tag_instance", "ec2_create_snapshot",
			"ec2_enable_termination_protection", "ec2_detach_from_autoscaling", "ec2_deregister_from_load_balancers", "ec2_quarantine_instance"}},
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS", finding.KindAccessKey, Remediate, []string{"iam_deny_session", "iam_deny_source_ip", "ec2_tag_instance", "ec2_create_snapshot",
			"ec2_enable_termination_protection", "ec2_detach_from_autoscaling", "ec2_deregister_from_load_balancers", "ec2_quarantine_instance"}},
		// The behaviour is unusual, the address often the user's own: a person approves the session deny.
		{"Persistence:IAMUser/AnomalousBehavior", finding.KindAccessKey, Remediate, []string{"iam_deny_session"}},
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

// The findings each default rule is written for, at the severity GuardDuty gives them (its finding-type
// reference; the public samples agree), keyed by the rule's first pattern.
var defaultRuleFindings = map[string][]struct {
	typ      string
	severity float64
	kind     finding.ResourceKind
}{
	"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": {{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 5, finding.KindInstance}},
	"Backdoor:EC2/*": {{"Backdoor:EC2/C&CActivity.B", 8, finding.KindInstance}, {"CryptoCurrency:EC2/BitcoinTool.B", 8, finding.KindInstance},
		{"UnauthorizedAccess:EC2/TorRelay", 8, finding.KindInstance},
		// HIGH: the instance performs the brute force (ACTOR). Attacks on it are LOW, below every floor here.
		{"UnauthorizedAccess:EC2/SSHBruteForce", 8, finding.KindInstance}, {"UnauthorizedAccess:EC2/RDPBruteForce", 8, finding.KindInstance}},
	"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS": {
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", 8, finding.KindAccessKey},
		{"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS", 8, finding.KindAccessKey}},
	"*:IAMUser/AnomalousBehavior": {{"CredentialAccess:IAMUser/AnomalousBehavior", 5, finding.KindAccessKey}},
	"UnauthorizedAccess:IAMUser/TorIPCaller": {{"UnauthorizedAccess:IAMUser/TorIPCaller", 5, finding.KindAccessKey},
		{"UnauthorizedAccess:IAMUser/MaliciousIPCaller", 5, finding.KindAccessKey}, {"PenTest:IAMUser/KaliLinux", 5, finding.KindAccessKey}},
	// Policy:S3/BucketBlockPublicAccessDisabled is LOW: it reaches this rule only where severityFloor is 2 or less.
	"Policy:S3/BucketBlockPublicAccessDisabled": {{"Policy:S3/BucketPublicAccessGranted", 8, finding.KindS3Bucket},
		{"Policy:S3/BucketAnonymousAccessGranted", 8, finding.KindS3Bucket}},
	// LOW in GuardDuty: reached only where severityFloor is 2 or lower (belowFloorOnPurpose).
	"Stealth:IAMUser/CloudTrailLoggingDisabled": {{"Stealth:IAMUser/CloudTrailLoggingDisabled", 2, finding.KindAccessKey}},
	// GuardDuty rates a malicious object HIGH (Malware Protection for S3).
	"Object:S3/MaliciousFile": {{"Object:S3/MaliciousFile", 8, finding.KindS3Object}},
	// Extended Threat Detection rates attack sequences CRITICAL.
	"AttackSequence:*":                      {{"AttackSequence:S3/CompromisedData", 9.2, finding.KindAttackSequence}},
	"Backdoor:Lambda/*":                     {{"Backdoor:Lambda/C&CActivity.B", 8, finding.KindLambdaFunction}},
	"CredentialAccess:RDS/*SuccessfulLogin": {{"CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", 8, finding.KindRDSDBInstance}},
	"*:EC2/*":                               {{"Recon:EC2/Portscan", 5, finding.KindInstance}, {"UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B", 5, finding.KindAccessKey}},
}

// belowFloorOnPurpose are the default rules written for findings GuardDuty rates under the default
// floor, and why each is there anyway: it does nothing at floor 4, and acts as written once a deployment
// lowers severityFloor for it (the README's default mapping says so).
var belowFloorOnPurpose = map[string]string{
	"Stealth:IAMUser/CloudTrailLoggingDisabled": "turning logging back on only undoes the attacker's change: safe to act on at any floor that lets it in",
}

// A rule written only for findings the severity floor keeps out never runs: the brute-force rule that
// blocked the attackers of a TARGET instance did nothing at the default floor 4, since GuardDuty rates
// those findings LOW. Every default rule must decide a finding GuardDuty sends at or above the floor.
func TestDefault_EveryRuleIsReachableAtTheDefaultFloor(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Rules() {
		reps, ok := defaultRuleFindings[r.Match[0]]
		if !ok {
			t.Errorf("rule %v: name the GuardDuty findings (and their severity) it is written for in defaultRuleFindings", r.Match)
			continue
		}
		reached := false
		_, low := belowFloorOnPurpose[r.Match[0]]
		for _, f := range reps {
			if f.severity < DefaultSeverityFloor && !low {
				t.Errorf("rule %v: %s at severity %g is below the default floor %d and never starts the workflow", r.Match, f.typ, f.severity, DefaultSeverityFloor)
				continue
			}
			d := m.Match(&finding.Finding{Type: f.typ, Severity: f.severity, ResourceKind: f.kind}, MatchOptions{})
			want := Remediate
			if r.Mode == ModeNotify {
				want = NotifyOnly
			}
			if d.Outcome != want || !slices.Contains(r.Match, d.Key) {
				t.Errorf("rule %v: %s at severity %g is decided %s by %q (%s)", r.Match, f.typ, f.severity, d.Outcome, d.Key, d.Reason)
				continue
			}
			reached = true
		}
		if !reached {
			t.Errorf("rule %v: no finding at or above the default floor %d reaches it", r.Match, DefaultSeverityFloor)
		}
	}
}

// An attack on an instance (brute force, port probe with the instance as TARGET) is LOW in GuardDuty: if a
// deployment lowers its floor to let it in, the default mapping still does not isolate the attacked
// instance, it notifies.
func TestDefault_LowBruteForceOnAnInstanceIsNotIsolated(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	d := m.Match(&finding.Finding{Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: 2, ResourceKind: finding.KindInstance, ResourceRole: "TARGET"}, MatchOptions{})
	if d.Outcome != Skip || len(d.Actions) != 0 {
		t.Errorf("LOW brute force on an instance: %s %+v (%s)", d.Outcome, d.Actions, d.Reason)
	}
}

// DefaultSeverityFloor is the deployment's default: cdk.json's severityFloor.
func TestDefaultSeverityFloor_IsCDKJSONs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Context struct {
			SeverityFloor *float64 `json:"severityFloor"`
		} `json:"context"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Context.SeverityFloor == nil {
		t.Fatalf("cdk.json context.severityFloor: %v", err)
	}
	if *c.Context.SeverityFloor != DefaultSeverityFloor {
		t.Errorf("cdk.json severityFloor %g, mapping.DefaultSeverityFloor %d: the default mapping is checked against the wrong floor", *c.Context.SeverityFloor, DefaultSeverityFloor)
	}
}

// Identity containment by default touches only what the attacker holds: the session and the address run
// unattended on stolen instance credentials and on Tor or threat-list callers, a person approves the
// session deny on anomalous behaviour, and nothing cuts a whole role's sessions.
func TestDefault_IdentityContainmentIsScopedToTheAttacker(t *testing.T) {
	requireDefaultBots(t)
	m, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	for typ, mode := range map[string]string{
		"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS": "AUTO",
		"UnauthorizedAccess:IAMUser/TorIPCaller":                               "AUTO",
		"CredentialAccess:IAMUser/AnomalousBehavior":                           "APPROVE",
	} {
		d := m.Match(&finding.Finding{Type: typ, Severity: 8, ResourceKind: finding.KindAccessKey}, MatchOptions{})
		for _, a := range d.Actions {
			if strings.HasPrefix(a.Bot, "iam_deny_") && a.Mode != mode {
				t.Errorf("%s: %s runs %s, want %s", typ, a.Bot, a.Mode, mode)
			}
		}
	}
	for _, b := range m.Bots() {
		if b.Name == "iam_revoke_role_sessions" {
			t.Error("the default mapping revokes every session of a role")
		}
	}
}
