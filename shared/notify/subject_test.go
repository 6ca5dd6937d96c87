package notify

import (
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
)

func assertSubjectSafe(t *testing.T, s string) {
	t.Helper()
	if len(s) == 0 || len(s) >= 100 {
		t.Errorf("subject is %d characters: %q", len(s), s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Errorf("subject has byte %#x at %d: %q", s[i], i, s)
		}
	}
	if strings.Contains(s, "  ") || strings.HasPrefix(s, " ") {
		t.Errorf("subject has uncollapsed spaces: %q", s)
	}
}

func TestSubject_NamesSeverityTypeResourceWhereOutcomeAndBot(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Recon:EC2/Portscan"
	in.Finding.Instance.ID = "i-0abc1234"
	in.Results[0].Bot = "stop_bot"
	m, _ := build(t, in)
	want := "[guardbots] HIGH Recon:EC2/Portscan i-0abc1234 111122223333/us-east-1: remediated (stop_bot)"
	if m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
}

func TestSubject_TooLongShortensBotsThenDropsThemThenTheRegion(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Recon:EC2/Portscan"
	in.Finding.Instance.ID = "i-0abc1234"
	in.Results = []bots.Result{{Bot: "a_bot", Status: bots.StatusRemediated}, {Bot: "b_bot", Status: bots.StatusRemediated}, {Bot: "c_bot", Status: bots.StatusDryRun}}
	steps := []struct {
		typ, want string
	}{
		{"Recon:EC2/Portscan", "[guardbots] HIGH Recon:EC2/Portscan i-0abc1234 111122223333/us-east-1: remediated (a_bot +2)"},
		{"Recon:EC2/PortProbeUnprotectedPort", "[guardbots] HIGH Recon:EC2/PortProbeUnprotectedPort i-0abc1234 111122223333/us-east-1: remediated"},
		{"Recon:EC2/PortProbeEMRUnprotectedPort", "[guardbots] HIGH Recon:EC2/PortProbeEMRUnprotectedPort i-0abc1234 111122223333: remediated"},
	}
	for _, s := range steps {
		in.Finding.Type = s.typ
		if m, _ := build(t, in); m.Subject != s.want {
			t.Errorf("subject = %q, want %q", m.Subject, s.want)
		}
	}
}

func TestSubject_LongTypeLosesSuffixThenTail(t *testing.T) {
	in := remediated() // UnauthorizedAccess:EC2/MaliciousIPCaller.Custom with a 19-character instance id
	m, _ := build(t, in)
	want := "[guardbots] HIGH UnauthorizedAccess:EC2/MaliciousIP... i-0abc1234def567890 111122223333: remediated"
	if m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	in.Finding.Instance.ID = "i-0abc1234"
	m, _ = build(t, in)
	if want := "[guardbots] HIGH UnauthorizedAccess:EC2/MaliciousIPCaller i-0abc1234 111122223333: remediated"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
}

func TestSubject_HostileValuesAreSanitized(t *testing.T) {
	hostile := []struct{ name, typ, id, account string }{
		{"newlines", "Backdoor:EC2/C&CActivity.B!DNS\r\nBcc: attacker@example.com", "i-0abc\n\nX-Injected: 1", "111122223333"},
		{"bidi overrides", "Trojan:EC2/\u202eSNDkcalB\u202c.B", "i-\u2066evil\u2069", "1111\u200b22223333"},
		{"huge tag-sized values", strings.Repeat("UnauthorizedAccess:EC2/", 500), strings.Repeat("A", 10*1024), "111122223333"},
		{"non-ASCII", "Impact:EC2/Bitcoin\u00e9\u00e8\u4e2d\u6587", "i-\u0430bc", "111122223333"},
		{"controls", "\x00\x07\x1b[31mRecon\x7f:EC2/X", "i-\t0abc", "\x1b111122223333"},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			in := remediated()
			in.Finding.Type, in.Finding.Instance.ID, in.Finding.AccountID = h.typ, h.id, h.account
			m, _ := build(t, in)
			for _, bad := range []string{"\r", "\n", "\u202e", "\u2066", "\x1b", "\x00", "\x7f"} {
				if strings.Contains(m.Subject, bad) {
					t.Errorf("subject %q contains %q", m.Subject, bad)
				}
			}
			if !strings.HasSuffix(m.Subject, ": remediated") && !strings.Contains(m.Subject, ": remediated (") {
				t.Errorf("subject %q lost the outcome", m.Subject)
			}
			if !strings.HasPrefix(m.Subject, "[guardbots] HIGH ") {
				t.Errorf("subject %q lost the severity", m.Subject)
			}
		})
	}
}

func TestSubject_BidiOverrideIsRemovedNotReplaced(t *testing.T) {
	in := remediated()
	in.Finding.Type = "Trojan:EC2/\u202eabc"
	m, _ := build(t, in)
	if !strings.Contains(m.Subject, "Trojan:EC2/abc ") {
		t.Errorf("subject = %q, want the override dropped", m.Subject)
	}
}

func TestSubject_LongTypeIsEllipsizedAndKeepsItsStart(t *testing.T) {
	in := remediated()
	in.Finding.Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS" + strings.Repeat("X", 80)
	m, _ := build(t, in)
	if !strings.Contains(m.Subject, "UnauthorizedAccess:IAMUser/") || !strings.Contains(m.Subject, "...") {
		t.Errorf("subject = %q, want the type's start and an ellipsis", m.Subject)
	}
	if !strings.Contains(m.Subject, "111122223333") {
		t.Errorf("subject = %q, want the account kept", m.Subject)
	}
}

func TestSubject_WithoutFindingNamesStepAndError(t *testing.T) {
	m, b := build(t, Input{
		Error:     &StepError{Step: "parse", Error: "Guardbots.Rejected", Cause: "not a GuardDuty finding"},
		Execution: Execution{ID: execARN},
	})
	if m.Outcome != OutcomeRejected || m.Subject != "[guardbots] rejected at parse: Guardbots.Rejected" {
		t.Errorf("outcome %q subject %q", m.Outcome, m.Subject)
	}
	if b.Error == nil || b.Error.Cause != "not a GuardDuty finding" || b.Finding != nil {
		t.Errorf("body error %+v finding %v", b.Error, b.Finding)
	}
}

// The hourly clean-up names no finding: its subject says what it is.
func TestSubject_TheCleanupOfExpiredDeniesSaysSo(t *testing.T) {
	in := Input{Decision: &mapping.Decision{Outcome: mapping.ExpireDenies}, Results: []bots.Result{{Bot: "iam_deny_session", Status: bots.StatusRemediated}}}
	m, err := Build(in)
	if err != nil || m.Subject != "[guardbots] clean-up of expired IAM denies: remediated" {
		t.Fatalf("subject %q, %v", m.Subject, err)
	}
}
