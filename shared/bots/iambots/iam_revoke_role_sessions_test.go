package iambots

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

const trustEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// revokeNow is the bot's clock in these tests: an hour after the test finding's LastSeen.
var revokeNow = time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)

type revokeEnv struct {
	bottest.Env
	role string
}

func newRevokeEnv(t *testing.T, stubs ...func(*middleware.Stack) error) revokeEnv {
	t.Helper()
	old := revokeClock
	revokeClock = func() time.Time { return revokeNow }
	t.Cleanup(func() { revokeClock = old })
	e := bottest.NewEnv(t, "iam_revoke_role_sessions", stubs...)
	role := bottest.UniqueName("web-fleet")
	createRole(t, e, role, "/")
	return revokeEnv{Env: e, role: role}
}

func createRole(t *testing.T, e bottest.Env, name, path string) {
	t.Helper()
	if _, err := iam.NewFromConfig(e.Admin()).CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trustEC2),
	}); err != nil {
		t.Fatal(err)
	}
}

func roleSessionFinding(role string) *finding.Finding {
	f := accessKeyFinding(role, "ASIAEXAMPLEEXAMPLE00", finding.UserTypeAssumedRole)
	f.AccessKey.PrincipalID = "AROAEXAMPLEEXAMPLE0:i-0123456789abcdef0"
	return f
}

func (e revokeEnv) run(t *testing.T, f *finding.Finding, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "iam_revoke_role_sessions", e.Request(f, dryRun))
}

// rolePolicy reads the revoke policy back from kumo, decoded.
func (e revokeEnv) rolePolicy(t *testing.T) map[string]any {
	t.Helper()
	out, err := iam.NewFromConfig(e.Admin()).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String(e.role), PolicyName: aws.String(revokePolicyName)})
	if err != nil {
		t.Fatalf("read back the revoke policy: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(decodePolicy(aws.ToString(out.PolicyDocument))), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// revokeTime is the revoke policy's time on the role, "none" without one.
func (e revokeEnv) revokeTime(t *testing.T) string {
	out, err := iam.NewFromConfig(e.Admin()).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String(e.role), PolicyName: aws.String(revokePolicyName)})
	if err != nil {
		return "none"
	}
	return aws.ToString(out.PolicyDocument)
}

var _ = bottest.RegisterContract("iam_revoke_role_sessions", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newRevokeEnv(t, stubs...)
		return principalWorld(e.Env, func() *finding.Finding { return roleSessionFinding(e.role) }, func() string { return e.revokeTime(t) })
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:PutRolePolicy",
	Throttle: "iam:GetRole",
})

func TestIAMRevokeRoleSessions_DeniesSessionsIssuedBeforeNowWithTheExactCondition(t *testing.T) {
	e := newRevokeEnv(t)
	res, err := e.run(t, roleSessionFinding(e.role), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["revokedBefore"] != "none" || res.After["revokedBefore"] != "2026-01-02T04:04:05Z" {
		t.Fatalf("result = %+v", res)
	}
	want := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid": "GuardbotsRevokeOlderSessions", "Effect": "Deny", "Action": []any{"*"}, "Resource": []any{"*"},
			"Condition": map[string]any{"DateLessThan": map[string]any{"aws:TokenIssueTime": "2026-01-02T04:04:05Z"}},
		}},
	}
	if got := e.rolePolicy(t); !reflect.DeepEqual(got, want) {
		t.Errorf("policy on the role = %v\nwant %v", got, want)
	}
	if !slices.Contains(e.Rec.Ops(), "iam:TagRole") {
		t.Error("the role was not tagged")
	}
}

func TestIAMRevokeRoleSessions_ActivityAfterTheRevokeTimeRevokesAgain(t *testing.T) {
	e := newRevokeEnv(t)
	if _, err := e.run(t, roleSessionFinding(e.role), false); err != nil {
		t.Fatal(err)
	}
	f := roleSessionFinding(e.role)
	f.LastSeen = "2026-01-02T05:00:00Z" // seen again, with a session issued after the first revoke
	revokeClock = func() time.Time { return revokeNow.Add(2 * time.Hour) }
	res, err := e.run(t, f, false)
	if err != nil || res.Status != bots.StatusRemediated || res.Before["revokedBefore"] != "2026-01-02T04:04:05Z" || res.After["revokedBefore"] != "2026-01-02T06:04:05Z" {
		t.Fatalf("result = %+v, %v; want the revoke time moved forward", res, err)
	}
}

func TestIAMRevokeRoleSessions_ServiceLinkedAndIdentityCenterRolesAreSkipped(t *testing.T) {
	e := newRevokeEnv(t)
	slr := bottest.UniqueName("AWSServiceRoleForECS")
	createRole(t, e.Env, slr, "/aws-service-role/ecs.amazonaws.com/")
	sso := bottest.UniqueName("AWSReservedSSO_Admin")
	createRole(t, e.Env, sso, "/aws-reserved/sso.amazonaws.com/")
	org := "OrganizationAccountAccessRole"
	createRole(t, e.Env, org, "/")
	t.Cleanup(func() {
		_, _ = iam.NewFromConfig(e.Admin()).DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(org)})
	})
	own := bottest.UniqueName("guardbots-ec2_stop_instance")
	createRole(t, e.Env, own, "/")
	for role, want := range map[string]string{slr: "is service-linked", sso: "belongs to IAM Identity Center", org: "is protected", own: "guardbots' own roles"} {
		res, err := e.run(t, roleSessionFinding(role), false)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, want) {
			t.Errorf("%s: result %s %q, err %v; want skipped, %q", role, res.Status, res.Reason, err, want)
		}
	}
	if slices.Contains(e.Rec.Ops(), "iam:PutRolePolicy") {
		t.Error("wrote a policy on a role it must leave alone")
	}
}

func TestIAMRevokeRoleSessions_RootUserAndNonRolePrincipalsAreSkipped(t *testing.T) {
	e := newRevokeEnv(t)
	root := accessKeyFinding("", "", finding.UserTypeRoot)
	user := accessKeyFinding("alice", "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser)
	notRole := roleSessionFinding(e.role)
	notRole.AccessKey.PrincipalID = "AIDAEXAMPLE:x"
	for name, c := range map[string]struct {
		f    *finding.Finding
		want string
	}{"root": {root, "root credentials are never acted on"}, "user": {user, "iam_deactivate_access_key"}, "not a role": {notRole, "not on access-key ASIAEXAMPLEEXAMPLE00"}} {
		res, err := e.run(t, c.f, false)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, c.want) {
			t.Errorf("%s: result %s %q, err %v", name, res.Status, res.Reason, err)
		}
	}
	if len(e.Rec.Ops()) != 0 {
		t.Errorf("called %v", e.Rec.Ops())
	}
}

func TestIAMRevokeRoleSessions_InstanceFindingRevokesTheInstanceProfileRole(t *testing.T) {
	e := newRevokeEnv(t)
	admin := iam.NewFromConfig(e.Admin())
	ctx := context.Background()
	profile := bottest.UniqueName("web-profile")
	if _, err := admin.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(profile)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(profile), RoleName: aws.String(e.role)}); err != nil {
		t.Fatal(err)
	}
	f := &finding.Finding{
		ID: bottest.FindingID, AccountID: bottest.Account, Region: bottest.Region, Partition: "aws", LastSeen: "2026-01-02T03:04:05Z",
		ResourceKind: finding.KindInstance,
		Instance:     &finding.Instance{ID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::" + bottest.Account + ":instance-profile/" + profile},
	}
	res, err := e.run(t, f, false)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	e.rolePolicy(t) // the role behind the profile carries the policy
	f.Instance.InstanceProfileArn = "arn:aws:iam::" + bottest.Account + ":instance-profile/gone"
	if res, err := e.run(t, f, false); err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("missing profile: %+v, %v; want skipped", res, err)
	}
}
