package mapping

import (
	"context"
	"errors"
	"testing"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

func FuzzParseMapping(f *testing.F) {
	for _, seed := range []string{
		matchDoc,
		`{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": "AUTO: test_snapshot | AUTO: test_stop hard 3 true 1h a,b"}`,
		`{"Backdoor:EC2/Spambot": "NOTIFY | AUTO: test_snapshot"}`,
		`{"Backdoor:EC2/Spambot": "AUTO: test_stpo", "Backdoor:EC2/Spambot": "x"}`,
		`{"version": 1, "rules": [{"match": ["*", "a*b*c"], "mode": "DRYRUN", "actions": [{"bot": "test_stop", "params": {"wait": 1e300}}]}]}`,
		`{"version": 1, "rules": [{"match": "*", "mode": "APPROVE"}]}`,
		`[1, 2]`, `{"a": {"b": [[[[[]]]]]}}`, ``,
		orgDoc,
		`{"version": 1, "defaults": {"protectedOUs": ["r-ab12"]}, "rules": [{"match": "*", "where": {"accountTags": {"k": ["a", ""]}}, "scopes": [{"where": {"accounts": ["111111111111"]}, "mode": "AUTO"}], "mode": "NOTIFY", "actions": [{"bot": "test_stop"}]}]}`,
	} {
		f.Add([]byte(seed), "Backdoor:EC2/Spambot", 5.0)
	}
	f.Add(Default(), "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", 8.0)
	fixture, err := org.ParseFixture([]byte(testOrg))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte, typ string, sev float64) {
		m, err := Parse(doc)
		if err != nil {
			return
		}
		for _, k := range []finding.ResourceKind{finding.KindInstance, finding.KindS3Bucket, ""} {
			for _, lookup := range []org.Lookup{nil, fixture} {
				d, err := m.Decide(context.Background(), &finding.Finding{Type: typ, Severity: sev, ResourceKind: k, AccountID: payments}, MatchOptions{Org: lookup})
				if err != nil {
					if lookup != nil || !errors.Is(err, ErrNoOrganization) {
						t.Fatalf("decision failed with the organization at hand: %v", err)
					}
					continue
				}
				if d.Actions == nil || (d.Outcome == Remediate && len(d.Actions) == 0) {
					t.Fatalf("bad decision %+v", d)
				}
			}
		}
		_ = m.Rules()
	})
}
