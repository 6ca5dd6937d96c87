package health

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/plan"
)

// fakeDescribe answers DescribeOrganization (an SDK-level stub: the emulator does not serve Organizations).
type fakeDescribe struct {
	management string
	err        error
	calls      int
}

func (f *fakeDescribe) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &organizations.DescribeOrganizationOutput{Organization: &orgtypes.Organization{Id: aws.String("o-abcdefghij"), MasterAccountId: aws.String(f.management)}}, nil
}

const mgmt = "777788889999"

// probedAccounts are the accounts each bot was probed in.
func probedAccounts(rep Report) map[string][]string {
	out := map[string][]string{}
	for _, b := range rep.Bots {
		for _, r := range b.Results {
			out[b.Bot] = append(out[b.Bot], r.Account)
		}
		slices.Sort(out[b.Bot])
	}
	return out
}

// The management account has member roles only for the bots the deployment gives it (none by default,
// managementAccountMember): the others are not probed there — no daily "denied" for a role absent by
// design — and the report says which and why. Where the management account is not configured, the check
// asks Organizations which account it is.
func TestHealth_TheManagementAccountIsProbedOnlyForTheBotsWithARoleThere(t *testing.T) {
	ctx := context.Background()
	for name, m := range map[string]Management{
		"named by context":        {Account: mgmt, Bots: []string{"ec2_stop_instance"}},
		"read from Organizations": {Bots: []string{"ec2_stop_instance"}, Lookup: &fakeDescribe{management: mgmt}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, nil, "ec2_stop_instance", "iam_deactivate_access_key")
			r.checker.Management = m
			r.checker.Organization = fakeOrg{accounts: []orgtypes.Account{acct("444455556666", "ACTIVE"), acct(mgmt, "ACTIVE")}}
			rep, err := r.checker.Run(ctx, r.input())
			if err != nil {
				t.Fatal(err)
			}
			got := probedAccounts(rep)
			if !slices.Equal(got["ec2_stop_instance"], []string{"444455556666", mgmt}) || !slices.Equal(got["iam_deactivate_access_key"], []string{"444455556666"}) {
				t.Errorf("probed %v", got)
			}
			if len(rep.NotProbed) != 1 || rep.NotProbed[0].Bot != "iam_deactivate_access_key" || rep.NotProbed[0].Account != mgmt ||
				!strings.Contains(rep.NotProbed[0].Reason, "managementAccountMember") {
				t.Errorf("not probed %+v", rep.NotProbed)
			}
			if !rep.OK || rep.Counts[plan.ProbeOK] != 3 || len(r.published.sent) != 0 {
				t.Errorf("report %+v, %d notifications", rep, len(r.published.sent))
			}
			var out strings.Builder
			if err := Print(&out, rep); err != nil || !strings.Contains(out.String(), "not probed: bot iam_deactivate_access_key in account "+mgmt) {
				t.Errorf("printed %q (%v)", out.String(), err)
			}
		})
	}

	// By default no bot has a role there: a list naming only the management account probes nothing.
	r := newRig(t, nil, "ec2_stop_instance")
	r.checker.Management = Management{Account: mgmt}
	rep, err := r.checker.Run(ctx, r.input(mgmt))
	if err != nil || len(rep.NotProbed) != 1 || len(probedAccounts(rep)) != 0 || len(r.bots.sent) != 0 {
		t.Errorf("report %+v, %d probes sent (%v)", rep, len(r.bots.sent), err)
	}
}

// An account in no organization has no management account to leave out; any other failure to name it
// stops the check (probing it for every bot would raise the denied alarm for roles absent by design).
func TestHealth_AManagementAccountThatCannotBeReadStopsTheCheck(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil, "ec2_stop_instance")
	r.checker.Management = Management{Lookup: &fakeDescribe{err: &orgtypes.AWSOrganizationsNotInUseException{Message: aws.String("not in an organization")}}}
	if rep, err := r.checker.Run(ctx, r.input("444455556666")); err != nil || rep.Counts[plan.ProbeOK] != 1 || len(rep.NotProbed) != 0 {
		t.Errorf("no organization: %+v (%v)", rep, err)
	}
	r.checker.Management = Management{Lookup: &fakeDescribe{err: errors.New("AccessDeniedException: no")}}
	if _, err := r.checker.Run(ctx, r.input("444455556666")); err == nil || !strings.Contains(err.Error(), "organizations:DescribeOrganization") {
		t.Errorf("DescribeOrganization failing: %v", err)
	}
	r.checker.Management = Management{Lookup: &fakeDescribe{management: "not-an-account"}}
	if _, err := r.checker.Run(ctx, r.input("444455556666")); err == nil || !strings.Contains(err.Error(), "named no management account") {
		t.Errorf("no management account named: %v", err)
	}
	// Named by context, Organizations is not asked.
	d := &fakeDescribe{management: "111111111111"}
	r.checker.Management = Management{Account: mgmt, Lookup: d}
	if _, err := r.checker.Run(ctx, r.input("444455556666")); err != nil || d.calls != 0 {
		t.Errorf("asked Organizations %d times (%v)", d.calls, err)
	}
}

func TestFromEnv_ReadsTheManagementAccountAndItsBots(t *testing.T) {
	t.Setenv(deployment.EnvProbeKey, "arn:aws:kms:us-east-1:111122223333:key/k")
	t.Setenv(deployment.EnvTopicArn, "arn:aws:sns:us-east-1:111122223333:t")
	t.Setenv(deployment.EnvHealthManagementAccount, mgmt)
	t.Setenv(deployment.EnvHealthManagementBots, "ec2_stop_instance, iam_revoke_role_sessions")
	c, err := FromEnv("us-east-1")
	if err != nil || c.Management.Account != mgmt || !slices.Equal(c.Management.Bots, []string{"ec2_stop_instance", "iam_revoke_role_sessions"}) {
		t.Errorf("%+v (%v)", c.Management, err)
	}
	t.Setenv(deployment.EnvHealthManagementAccount, "7777")
	if _, err := FromEnv("us-east-1"); err == nil || !strings.Contains(err.Error(), deployment.EnvHealthManagementAccount) {
		t.Errorf("a malformed management account: %v", err)
	}
}
