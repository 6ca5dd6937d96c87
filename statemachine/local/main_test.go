package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine/internal/generate"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func events(name string) string {
	return filepath.Join("..", "..", "shared", "finding", "testdata", "events", name)
}

func TestExplain_RemediatesEC2FindingWithTheDefaultMapping(t *testing.T) {
	code, stdout, stderr := runCmd(t, "explain", "--event", events("ec2_malicious_ip_caller_custom.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got explanation
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision != "remediate" || len(got.Actions) != 2 || got.Actions[0].Bot != "ec2_tag_instance" || got.Actions[1].Bot != "ec2_stop_instance" {
		t.Fatalf("got %+v", got)
	}
	if got.Finding == nil || got.Finding.Instance == nil || got.Finding.Instance.ID != "i-0abc1234def567890" {
		t.Fatalf("finding = %+v", got.Finding)
	}
	if !strings.Contains(got.Verify, "decides again on GuardDuty's copy") {
		t.Errorf("verify note %q", got.Verify)
	}
}

// What the AWS CLI prints for get-findings explains as the finding's event does.
func TestExplain_AWSCLIGetFindingsOutput(t *testing.T) {
	code, stdout, stderr := runCmd(t, "explain", "--event", events("envelope_cli_get_findings_pascal.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got explanation
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision != "remediate" || len(got.Actions) != 2 || got.Finding.Source != "direct" || got.Finding.Instance.ID != "i-0abc1234def567890" {
		t.Fatalf("got %+v", got)
	}
}

func TestExplain_SkipsWhenTheMappingHasNoEntry(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "m.json")
	if err := os.WriteFile(mapping, []byte(`{"Backdoor:EC2/Spambot": "AUTO: ec2_stop_instance"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "explain", "--event", events("ec2_malicious_ip_caller_custom.json"), "--mapping", mapping)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got explanation
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Decision != "skip" || !strings.Contains(got.Reason, "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom") || len(got.Actions) != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestExplain_RejectedEventExits2WithJSONAndAOneLineError(t *testing.T) {
	code, stdout, stderr := runCmd(t, "explain", "--event", events("reject_wrong_source.json"))
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	var got explanation
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if got.Decision != "reject" || got.Reason == "" || got.Finding != nil {
		t.Fatalf("got %+v", got)
	}
	if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines != 0 || !strings.HasPrefix(stderr, "rejected: ") {
		t.Fatalf("stderr = %q", stderr)
	}
}

func TestExplain_InvalidMappingExits1NamingKeyAndBot(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "m.json")
	if err := os.WriteFile(mapping, []byte(`{"Backdoor:EC2/Spambot": "AUTO: ec2_stop_instanse"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "explain", "--event", events("ec2_malicious_ip_caller_custom.json"), "--mapping", mapping)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"Backdoor:EC2/Spambot", "ec2_stop_instanse"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not name %q", stderr, want)
		}
	}
}

func TestExplain_SampleFindingsSkippedUnlessAllowed(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "testdata", "guardduty", "UnauthorizedAccess_EC2_MaliciousIPCaller.Custom.json")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("the GuardDuty corpus at %s is absent (a plain clone): %v", corpus, err)
	}
	_, stdout, _ := runCmd(t, "explain", "--event", corpus)
	var got explanation
	_ = json.Unmarshal([]byte(stdout), &got)
	// The corpus sample's account id is 13 digits: it is rejected before the sample rule applies.
	if got.Decision != "reject" && got.Decision != "skip" {
		t.Fatalf("sample finding decision = %q", got.Decision)
	}
}

func TestBots_JSONListsEveryRegisteredBotWithItsIAMActions(t *testing.T) {
	code, stdout, stderr := runCmd(t, "bots", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []generate.BotEntry
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
		if e.Name == "ec2_stop_instance" {
			if e.Impact != "disruptive" || !slices.Equal(e.IAMActions, []string{"ec2:CreateTags", "ec2:DescribeInstances", "ec2:DescribeTags", "ec2:StopInstances"}) {
				t.Errorf("ec2_stop_instance = %+v", e)
			}
			if len(e.Params) != 1 || e.Params[0].Name != "force" || e.Params[0].Type != "bool" {
				t.Errorf("params = %+v", e.Params)
			}
		}
	}
	if !slices.Equal(names, bots.Names()) {
		t.Errorf("bots --json lists %v, registry has %v", names, bots.Names())
	}
	code, table, _ := runCmd(t, "bots")
	if code != 0 || !strings.Contains(table, "ec2_stop_instance") || !strings.Contains(table, "IAM ACTIONS") {
		t.Errorf("table:\n%s", table)
	}
}

// The README's monthly figures are what `cost` prints for the same volume.
func TestCost_PrintsTheReadmeFigures(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"cost", "--findings", "1000000"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The first line priced in dollars (transitions) and the first total (Standard's) must be the README's.
	money := regexp.MustCompile(`\$[0-9,]+\.[0-9]{2}`)
	var figs []string
	for _, line := range strings.Split(out.String(), "\n") {
		if m := money.FindString(line); m != "" && (len(figs) == 0 || strings.Contains(line, "total")) {
			figs = append(figs, m)
		}
	}
	if len(figs) < 2 {
		t.Fatalf("no transitions or total figure in cost's output:\n%s", out.String())
	}
	for _, fig := range figs[:2] {
		if !strings.Contains(out.String(), fig) || !strings.Contains(string(readme), fig) {
			t.Errorf("%s: in cost's output %t, in the README %t", fig, strings.Contains(out.String(), fig), strings.Contains(string(readme), fig))
		}
	}
	if code := run([]string{"cost", "--shape", "nope"}, &out, &errb); code != 1 {
		t.Errorf("an unknown shape: exit %d", code)
	}
}

func demoFile(name string) string { return filepath.Join("demo", name) }

// The same finding type, decided with the demo mapping and the demo organization: AUTO in the sandbox
// account, APPROVE in the production account, each naming the rule and the scope that decided.
func TestExplain_WithAnOrganizationNamesTheRuleAndScopeThatDecided(t *testing.T) {
	for _, tt := range []struct {
		event, mode, scope, owner string
		explain                   string
	}{
		{"findings/1_ec2_malicious_ip_caller_custom.json", "AUTO", "", "team-web", "no scope of rules[0] holds: the rule's own mode AUTO"},
		{"findings/5_ec2_malicious_ip_caller_custom_production.json", "APPROVE", "rules[0].scopes[0]", "team-payments",
			"rules[0].scopes[0] (where ous ou-demo-workload) holds: account 444455556666 is under ou-demo-workload (OU path r-demo/ou-demo-workload/ou-demo-prod0000); mode APPROVE"},
	} {
		code, stdout, stderr := runCmd(t, "explain", "--event", demoFile(tt.event), "--mapping", demoFile("mapping.json"), "--org", demoFile("organization.json"))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.event, code, stderr)
		}
		var got explanation
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.Decision != "remediate" || got.Rule != "rules[0]" || got.Scope != tt.scope || len(got.Actions) != 2 {
			t.Errorf("%s: %+v", tt.event, got)
		}
		for _, a := range got.Actions {
			if a.Mode != tt.mode {
				t.Errorf("%s: action %s in mode %s, want %s", tt.event, a.Bot, a.Mode, tt.mode)
			}
		}
		if !slices.Contains(got.Explain, tt.explain) || got.Account == nil || got.Account.Owner != tt.owner {
			t.Errorf("%s: explain %q, account %+v", tt.event, got.Explain, got.Account)
		}
	}
}

func TestExplain_AMappingThatNeedsTheOrganizationAsksForIt(t *testing.T) {
	code, _, stderr := runCmd(t, "explain", "--event", demoFile("findings/1_ec2_malicious_ip_caller_custom.json"), "--mapping", demoFile("mapping.json"))
	if code != 1 || !strings.Contains(stderr, "rules[0].scopes[0].where needs the organization") || !strings.Contains(stderr, "pass --org FILE") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "org.json")
	if err := os.WriteFile(bad, []byte(`{"accounts": {"111122223333": {"name": "x", "ouPath": ["ou-demo-sandbox0"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "explain", "--event", demoFile("findings/1_ec2_malicious_ip_caller_custom.json"), "--mapping", demoFile("mapping.json"), "--org", bad)
	if code != 1 || !strings.Contains(stderr, "accounts.111122223333.ouPath") {
		t.Errorf("bad fixture: exit %d: %s", code, stderr)
	}
	// An account the fixture does not hold is a decision that cannot be made, named.
	other := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(other, []byte(`{"accounts": {"999999999999": {"name": "x", "ouPath": ["r-demo"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "explain", "--event", demoFile("findings/1_ec2_malicious_ip_caller_custom.json"), "--mapping", demoFile("mapping.json"), "--org", other)
	if code != 1 || !strings.Contains(stderr, "organization lookup of account 111122223333: fixture") {
		t.Errorf("unknown account: exit %d: %s", code, stderr)
	}
}
