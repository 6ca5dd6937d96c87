package matchstep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// flaky answers from a fixture, or fails every lookup with err.
type flaky struct {
	f   *org.Fixture
	err error
}

func (l flaky) Account(ctx context.Context, id string) (org.Account, error) {
	if l.err != nil {
		return org.Account{}, &org.Error{Account: id, Call: "organizations:DescribeAccount", Err: l.err}
	}
	return l.f.Account(ctx, id)
}

func orgMatcher(t *testing.T, doc string, l org.Lookup) Matcher {
	t.Helper()
	m, err := mapping.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return Matcher{Mappings: mapping.Static{M: m}, Options: mapping.MatchOptions{Org: l}, OwnerTag: "owner"}
}

func orgFinding(account string) *finding.Finding {
	return &finding.Finding{ID: "f1", Type: "Backdoor:EC2/Spambot", Severity: 8, AccountID: account, Region: "us-east-1",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}
}

func fixture(t *testing.T) *org.Fixture {
	t.Helper()
	f, err := org.ParseFixture([]byte(`{"accounts": {"444455556666": {"name": "payments-prod", "ouPath": ["r-ab12", "ou-ab12-prod0000"], "tags": {"owner": "team-payments"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMatcher_CarriesTheAccountForTheNotification(t *testing.T) {
	m := orgMatcher(t, `{"version": 1, "rules": [{"match": "Backdoor:EC2/*", "actions": [{"bot": "ec2_stop_instance"}],
	  "scopes": [{"where": {"accountTags": {"owner": "team-payments"}}, "mode": "APPROVE"}]}]}`, flaky{f: fixture(t)})
	out, err := m.Match(context.Background(), steps.Transformed{Finding: orgFinding("444455556666")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decision
	if d.Scope != "rules[0].scopes[0]" || d.Actions[0].Mode != "APPROVE" {
		t.Errorf("decision %+v", d)
	}
	if a := d.Account; a == nil || a.Name != "payments-prod" || a.Owner != "team-payments" || a.OwnerTag != "owner" ||
		strings.Join(a.OUPath, "/") != "r-ab12/ou-ab12-prod0000" {
		t.Errorf("account %+v", d.Account)
	}
}

func TestMatcher_AFailedLookupFailsOnlyDecisionsThatNeedIt(t *testing.T) {
	throttle := &orgtypes.TooManyRequestsException{Message: aws.String("slow down")}
	// No rule needs the organization: decided, and the notification says what is missing.
	m := orgMatcher(t, `{"version": 1, "rules": [{"match": "Backdoor:EC2/*", "actions": [{"bot": "ec2_stop_instance"}]}]}`, flaky{err: throttle})
	out, err := m.Match(context.Background(), steps.Transformed{Finding: orgFinding("444455556666")})
	if err != nil || out.Decision.Outcome != mapping.Remediate {
		t.Fatalf("%+v %v", out.Decision, err)
	}
	if a := out.Decision.Account; a == nil || a.ID != "444455556666" || !strings.Contains(a.Unavailable, "organizations:DescribeAccount") {
		t.Errorf("account %+v", out.Decision.Account)
	}
	// A rule that needs it: the step fails, throttled, so the state machine retries it with backoff.
	m = orgMatcher(t, `{"version": 1, "rules": [{"match": "Backdoor:EC2/*", "where": {"ous": ["ou-ab12-prod0000"]}, "actions": [{"bot": "ec2_stop_instance"}]}]}`, flaky{err: throttle})
	_, err = m.Match(context.Background(), steps.Transformed{Finding: orgFinding("444455556666")})
	if faults.Classify(err) != faults.Throttled || !strings.Contains(err.Error(), "account 444455556666") {
		t.Errorf("err = %v (%s)", err, faults.Classify(err))
	}
	var le *org.Error
	if !errors.As(err, &le) {
		t.Errorf("err %v carries no org.Error", err)
	}
}

func TestHandler_BadOrganizationSettingFailsInit(t *testing.T) {
	kumoEnv(t)
	t.Setenv(deployment.EnvOrgLookups, "maybe")
	if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), deployment.EnvOrgLookups) {
		t.Errorf("err = %v", err)
	}
	t.Setenv(deployment.EnvOrgLookups, "")
	t.Setenv(deployment.EnvProtectedOUs, "Production")
	if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), deployment.EnvProtectedOUs) {
		t.Errorf("err = %v", err)
	}
}
