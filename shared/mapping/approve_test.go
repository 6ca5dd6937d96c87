package mapping

import (
	"slices"
	"strings"
	"testing"
)

const approveDoc = `{
  "version": 1,
  "defaults": {"approvalTimeoutSeconds": 900, "protectedAccounts": ["444455556666"]},
  "rules": [
    {"match": "UnauthorizedAccess:EC2/*", "mode": "APPROVE",
     "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop"}]},
    {"match": "Backdoor:EC2/*", "mode": "APPROVE", "approvalTimeoutSeconds": 7200, "actions": [{"bot": "test_stop"}]},
    {"match": "Recon:EC2/*", "mode": "NOTIFY"}
  ]
}`

func TestMatch_ApproveMarksEveryActionWithItsTimeout(t *testing.T) {
	m := mustParse(t, approveDoc)
	for _, tt := range []struct {
		typ     string
		timeout int
	}{{"UnauthorizedAccess:EC2/TorClient", 900}, {"Backdoor:EC2/Spambot", 7200}} {
		d := m.Match(ec2Finding(tt.typ, 8), MatchOptions{})
		if d.Outcome != Remediate || len(d.Actions) == 0 {
			t.Fatalf("%s: decision %+v", tt.typ, d)
		}
		for _, a := range d.Actions {
			if a.Mode != string(ModeApprove) || a.ApprovalTimeoutSeconds != tt.timeout {
				t.Errorf("%s: action %+v, want mode APPROVE with timeout %d", tt.typ, a, tt.timeout)
			}
		}
		if !strings.Contains(d.Reason, "APPROVE") || !strings.Contains(d.Reason, "waits up to") {
			t.Errorf("%s: reason %q does not say the actions wait for approval", tt.typ, d.Reason)
		}
	}
}

func TestMatch_ApprovalTimeoutDefaultsToAnHour(t *testing.T) {
	m := mustParse(t, `{"version": 1, "rules": [{"match": "*", "mode": "APPROVE", "actions": [{"bot": "test_stop"}]}]}`)
	d := m.Match(ec2Finding("Backdoor:EC2/Spambot", 8), MatchOptions{})
	if len(d.Actions) != 1 || d.Actions[0].ApprovalTimeoutSeconds != DefaultApprovalTimeoutSeconds {
		t.Errorf("actions %+v, want approvalTimeoutSeconds %d", d.Actions, DefaultApprovalTimeoutSeconds)
	}
}

func TestMatch_AutoActionsCarryNoApprovalTimeout(t *testing.T) {
	m := mustParse(t, matchDoc)
	for _, a := range m.Match(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), MatchOptions{}).Actions {
		if a.ApprovalTimeoutSeconds != 0 {
			t.Errorf("AUTO action %+v has an approval timeout", a)
		}
	}
}

func TestMatch_ProtectedAccountInTheMappingIsSkippedAsExempt(t *testing.T) {
	m := mustParse(t, approveDoc)
	f := ec2Finding("UnauthorizedAccess:EC2/TorClient", 8)
	f.AccountID = "444455556666"
	d := m.Match(f, MatchOptions{})
	if d.Outcome != Skip || d.Reason != "exempt: account 444455556666 is protected" || len(d.Actions) != 0 {
		t.Errorf("decision %+v, want skip exempt", d)
	}
	if got := m.ProtectedAccounts(); !slices.Equal(got, []string{"444455556666"}) {
		t.Errorf("ProtectedAccounts() = %v", got)
	}
}

func TestMatch_ProtectedAccountFromTheEnvironmentIsSkippedAsExempt(t *testing.T) {
	m := mustParse(t, matchDoc)
	prot, err := ParseAccountList(" 111122223333 , 999988887777,")
	if err != nil {
		t.Fatal(err)
	}
	d := m.Match(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), MatchOptions{ProtectedAccounts: prot})
	if d.Outcome != Skip || d.Reason != "exempt: account 111122223333 is protected" {
		t.Errorf("decision %+v, want skip exempt", d)
	}
	// Another account still acts.
	f := ec2Finding("UnauthorizedAccess:EC2/TorClient", 8)
	f.AccountID = "123412341234"
	if d := m.Match(f, MatchOptions{ProtectedAccounts: prot}); d.Outcome != Remediate {
		t.Errorf("unprotected account: decision %+v", d)
	}
}

func TestMatch_ProtectedAccountIsStillNotifiedByANotifyRule(t *testing.T) {
	m := mustParse(t, approveDoc)
	f := ec2Finding("Recon:EC2/Portscan", 5)
	f.AccountID = "444455556666"
	if d := m.Match(f, MatchOptions{}); d.Outcome != NotifyOnly {
		t.Errorf("decision %+v, want notify", d)
	}
}

func TestParseAccountList_RejectsWhatIsNotAnAccountID(t *testing.T) {
	for _, s := range []string{"prod", "11112222333", "1111222233334", "11112222333a"} {
		if _, err := ParseAccountList("111122223333," + s); err == nil {
			t.Errorf("ParseAccountList accepted %q", s)
		}
	}
	if m, err := ParseAccountList(""); err != nil || len(m) != 0 {
		t.Errorf("empty list: %v %v", m, err)
	}
}
