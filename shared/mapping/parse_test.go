package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, doc string, opts ...ParseOption) *Mapping {
	t.Helper()
	m, err := Parse([]byte(doc), opts...)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return m
}

func TestParse_CloudBotsVerbatim(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []Rule
	}{
		{
			name: "single AUTO tag",
			doc:  `{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": "AUTO: test_snapshot"}`,
			want: []Rule{{Match: []string{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"}, Mode: ModeAuto,
				Actions: []Action{{Bot: "test_snapshot", Params: map[string]any{}, OnError: Continue, Mode: "AUTO"}}}},
		},
		{
			name: "pipe-joined tags run in order",
			doc:  `{"Backdoor:EC2/Spambot": "AUTO: test_snapshot | AUTO: test_stop"}`,
			want: []Rule{{Match: []string{"Backdoor:EC2/Spambot"}, Mode: ModeAuto, Actions: []Action{
				{Bot: "test_snapshot", Params: map[string]any{}, OnError: Continue, Mode: "AUTO"},
				{Bot: "test_stop", Params: map[string]any{"how": "soft", "wait": 5, "ttl": "15m0s"}, OnError: Continue, Mode: "AUTO"},
			}}},
		},
		{
			name: "positional params in declaration order, typed",
			doc:  `{"Backdoor:EC2/C&CActivity.B!DNS": "AUTO: test_stop hard 3 true 1h a,b"}`,
			want: []Rule{{Match: []string{"Backdoor:EC2/C&CActivity.B!DNS"}, Mode: ModeAuto, Actions: []Action{
				{Bot: "test_stop", Params: map[string]any{"how": "hard", "wait": 3, "force": true, "ttl": "1h0m0s", "tags": []string{"a", "b"}}, OnError: Continue, Mode: "AUTO"},
			}}},
		},
		{
			name: "no space after AUTO: and extra spaces",
			doc:  `{"Trojan:EC2/DNSDataExfiltration": "  AUTO:test_snapshot  "}`,
			want: []Rule{{Match: []string{"Trojan:EC2/DNSDataExfiltration"}, Mode: ModeAuto,
				Actions: []Action{{Bot: "test_snapshot", Params: map[string]any{}, OnError: Continue, Mode: "AUTO"}}}},
		},
		{
			name: "NOTIFY and any other word mean notify only",
			doc:  `{"Recon:EC2/PortProbeUnprotectedPort": "NOTIFY", "Recon:EC2/Portscan": "REPORT", "Recon:IAMUser/UserPermissions": ""}`,
			want: []Rule{
				{Match: []string{"Recon:EC2/PortProbeUnprotectedPort"}, Mode: ModeNotify, Actions: []Action{}},
				{Match: []string{"Recon:EC2/Portscan"}, Mode: ModeNotify, Actions: []Action{}},
				{Match: []string{"Recon:IAMUser/UserPermissions"}, Mode: ModeNotify, Actions: []Action{}},
			},
		},
		{
			name: "mixed AUTO and non-AUTO tags: the AUTO ones run",
			doc:  `{"Backdoor:EC2/Spambot": "NOTIFY | AUTO: test_snapshot | TICKET"}`,
			want: []Rule{{Match: []string{"Backdoor:EC2/Spambot"}, Mode: ModeAuto,
				Actions: []Action{{Bot: "test_snapshot", Params: map[string]any{}, OnError: Continue, Mode: "AUTO"}}}},
		},
		{
			name: "empty document maps nothing",
			doc:  `{}`,
			want: []Rule{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.doc)
			if m.Form() != FormCloudBots {
				t.Errorf("Form() = %q, want cloudbots", m.Form())
			}
			if got := m.Rules(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rules()\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParse_RichForm(t *testing.T) {
	doc := `{
	  "version": 1,
	  "defaults": {"minSeverity": 4, "onError": "stop"},
	  "rules": [
	    {"match": "UnauthorizedAccess:EC2/*", "minSeverity": 7, "mode": "AUTO", "note": "contain",
	     "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop", "params": {"how": "hard", "wait": 2, "force": true, "ttl": "30m", "tags": ["x"]}, "onError": "continue"}]},
	    {"match": ["Recon:EC2/*", "Discovery:S3/*"], "mode": "NOTIFY"},
	    {"match": "Policy:S3/*", "mode": "DRYRUN", "actions": [{"bot": "test_block_bucket"}]}
	  ]
	}`
	m := mustParse(t, doc)
	if m.Form() != FormRich {
		t.Fatalf("Form() = %q, want rich", m.Form())
	}
	want := []Rule{
		{Match: []string{"UnauthorizedAccess:EC2/*"}, MinSeverity: 7, Mode: ModeAuto, Note: "contain", Actions: []Action{
			{Bot: "test_snapshot", Params: map[string]any{}, OnError: Stop, Mode: "AUTO"},
			{Bot: "test_stop", Params: map[string]any{"how": "hard", "wait": 2, "force": true, "ttl": "30m0s", "tags": []string{"x"}}, OnError: Continue, Mode: "AUTO"},
		}},
		{Match: []string{"Recon:EC2/*", "Discovery:S3/*"}, MinSeverity: 4, Mode: ModeNotify, Actions: []Action{}},
		{Match: []string{"Policy:S3/*"}, MinSeverity: 4, Mode: ModeDryRun, Actions: []Action{
			{Bot: "test_block_bucket", Params: map[string]any{}, OnError: Stop, Mode: "AUTO"},
		}},
	}
	if got := m.Rules(); !reflect.DeepEqual(got, want) {
		t.Errorf("Rules()\n got %#v\nwant %#v", got, want)
	}
}

func TestParse_RichFormDefaultModeApplies(t *testing.T) {
	m := mustParse(t, `{"version": 1, "defaults": {"mode": "DRYRUN"}, "rules": [{"match": "*", "actions": [{"bot": "test_snapshot"}]}]}`)
	if got := m.Rules()[0].Mode; got != ModeDryRun {
		t.Errorf("mode = %s, want DRYRUN from defaults", got)
	}
}

func TestParse_RulesCopyCannotChangeMapping(t *testing.T) {
	m := mustParse(t, `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"tags": ["a"]}}]}]}`)
	r := m.Rules()
	r[0].Actions[0].Params["how"] = "hard"
	r[0].Actions[0].Params["tags"].([]string)[0] = "changed"
	again := m.Rules()[0].Actions[0].Params
	if again["how"] != "soft" || again["tags"].([]string)[0] != "a" {
		t.Errorf("mapping changed through Rules(): %v", again)
	}
}

// TestParse_Invalid checks that every rejection names the key and the reason.
func TestParse_Invalid(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		opts    []ParseOption
		key     string
		reasons []string
	}{
		// document
		{"not JSON", `{"a": `, nil, "", []string{"not JSON"}},
		{"trailing data", `{} {}`, nil, "", []string{"after the top-level object"}},
		{"array", `[{"a": "b"}]`, nil, "", []string{"must be a JSON object", "an array"}},
		{"string", `"AUTO: test_stop"`, nil, "", []string{"must be a JSON object", "a string"}},
		{"null", `null`, nil, "", []string{"must be a JSON object", "null"}},
		{"empty", ``, nil, "", []string{"not JSON"}},
		// CloudBots form
		{"cloudbots unknown bot lists close names", `{"Backdoor:EC2/Spambot": "AUTO: test_stpo"}`, nil,
			"Backdoor:EC2/Spambot", []string{`unknown bot "test_stpo"`, "did you mean", "test_stop"}},
		{"cloudbots extra positional params", `{"Backdoor:EC2/Spambot": "AUTO: test_snapshot now"}`, nil,
			"Backdoor:EC2/Spambot", []string{"test_snapshot takes 0 parameter(s)"}},
		{"cloudbots bad positional enum", `{"Backdoor:EC2/Spambot": "AUTO: test_stop brutal"}`, nil,
			"Backdoor:EC2/Spambot", []string{`"how"`, `"brutal" is not one of soft, hard`}},
		{"cloudbots int out of range", `{"Backdoor:EC2/Spambot": "AUTO: test_stop soft 11"}`, nil,
			"Backdoor:EC2/Spambot", []string{`"wait"`, "outside 1..10"}},
		{"cloudbots missing required param", `{"Backdoor:EC2/Spambot": "AUTO: test_terminate"}`, nil,
			"Backdoor:EC2/Spambot", []string{`"reason" is required`}},
		{"cloudbots AUTO names no bot", `{"Backdoor:EC2/Spambot": "AUTO:"}`, nil,
			"Backdoor:EC2/Spambot", []string{"names no bot"}},
		{"cloudbots lower-case auto", `{"Backdoor:EC2/Spambot": "auto: test_stop"}`, nil,
			"Backdoor:EC2/Spambot", []string{"upper case"}},
		{"cloudbots non-string value", `{"Backdoor:EC2/Spambot": ["AUTO: test_stop"]}`, nil,
			"Backdoor:EC2/Spambot", []string{"value must be a string", "a list"}},
		{"cloudbots wildcard key", `{"Backdoor:EC2/*": "AUTO: test_stop"}`, nil,
			"Backdoor:EC2/*", []string{"exact finding types", "rich form"}},
		{"cloudbots illegal character", `{"Backdoor:EC2/Spam bot": "NOTIFY"}`, nil,
			"Backdoor:EC2/Spam bot", []string{"illegal character", "' '"}},
		{"cloudbots empty key", `{"": "NOTIFY"}`, nil, "", []string{"empty pattern"}},
		{"duplicate top-level key", `{"Backdoor:EC2/Spambot": "AUTO: test_stop", "Backdoor:EC2/Spambot": "NOTIFY"}`, nil,
			"Backdoor:EC2/Spambot", []string{"more than once"}},
		// rich form: document
		{"rich missing version", `{"rules": []}`, nil, "version", []string{"missing", `"version": 1`}},
		{"rich version 2", `{"version": 2, "rules": []}`, nil, "version", []string{"unsupported version 2"}},
		{"rich missing rules", `{"version": 1}`, nil, "rules", []string{"missing"}},
		{"rich unknown top-level field", `{"version": 1, "rules": [], "rulez": []}`, nil, "", []string{`unknown field "rulez"`}},
		{"rich unknown defaults field", `{"version": 1, "defaults": {"minSeverty": 4}, "rules": []}`, nil, "", []string{`unknown field "minSeverty"`}},
		{"rich rules not a list", `{"version": 1, "rules": {}}`, nil, "", []string{`"rules"`, "want a list", "object"}},
		{"rich defaults bad onError", `{"version": 1, "defaults": {"onError": "retry"}, "rules": []}`, nil,
			"defaults.onError", []string{`"retry" is not continue or stop`}},
		{"rich defaults severity too high", `{"version": 1, "defaults": {"minSeverity": 11}, "rules": []}`, nil,
			"defaults.minSeverity", []string{"outside 0–10"}},
		// rich form: rules
		{"rich unknown rule field", `{"version": 1, "rules": [{"match": "*", "mode": "NOTIFY", "minSeverty": 7}]}`, nil,
			"rules[0]", []string{`unknown field "minSeverty"`}},
		{"rich missing match", `{"version": 1, "rules": [{"mode": "NOTIFY"}]}`, nil, "rules[0].match", []string{"missing"}},
		{"rich match wrong type", `{"version": 1, "rules": [{"match": 7, "mode": "NOTIFY"}]}`, nil, "rules[0]", []string{"match must be", "a number"}},
		{"rich empty pattern", `{"version": 1, "rules": [{"match": "", "mode": "NOTIFY"}]}`, nil, "rules[0].match", []string{"empty pattern"}},
		{"rich double star", `{"version": 1, "rules": [{"match": "Backdoor:**", "mode": "NOTIFY"}]}`, nil, "rules[0].match", []string{`"**" is not allowed`}},
		{"rich illegal character in a list", `{"version": 1, "rules": [{"match": ["Recon:EC2/*", "Recon:EC2/Port?"], "mode": "NOTIFY"}]}`, nil,
			"rules[0].match[1]", []string{"illegal character", "'?'"}},
		{"rich duplicate pattern", `{"version": 1, "rules": [{"match": "Recon:*", "mode": "NOTIFY"}, {"match": ["Backdoor:*", "Recon:*"], "mode": "NOTIFY"}]}`, nil,
			"rules[1].match[1]", []string{`"Recon:*" is already used by rules[0]`}},
		{"rich bad mode", `{"version": 1, "rules": [{"match": "*", "mode": "auto", "actions": [{"bot": "test_snapshot"}]}]}`, nil,
			"rules[0].mode", []string{`"auto" is not AUTO, NOTIFY, DRYRUN or APPROVE`}},
		{"rich empty actions in APPROVE", `{"version": 1, "rules": [{"match": "*", "mode": "APPROVE"}]}`, nil,
			"rules[0].actions", []string{"empty in APPROVE mode"}},
		{"rich approval timeout too short", `{"version": 1, "rules": [{"match": "*", "mode": "APPROVE", "approvalTimeoutSeconds": 5, "actions": [{"bot": "test_stop"}]}]}`, nil,
			"rules[0].approvalTimeoutSeconds", []string{"5 is outside 60–86400 seconds"}},
		{"rich default approval timeout too long", `{"version": 1, "defaults": {"approvalTimeoutSeconds": 90000}, "rules": [{"match": "*", "mode": "NOTIFY"}]}`, nil,
			"defaults.approvalTimeoutSeconds", []string{"90000 is outside"}},
		{"rich protected account not an account id", `{"version": 1, "defaults": {"protectedAccounts": ["111122223333", "prod"]}, "rules": [{"match": "*", "mode": "NOTIFY"}]}`, nil,
			"defaults.protectedAccounts[1]", []string{`"prod" is not a 12-digit AWS account id`}},
		{"rich minSeverity negative", `{"version": 1, "rules": [{"match": "*", "mode": "NOTIFY", "minSeverity": -1}]}`, nil,
			"rules[0].minSeverity", []string{"-1 is outside 0–10"}},
		{"rich minSeverity not a number", `{"version": 1, "rules": [{"match": "*", "mode": "NOTIFY", "minSeverity": "7"}]}`, nil,
			"rules[0]", []string{"minSeverity", "want a number", "string"}},
		{"rich empty actions in AUTO", `{"version": 1, "rules": [{"match": "*"}]}`, nil,
			"rules[0].actions", []string{"empty in AUTO mode"}},
		{"rich empty actions in DRYRUN", `{"version": 1, "rules": [{"match": "*", "mode": "DRYRUN", "actions": []}]}`, nil,
			"rules[0].actions", []string{"empty in DRYRUN mode"}},
		{"rich duplicate field in a rule", `{"version": 1, "rules": [{"match": "*", "match": "Recon:*", "mode": "NOTIFY"}]}`, nil,
			"rules[0]", []string{`duplicate field "match"`}},
		{"rich duplicate param", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"wait": 1, "wait": 2}}]}]}`, nil,
			"rules[0].actions[0].params", []string{`duplicate field "wait"`}},
		// rich form: actions
		{"rich unknown bot", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop_instance"}]}]}`, nil,
			"rules[0].actions[1]", []string{`unknown bot "test_stop_instance"`, "test_stop"}},
		{"rich unknown bot far from every name lists them", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "zz"}]}]}`, nil,
			"rules[0].actions[0]", []string{`unknown bot "zz"`, "bots are registered, e.g. cloudtrail_start_logging, ec2_block_remote_ip"}},
		{"rich missing bot", `{"version": 1, "rules": [{"match": "*", "actions": [{"params": {}}]}]}`, nil,
			"rules[0].actions[0]", []string{`missing "bot"`}},
		{"rich unknown param", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"hwo": "hard"}}]}]}`, nil,
			"rules[0].actions[0]", []string{`no parameter "hwo"`, "how, wait, force, ttl, tags"}},
		{"rich param wrong type", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"force": 1}}]}]}`, nil,
			"rules[0].actions[0]", []string{`"force"`, "want true or false"}},
		{"rich int param not integral", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"wait": 2.5}}]}]}`, nil,
			"rules[0].actions[0]", []string{`"wait"`, "integer"}},
		{"rich bad duration", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "params": {"ttl": "soon"}}]}]}`, nil,
			"rules[0].actions[0]", []string{`"ttl"`, "duration"}},
		{"rich bad action onError", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "onError": "ignore"}]}]}`, nil,
			"rules[0].actions[0].onError", []string{`"ignore" is not continue or stop`}},
		{"rich unknown action field", `{"version": 1, "rules": [{"match": "*", "actions": [{"bot": "test_stop", "parms": {}}]}]}`, nil,
			"rules[0].actions[0]", []string{`unknown field "parms"`}},
		{"rich NOTIFY actions are still validated", `{"version": 1, "rules": [{"match": "*", "mode": "NOTIFY", "actions": [{"bot": "nope_bot"}]}]}`, nil,
			"rules[0].actions[0]", []string{`unknown bot "nope_bot"`}},
		// size
		{"over the standard tier", `{"Backdoor:EC2/Spambot": "NOTIFY` + strings.Repeat(" ", 4100) + `"}`, []ParseOption{WithTier(TierStandard)},
			"", []string{"over the 4096-byte limit of an SSM parameter in the Standard tier", "4134 bytes", "Advanced"}},
		{"over the advanced tier by default", `{"Backdoor:EC2/Spambot": "NOTIFY` + strings.Repeat(" ", 8200) + `"}`, nil,
			"", []string{"over the 8192-byte limit of an SSM parameter in the Advanced tier", "8234 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.doc), tt.opts...)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", m.Rules())
			}
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("error %T %v is not an *InvalidError", err, err)
			}
			for _, p := range inv.Problems {
				if p.Key != tt.key {
					continue
				}
				ok := true
				for _, r := range tt.reasons {
					ok = ok && strings.Contains(p.Reason, r)
				}
				if ok {
					if !strings.Contains(err.Error(), p.String()) {
						t.Errorf("Error() %q does not carry the problem %q", err, p)
					}
					return
				}
			}
			t.Errorf("no problem with key %q and reason containing %q in\n%v", tt.key, tt.reasons, err)
		})
	}
}

func TestParse_ReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"Backdoor:EC2/Spambot": "AUTO: nope", "Recon:EC2/Portscan": "AUTO: test_snapshot x"}`))
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "invalid mapping (2 problems): Backdoor:EC2/Spambot: ") {
		t.Errorf("message %q", err)
	}
}

func TestValidateSize(t *testing.T) {
	doc := make([]byte, 4096)
	if err := ValidateSize(doc, TierStandard); err != nil {
		t.Errorf("4096 bytes in Standard: %v", err)
	}
	if err := ValidateSize(append(doc, ' '), TierStandard); err == nil || !strings.Contains(err.Error(), "4097 bytes") {
		t.Errorf("4097 bytes in Standard: %v", err)
	}
	if err := ValidateSize(append(doc, ' '), TierAdvanced); err != nil {
		t.Errorf("4097 bytes in Advanced: %v", err)
	}
	if err := ValidateSize(doc, "Intelligent-Tiering"); err == nil {
		t.Error("unknown tier accepted")
	}
}

func TestParse_PrecedenceIndependentOfDocumentOrder(t *testing.T) {
	// Specificity, not position, decides; equal specificity falls back to document order.
	doc := `{"version": 1, "rules": [
	  {"match": "*", "mode": "NOTIFY"},
	  {"match": "Backdoor:*", "actions": [{"bot": "test_notify"}]},
	  {"match": "Backdoor:EC2/*", "actions": [{"bot": "test_snapshot"}]},
	  {"match": "*:EC2/Spambot", "actions": [{"bot": "test_stop"}]},
	  {"match": "Backdoor:EC2/Spambot", "mode": "DRYRUN", "actions": [{"bot": "test_snapshot"}]},
	  {"match": "Trojan:*", "mode": "NOTIFY"},
	  {"match": "*:IAMUser/*", "actions": [{"bot": "test_notify"}]},
	  {"match": "Recon:*", "actions": [{"bot": "test_notify"}]},
	  {"match": "*IAMUser/*", "mode": "NOTIFY"}
	]}`
	m := mustParse(t, doc)
	tests := []struct{ typ, key string }{
		{"Backdoor:EC2/Spambot", "Backdoor:EC2/Spambot"},             // exact beats every wildcard
		{"Backdoor:EC2/C&CActivity.B!DNS", "Backdoor:EC2/*"},         // more literals
		{"Backdoor:Lambda/C&CActivity.B", "Backdoor:*"},              // only one
		{"Trojan:EC2/DNSDataExfiltration!DNS", "Trojan:*"},           // catch-all loses
		{"Recon:EC2/Portscan", "Recon:*"},                            // catch-all loses
		{"Recon:IAMUser/UserPermissions", "*:IAMUser/*"},             // 10 literals beat 6
		{"Stealth:IAMUser/CloudTrailLoggingDisabled", "*:IAMUser/*"}, // 10 beat 9
		{"Impact:S3/ObjectDeletion.Unusual", "*"},                    // only the catch-all
		{"CryptoCurrency:EC2/BitcoinTool.B!DNS", "*"},
	}
	for _, tt := range tests {
		e, ok := m.lookup(tt.typ)
		if !ok || e.pat.raw != tt.key {
			t.Errorf("lookup(%s) = %q, want %q", tt.typ, e.pat.raw, tt.key)
		}
	}
	// Equal literal count and prefix: the earlier rule wins, whichever it is.
	for _, order := range [][2]string{{"*:EC2/*", "*:EC*/x"}, {"*:EC*/x", "*:EC2/*"}} {
		m = mustParse(t, `{"version": 1, "rules": [{"match": "`+order[0]+`", "mode": "NOTIFY"}, {"match": "`+order[1]+`", "mode": "NOTIFY"}]}`)
		if e, _ := m.lookup("A:EC2/x"); e.pat.raw != order[0] {
			t.Errorf("tie %v: got %q, want the first rule", order, e.pat.raw)
		}
	}
}

func TestPattern_Matches(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "Backdoor:EC2/C&CActivity.B!DNS", true},
		{"Backdoor:EC2/*", "Backdoor:EC2/C&CActivity.B!DNS", true},
		{"Backdoor:EC2/*", "Backdoor:EC2/", true},
		{"Backdoor:EC2/*", "Backdoor:EC2", false},
		{"*!DNS", "Trojan:EC2/BlackholeTraffic!DNS", true},
		{"*!DNS", "Trojan:EC2/BlackholeTraffic", false},
		{"*:EC2/*.Custom", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", true},
		{"*:EC2/*.Custom", "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*a*b*c*", "xaxbxc", true},
		{"*a*b*c*", "xcxbxa", false},
		{"Recon:EC2/Portscan", "Recon:EC2/Portscan", true},
		{"Recon:EC2/Portscan", "Recon:EC2/PortscanX", false},
		{"recon:EC2/Portscan", "Recon:EC2/Portscan", false}, // case matters: GuardDuty types are fixed
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pat)
		if err != nil {
			t.Fatalf("compile %q: %v", tt.pat, err)
		}
		if got := p.match(tt.s); got != tt.want {
			t.Errorf("%q.match(%q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}
