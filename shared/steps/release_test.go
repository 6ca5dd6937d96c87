package steps

import (
	"context"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
)

// A release request is recognized only as itself, and only in its strict form: it names a finding and
// nothing else, so no field of it can reach a bot.
func TestParse_ReleaseRequestIsAFindingWithItsIdAccountAndRegionOnly(t *testing.T) {
	p, err := Parse(context.Background(), []byte(`{"guardbots":"release","findingId":"60baffd3f9042e38640f2300d5c5a631","accountId":"111122223333","region":"eu-west-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Transform(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	f := tr.Finding
	if !IsRelease(f) || f.ID != "60baffd3f9042e38640f2300d5c5a631" || f.AccountID != "111122223333" || f.Region != "eu-west-1" ||
		f.Type != "" || f.Instance != nil || f.ResourceKind != "" {
		t.Errorf("release finding %+v", f)
	}

	for name, raw := range map[string]string{
		"extra member (a decision)": `{"guardbots":"release","findingId":"f1","accountId":"111122223333","region":"eu-west-1","decision":{"actions":[{"bot":"ec2_terminate_instance"}]}}`,
		"extra member (a bot)":      `{"guardbots":"release","findingId":"f1","accountId":"111122223333","region":"eu-west-1","bot":"iam_quarantine_user"}`,
		"quote in the id":           `{"guardbots":"release","findingId":"f1\"; rm","accountId":"111122223333","region":"eu-west-1"}`,
		"space in the id":           `{"guardbots":"release","findingId":"f 1","accountId":"111122223333","region":"eu-west-1"}`,
		"no id":                     `{"guardbots":"release","accountId":"111122223333","region":"eu-west-1"}`,
		"short account":             `{"guardbots":"release","findingId":"f1","accountId":"1111","region":"eu-west-1"}`,
		"region not a region":       `{"guardbots":"release","findingId":"f1","accountId":"111122223333","region":"eu-west-1\n"}`,
		"id as a number":            `{"guardbots":"release","findingId":1,"accountId":"111122223333","region":"eu-west-1"}`,
	} {
		_, err := Parse(context.Background(), []byte(raw))
		if err == nil || faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Not a release request: parse judges it as an event (and rejects this one as no finding).
	for _, raw := range []string{`{"guardbots":"other","findingId":"f1"}`, `{"detail":{"guardbots":"release"}}`} {
		if p, err := Parse(context.Background(), []byte(raw)); err == nil && p.Source == SourceRelease {
			t.Errorf("%s parsed as a release request", raw)
		}
	}
}
