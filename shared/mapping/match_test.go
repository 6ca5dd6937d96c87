package mapping

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/finding"
)

const matchDoc = `{
  "version": 1,
  "defaults": {"minSeverity": 2, "onError": "continue"},
  "rules": [
    {"match": "UnauthorizedAccess:EC2/*", "minSeverity": 7,
     "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop", "params": {"how": "hard"}, "onError": "stop"}]},
    {"match": "Backdoor:EC2/*", "mode": "DRYRUN", "actions": [{"bot": "test_snapshot"}, {"bot": "test_stop"}]},
    {"match": "Recon:EC2/*", "mode": "NOTIFY"},
    {"match": "Policy:S3/*", "actions": [{"bot": "test_notify"}, {"bot": "test_block_bucket"}]},
    {"match": "Stealth:S3/*", "actions": [{"bot": "test_stop"}, {"bot": "test_snapshot"}]}
  ]
}`

func ec2Finding(typ string, sev float64) *finding.Finding {
	return &finding.Finding{ID: "f1", Type: typ, Severity: sev, ResourceKind: finding.KindInstance,
		AccountID: "111122223333", Region: "us-east-1", Instance: &finding.Instance{ID: "i-0123456789abcdef0"}}
}

func TestMatch(t *testing.T) {
	m := mustParse(t, matchDoc)
	with := func(f *finding.Finding, edit func(*finding.Finding)) *finding.Finding { edit(f); return f }
	s3 := func(typ string) *finding.Finding {
		return &finding.Finding{Type: typ, Severity: 8, ResourceKind: finding.KindS3Bucket, Buckets: []finding.Bucket{{Name: "b"}}}
	}
	tests := []struct {
		name        string
		f           *finding.Finding
		opts        MatchOptions
		want        Outcome
		key         string
		reason      []string
		bots        []string
		modes       string
		firstParams map[string]any
	}{
		{name: "AUTO runs the ordered actions with defaulted params and onError",
			f: ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), want: Remediate, key: "UnauthorizedAccess:EC2/*",
			reason: []string{"AUTO", "test_snapshot, test_stop"}, bots: []string{"test_snapshot", "test_stop"}, modes: "AUTO"},
		{name: "severity equal to the floor acts",
			f: ec2Finding("UnauthorizedAccess:EC2/TorClient", 7), want: Remediate, key: "UnauthorizedAccess:EC2/*",
			bots: []string{"test_snapshot", "test_stop"}},
		{name: "below the rule's floor skips naming the floor",
			f: ec2Finding("UnauthorizedAccess:EC2/TorClient", 5.5), want: Skip, key: "UnauthorizedAccess:EC2/*",
			reason: []string{"severity 5.5 is below the floor 7", "UnauthorizedAccess:EC2/*"}},
		{name: "below the default floor skips",
			f: ec2Finding("Recon:EC2/Portscan", 1), want: Skip, key: "Recon:EC2/*", reason: []string{"below the floor 2"}},
		{name: "NOTIFY is notify only",
			f: ec2Finding("Recon:EC2/Portscan", 5), want: NotifyOnly, key: "Recon:EC2/*", reason: []string{"NOTIFY"}},
		{name: "DRYRUN marks every action DRYRUN",
			f: ec2Finding("Backdoor:EC2/Spambot", 5), want: Remediate, key: "Backdoor:EC2/*",
			reason: []string{"dry run"}, bots: []string{"test_snapshot", "test_stop"}, modes: "DRYRUN"},
		{name: "no entry skips naming the type",
			f: ec2Finding("CryptoCurrency:EC2/BitcoinTool.B!DNS", 8), want: Skip,
			reason: []string{"no mapping entry for CryptoCurrency:EC2/BitcoinTool.B!DNS"}},
		{name: "archived skips first",
			f:    with(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), func(f *finding.Finding) { f.Archived, f.Sample = true, true }),
			opts: MatchOptions{AllowSamples: true}, want: Skip, reason: []string{"finding is archived"}},
		{name: "sample skips with the switch named",
			f:    with(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), func(f *finding.Finding) { f.Sample = true }),
			want: Skip, reason: []string{"GuardDuty sample finding (set GUARDBOTS_ALLOW_SAMPLE_FINDINGS=true to act on samples)"}},
		{name: "sample acts when allowed",
			f:    with(ec2Finding("UnauthorizedAccess:EC2/TorClient", 8), func(f *finding.Finding) { f.Sample = true }),
			opts: MatchOptions{AllowSamples: true}, want: Remediate, bots: []string{"test_snapshot", "test_stop"}, key: "UnauthorizedAccess:EC2/*"},
		{name: "an action whose bot does not handle the kind is left out and named",
			f: s3("Policy:S3/BucketBlockPublicAccessDisabled"), want: Remediate, key: "Policy:S3/*",
			bots: []string{"test_notify", "test_block_bucket"}},
		{name: "kind mismatch on some actions keeps the others",
			f:    with(s3("Policy:S3/BucketAnonymousAccessGranted"), func(f *finding.Finding) { f.ResourceKind = finding.KindAccessKey }),
			want: Remediate, key: "Policy:S3/*", bots: []string{"test_notify"},
			reason: []string{"test_block_bucket does not act on AccessKey findings"}},
		{name: "no action left skips with every reason",
			f: s3("Stealth:S3/ServerAccessLoggingDisabled"), want: Skip, key: "Stealth:S3/*",
			reason: []string{"test_stop does not act on S3Bucket findings", "test_snapshot does not act on S3Bucket findings", "no action left"}},
		{name: "nil finding skips", f: nil, want: Skip, reason: []string{"no finding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := m.Match(tt.f, tt.opts)
			if d.Outcome != tt.want || d.Key != tt.key {
				t.Fatalf("got %s key %q (%s), want %s key %q", d.Outcome, d.Key, d.Reason, tt.want, tt.key)
			}
			for _, r := range tt.reason {
				if !strings.Contains(d.Reason, r) {
					t.Errorf("reason %q lacks %q", d.Reason, r)
				}
			}
			if d.Actions == nil {
				t.Error("Actions is nil; the state machine's Map needs a list")
			}
			var names []string
			for _, a := range d.Actions {
				names = append(names, a.Bot)
				if tt.modes != "" && a.Mode != tt.modes {
					t.Errorf("%s mode %q, want %q", a.Bot, a.Mode, tt.modes)
				}
				if a.OnError == "" {
					t.Errorf("%s onError not defaulted", a.Bot)
				}
			}
			if !reflect.DeepEqual(names, tt.bots) {
				t.Errorf("bots %v, want %v", names, tt.bots)
			}
		})
	}
}

func TestMatch_ActionsCarryTypedParamsInJSONForm(t *testing.T) {
	m := mustParse(t, matchDoc)
	d := m.Match(ec2Finding("UnauthorizedAccess:EC2/TorClient", 9), MatchOptions{})
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"decision":"remediate","reason":"mapping entry UnauthorizedAccess:EC2/* is AUTO: test_snapshot, test_stop","mappingKey":"UnauthorizedAccess:EC2/*","actions":[` +
		`{"bot":"test_snapshot","params":{},"onError":"continue","mode":"AUTO"},` +
		`{"bot":"test_stop","params":{"how":"hard","ttl":"15m0s","wait":5},"onError":"stop","mode":"AUTO"}],"rule":"rules[0]"}`
	if string(got) != want {
		t.Errorf("decision JSON\n got %s\nwant %s", got, want)
	}
	// Skip and notify decisions carry an empty list, not null.
	if b, _ := json.Marshal(m.Match(ec2Finding("Nope:EC2/X", 9), MatchOptions{})); !strings.Contains(string(b), `"actions":[]`) {
		t.Errorf("skip JSON %s", b)
	}
}

func TestMatch_DecisionCannotChangeMapping(t *testing.T) {
	m := mustParse(t, matchDoc)
	f := ec2Finding("UnauthorizedAccess:EC2/TorClient", 9)
	d := m.Match(f, MatchOptions{})
	d.Actions[1].Params["how"] = "soft"
	d.Actions[1].Mode = "DRYRUN"
	d = m.Match(f, MatchOptions{})
	if d.Actions[1].Params["how"] != "hard" || d.Actions[1].Mode != "AUTO" {
		t.Errorf("mapping changed through a decision: %+v", d.Actions[1])
	}
}

func TestMatch_CloudBotsFormMatchesExactTypesOnly(t *testing.T) {
	m := mustParse(t, `{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": "AUTO: test_snapshot | AUTO: test_stop", "Recon:EC2/Portscan": "NOTIFY"}`)
	d := m.Match(ec2Finding("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 5), MatchOptions{})
	if d.Outcome != Remediate || len(d.Actions) != 2 || d.Actions[0].OnError != Continue || d.Key != "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" {
		t.Errorf("got %+v", d)
	}
	if d := m.Match(ec2Finding("Recon:EC2/Portscan", 1), MatchOptions{}); d.Outcome != NotifyOnly {
		t.Errorf("NOTIFY: got %+v (CloudBots has no severity floor)", d)
	}
	if d := m.Match(ec2Finding("UnauthorizedAccess:EC2/MaliciousIPCaller", 5), MatchOptions{}); d.Outcome != Skip {
		t.Errorf("prefix of a key matched: %+v", d)
	}
}

// BenchmarkMatch is Match on a typical EC2 finding against the default mapping (which needs the real
// ec2_stop_instance and notify_only bots).
func BenchmarkMatch(b *testing.B) {
	requireDefaultBots(b)
	m, err := Parse(Default())
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, typ string }{
		{"exact", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"},
		{"wildcard", "Backdoor:EC2/C&CActivity.B!DNS"},
		{"notify", "Recon:EC2/PortProbeUnprotectedPort"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := ec2Finding(tc.typ, 8)
			b.ReportAllocs()
			for b.Loop() {
				if d := m.Match(f, MatchOptions{}); d.Outcome == Skip {
					b.Fatal(d.Reason)
				}
			}
		})
	}
}

func TestMatch_StaleFindingIsSkippedOnlyWhenAMaximumAgeIsSet(t *testing.T) {
	m := mustParse(t, matchDoc)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(updated string) *finding.Finding {
		f := ec2Finding("UnauthorizedAccess:EC2/TorClient", 8)
		f.UpdatedAt = updated
		return f
	}
	opts := MatchOptions{MaxAge: 6 * time.Hour, Now: now}
	cases := []struct {
		name, updated string
		opts          MatchOptions
		want          Outcome
		reason        string
	}{
		{"fresh", "2026-03-01T07:00:00.123Z", opts, Remediate, ""},
		{"exactly the maximum age", "2026-03-01T06:00:00Z", opts, Remediate, ""},
		{"older than the maximum age", "2026-03-01T05:59:59Z", opts, Skip, "stale: GuardDuty last updated the finding at 2026-03-01T05:59:59Z, 6h0m1s ago, longer than the maximum finding age of 6h0m0s"},
		{"no updatedAt", "", opts, Skip, "stale: the finding has no readable updatedAt"},
		{"unreadable updatedAt", "yesterday", opts, Skip, `no readable updatedAt ("yesterday")`},
		{"updated in the future (clock skew)", "2026-03-01T12:05:00Z", opts, Remediate, ""},
		// match decides on the input, whose updatedAt is the sender's word: no age check there.
		{"no maximum age", "2020-01-01T00:00:00Z", MatchOptions{}, Remediate, ""},
	}
	for _, c := range cases {
		d := m.Match(at(c.updated), c.opts)
		if d.Outcome != c.want || !strings.Contains(d.Reason, c.reason) || len(d.Actions) == 0 && d.Outcome == Remediate {
			t.Errorf("%s: %s (%s), want %s with %q", c.name, d.Outcome, d.Reason, c.want, c.reason)
		}
	}
}
