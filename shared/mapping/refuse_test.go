package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/finding"
)

// The attack: whoever can write the SSM parameter switches on a destructive bot for every finding, in
// AUTO. The whole document is refused, naming the rule, whatever form it is written in and wherever the
// mode comes from; the same bot in APPROVE, DRYRUN or NOTIFY is accepted.
func TestParse_ADestructiveBotInAutoIsRefusedNamingTheRule(t *testing.T) {
	for name, c := range map[string]struct{ doc, key string }{
		"rich, every finding": {`{"version": 1, "rules": [
			{"match": "Recon:EC2/*", "mode": "NOTIFY"},
			{"match": "*", "mode": "AUTO", "actions": [{"bot": "test_snapshot"}, {"bot": "test_terminate", "params": {"reason": "x"}}]}]}`,
			"rules[1].actions[1]"},
		"rich, AUTO by default": {`{"version": 1, "rules": [{"match": "Backdoor:EC2/*", "actions": [{"bot": "test_terminate", "params": {"reason": "x"}}]}]}`,
			"rules[0].actions[0]"},
		"rich, AUTO from defaults.mode": {`{"version": 1, "defaults": {"mode": "AUTO"}, "rules": [{"match": "Backdoor:EC2/*", "actions": [{"bot": "test_terminate", "params": {"reason": "x"}}]}]}`,
			"rules[0].actions[0]"},
		"cloudbots": {`{"Backdoor:EC2/Spambot": "AUTO: test_snapshot | AUTO: test_terminate because"}`, "Backdoor:EC2/Spambot"},
	} {
		_, err := Parse([]byte(c.doc))
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%s: accepted (%v)", name, err)
			continue
		}
		found := false
		for _, p := range inv.Problems {
			if p.Key == c.key && strings.Contains(p.Reason, "test_terminate is destructive") && strings.Contains(p.Reason, "AUTO mode is refused") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems %v, want one at %s refusing AUTO for test_terminate", name, inv.Problems, c.key)
		}
	}
	for _, mode := range []string{"APPROVE", "DRYRUN", "NOTIFY"} {
		doc := `{"version": 1, "rules": [{"match": "*", "mode": "` + mode + `", "actions": [{"bot": "test_terminate", "params": {"reason": "x"}}]}]}`
		m, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", mode, err)
			continue
		}
		d := m.Match(&finding.Finding{Type: "Backdoor:EC2/Spambot", Severity: 8, ResourceKind: finding.KindInstance}, MatchOptions{})
		if mode != "NOTIFY" && (d.Outcome != Remediate || d.Actions[0].Mode != mode) {
			t.Errorf("%s: decision %+v", mode, d)
		}
	}
}

// The attack: the SSM mapping names a bot the deployment did not enable (it has no Lambda, no role).
// With the deployment's bots, the document is refused naming the bot, the rule and the context key that
// enables it; without the option (explain, tests) it parses.
func TestParse_WithDeployedBotsRefusesABotTheDeploymentDoesNotRun(t *testing.T) {
	doc := `{"version": 1, "rules": [
		{"match": "Backdoor:EC2/*", "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop"}]},
		{"match": "Recon:EC2/*", "mode": "NOTIFY", "actions": [{"bot": "test_block_bucket"}]}]}`
	if _, err := Parse([]byte(doc)); err != nil {
		t.Fatalf("without the option: %v", err)
	}
	if _, err := Parse([]byte(doc), WithDeployedBots([]string{"test_snapshot", "test_stop", "test_block_bucket"})); err != nil {
		t.Fatalf("every bot deployed: %v", err)
	}
	_, err := Parse([]byte(doc), WithDeployedBots([]string{"test_snapshot"}))
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 2 {
		t.Fatalf("err = %v, want two problems", err)
	}
	for i, want := range []struct{ key, bot string }{{"rules[0].actions[1]", "test_stop"}, {"rules[1].actions[0]", "test_block_bucket"}} {
		p := inv.Problems[i]
		if p.Key != want.key || !strings.Contains(p.Reason, "bot "+want.bot+" is not deployed") ||
			!strings.Contains(p.Reason, "context enabledBots") || !strings.Contains(p.Reason, "needs a deploy") {
			t.Errorf("problem %d = %v, want %s not deployed at %s", i, p, want.bot, want.key)
		}
	}
	// An empty deployment runs no bot: any action is refused; a notify-only document is fine.
	if _, err := Parse([]byte(`{"Backdoor:EC2/Spambot": "AUTO: test_snapshot"}`), WithDeployedBots(nil)); err == nil || !strings.Contains(err.Error(), "runs none") {
		t.Errorf("no bot deployed: %v", err)
	}
	if _, err := Parse([]byte(`{"Backdoor:EC2/Spambot": "NOTIFY"}`), WithDeployedBots(nil)); err != nil {
		t.Errorf("notify only, no bot deployed: %v", err)
	}
}
