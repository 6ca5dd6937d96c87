package matchstep

import (
	"context"
	"errors"
	"testing"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// unreadable is a mapping source that fails: a release request must not need the mapping.
type unreadable struct{}

func (unreadable) Mapping(context.Context) (*mapping.Mapping, error) {
	return nil, errors.New("SSM: AccessDenied")
}

// A release request goes on to verify as a remediation with no action of its own: verify plans it from
// GuardDuty's copy. Match decides nothing from the request and reads no mapping.
func TestMatcher_ReleaseRequestGoesToVerifyWithoutActions(t *testing.T) {
	p, err := steps.Parse(context.Background(), []byte(`{"guardbots":"release","findingId":"f1","accountId":"111122223333","region":"eu-west-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := steps.Transform(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Matcher{Mappings: unreadable{}}.Match(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Decision; d.Outcome != mapping.Remediate || d.Key != steps.ReleaseKey || len(d.Actions) != 0 || d.Verified || out.Finding.ID != "f1" {
		t.Errorf("decision %+v on %+v", d, out.Finding)
	}
}
