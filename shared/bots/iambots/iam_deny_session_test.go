package iambots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
)

var _ = bottest.RegisterContract(denySessionBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newDenyEnv(t, denySessionBot, stubs...)
		return e.world(e.roleFinding)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:PutRolePolicy",
	Throttle: "iam:GetRole",
})

// The policy on the role, evaluated: the stolen session's credentials stop working; the instance's new
// credentials, the role's other sessions and everyone else keep working.
func TestIAMDenySession_DeniesTheStolenSessionOnlyAsIAMEvaluatesIt(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	res, err := e.run(t, denySessionBot, e.roleFinding(), false)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	policies := e.rolePolicies(t)
	name := sessionDeny.policyName(bottest.FindingID)
	if len(policies) != 1 || policies[name] == "" {
		t.Fatalf("role policies %v, want one named %s", policies, name)
	}
	session := e.roleID + ":" + stolenSession
	before, after := denyNow.Add(-time.Hour).Format(time.RFC3339), denyNow.Add(time.Minute).Format(time.RFC3339)
	ctx := func(userID, issued string) map[string]string {
		return map[string]string{"aws:userId": userID, "aws:TokenIssueTime": issued, "aws:SourceIp": "203.0.113.50",
			"aws:CurrentTime": denyNow.Add(2 * time.Minute).Format(time.RFC3339)}
	}
	evaluate(t, bottest.Account, policies, []evalRequest{
		{"the stolen session (a token issued before now)", sessionARN(e.role, stolenSession), ctx(session, before), "Denied"},
		{"the same instance's new credentials (issued after now)", sessionARN(e.role, stolenSession), ctx(session, after), "Allowed"},
		{"another session of the role", sessionARN(e.role, "i-0fedcba9876543210"), ctx(e.roleID+":i-0fedcba9876543210", before), "Allowed"},
		{"another role's session of the same name", sessionARN("other", stolenSession), ctx("AROAOTHERROLE0000001:"+stolenSession, before), "Allowed"},
	})

	// What is recorded, and the Sid naming the finding.
	var doc struct{ Statement []struct{ Sid string } }
	if err := json.Unmarshal([]byte(policies[name]), &doc); err != nil || doc.Statement[0].Sid != "GuardbotsDenySession"+bottest.FindingID {
		t.Errorf("statement %+v, %v", doc, err)
	}
	rec, ok := e.record(t, sessionDeny, e.roleFinding(), e.roleTarget())
	if !ok || rec.Policy != name || rec.Document != policies[name] || rec.FindingID != bottest.FindingID || rec.Execution != bottest.Execution ||
		!rec.ExpiresAt.Equal(denyNow.Add(12*time.Hour)) || rec.Principal != "role" || rec.Name != e.role {
		t.Errorf("record %+v (found %v)", rec, ok)
	}
	if res.After["expiresAt"] != denyNow.Add(12*time.Hour).Format(time.RFC3339) || res.After["session"] != session {
		t.Errorf("after = %v", res.After)
	}
	if !slices.Contains(e.Rec.Ops(), "iam:TagRole") {
		t.Error("the role was not tagged")
	}
}

// A role session deny lasts max(the role's MaxSessionDuration, 12h); a user's, 36h.
func TestIAMDenySession_ExpiryWindows(t *testing.T) {
	for _, c := range []struct {
		p    principal
		want time.Duration
	}{
		{principal{target: finding.Target{Kind: finding.TargetIAMRole}, maxSessionSeconds: 3600}, 12 * time.Hour},
		{principal{target: finding.Target{Kind: finding.TargetIAMRole}, maxSessionSeconds: 43200}, 12 * time.Hour},
		{principal{target: finding.Target{Kind: finding.TargetIAMRole}, maxSessionSeconds: 20 * 3600}, 20 * time.Hour},
		{principal{target: finding.Target{Kind: finding.TargetIAMUser}}, 36 * time.Hour},
	} {
		if got := sessionWindow(&c.p); got != c.want {
			t.Errorf("%s with MaxSessionDuration %ds: %v, want %v", c.p.target.Kind, c.p.maxSessionSeconds, got, c.want)
		}
	}
}

func TestIAMDenySession_ActivityAfterTheDenyMovesItForward(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	if _, err := e.run(t, denySessionBot, e.roleFinding(), false); err != nil {
		t.Fatal(err)
	}
	f := e.roleFinding()
	f.LastSeen = denyNow.Add(30 * time.Minute).Format(time.RFC3339) // seen again, with a token issued after the deny
	e.at(denyNow.Add(time.Hour))
	res, err := e.run(t, denySessionBot, f, false)
	if err != nil || res.Status != bots.StatusRemediated || res.Before["deniedBefore"] != denyNow.Format(time.RFC3339) ||
		res.After["deniedBefore"] != denyNow.Add(time.Hour).Format(time.RFC3339) {
		t.Fatalf("result = %+v, %v; want the deny moved forward", res, err)
	}
	if n := len(e.rolePolicies(t)); n != 1 {
		t.Errorf("%d policies on the role, want the finding's one rewritten", n)
	}
}

// An IAM user's GetSessionToken credentials: the same deny, on the user, for 36 hours (SDK stubs: kumo
// does not serve the user's inline policies).
func TestIAMDenySession_AUsersTemporarySessionIsDeniedOnTheUser(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	res, err := e.run(t, denySessionBot, e.userSessionFinding(), false)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	policies := e.users.of(e.user)
	doc := policies[sessionDeny.policyName(bottest.FindingID)]
	if len(policies) != 1 || doc == "" {
		t.Fatalf("user policies %v", policies)
	}
	user := "arn:aws:iam::" + bottest.Account + ":user/" + e.user
	evaluate(t, bottest.Account, policies, []evalRequest{
		{"the user's session token from before now", user, map[string]string{"aws:userId": e.userID, "aws:TokenIssueTime": denyNow.Add(-time.Hour).Format(time.RFC3339)}, "Denied"},
		{"a session token issued after", user, map[string]string{"aws:userId": e.userID, "aws:TokenIssueTime": denyNow.Add(time.Hour).Format(time.RFC3339)}, "Allowed"},
		{"the user's long-term keys (no token issue time)", user, map[string]string{"aws:userId": e.userID}, "Allowed"},
	})
	if rec, ok := e.record(t, sessionDeny, e.userSessionFinding(), e.userTarget()); !ok || !rec.ExpiresAt.Equal(denyNow.Add(36*time.Hour)) || rec.Principal != "user" {
		t.Errorf("record %+v, %v", rec, ok)
	}
	if !slices.Contains(e.Rec.Ops(), "iam:TagUser") {
		t.Error("the user was not tagged")
	}
	// 36 hours on, the deny no longer matters: the next write on the user removes it.
	e.at(denyNow.Add(36 * time.Hour))
	next := e.userSessionFinding()
	next.ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
	if res, err := e.run(t, denySessionBot, next, false); err != nil || res.Status != bots.StatusRemediated || !strings.Contains(res.Changes[0], "removed the expired session deny") {
		t.Fatalf("next = %+v, %v", res, err)
	}
	if ps := e.users.of(e.user); len(ps) != 1 || ps[sessionDeny.policyName(next.ID)] == "" {
		t.Errorf("user policies %v", ps)
	}
}

func TestIAMDenySession_CredentialsThatAreNotASessionAreSkipped(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	longTerm := e.userSessionFinding()
	longTerm.AccessKey.AccessKeyID = "AKIAEXAMPLEEXAMPLE00"
	noSession := e.roleFinding()
	noSession.AccessKey.PrincipalID = e.roleID
	for name, c := range map[string]struct {
		f    *finding.Finding
		want string
	}{
		"long-term key": {longTerm, "iam_deactivate_access_key acts on those"},
		"no session":    {noSession, "names no session of role"},
		"root":          {accessKeyFinding("", "", finding.UserTypeRoot), "root credentials are never acted on"},
	} {
		res, err := e.run(t, denySessionBot, c.f, false)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, c.want) {
			t.Errorf("%s: %+v, %v; want skipped, %q", name, res, err, c.want)
		}
	}
	if w := bottest.Writes(e.Rec.Ops()); len(w) > 0 {
		t.Errorf("wrote %v", w)
	}
}

// A role made again under the same name is not the stolen session's role: its id differs.
func TestIAMDenySession_ASessionOfAnEarlierRoleOfTheSameNameIsSkipped(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	res, err := e.run(t, denySessionBot, sessionFinding(e.role, "AROAEARLIERROLE00001", stolenSession), false)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "deleted and made again") {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if len(e.rolePolicies(t)) != 0 {
		t.Error("wrote on the new role")
	}
}

// Service-linked roles, guardbots' own and the organization's administration roles are never changed.
func TestIAMDenySession_ProtectedRolesAreNeverChanged(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	admin := iam.NewFromConfig(e.Admin())
	for _, c := range []struct{ name, path, want string }{
		{"guardbots-iam_deny_session", "/", "guardbots' own roles"},
		{"OrganizationAccountAccessRole", "/", "protected"},
		{"stacksets-exec-" + strings.Repeat("a", 32), "/", "protected"},
		{"AWSControlTowerExecution", "/admin/", "protected"},
		{bottest.UniqueName("AWSServiceRoleForECS"), "/aws-service-role/ecs.amazonaws.com/", "service-linked"},
	} {
		out, err := admin.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(c.name), Path: aws.String(c.path), AssumeRolePolicyDocument: aws.String(trustEC2)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.run(t, denySessionBot, sessionFinding(c.name, aws.ToString(out.Role.RoleId), stolenSession), false)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, c.want) {
			t.Errorf("%s%s: %+v, %v; want skipped, %q", c.path, c.name, res, err, c.want)
		}
		if ps := rolePoliciesOf(t, e.Admin(), c.name); len(ps) != 0 {
			t.Errorf("%s: wrote %v", c.name, ps)
		}
		_, _ = admin.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(c.name)})
	}
}

// A deployment's own protected roles (context protectedRoles, GUARDBOTS_PROTECTED_ROLES) are refused by
// the bot too, before any write — not only by the fence in IAM — and the defaults stay protected.
func TestIAMDenySession_TheDeploymentsProtectedRolesAreNeverChanged(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	t.Setenv(deployment.EnvProtectedRoles, "BreakGlass*, security/incident-response-*")
	admin := iam.NewFromConfig(e.Admin())
	for _, c := range []struct{ name, path string }{
		{bottest.UniqueName("BreakGlassAdmin"), "/emergency/"},
		{bottest.UniqueName("incident-response-oncall"), "/security/"},
		{"OrganizationAccountAccessRole", "/"},
	} {
		out, err := admin.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(c.name), Path: aws.String(c.path), AssumeRolePolicyDocument: aws.String(trustEC2)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.run(t, denySessionBot, sessionFinding(c.name, aws.ToString(out.Role.RoleId), stolenSession), false)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "protected") {
			t.Errorf("%s%s: %+v, %v; want skipped, protected", c.path, c.name, res, err)
		}
		if ps := rolePoliciesOf(t, e.Admin(), c.name); len(ps) != 0 {
			t.Errorf("%s: wrote %v", c.name, ps)
		}
		_, _ = admin.DeleteRole(context.Background(), &iam.DeleteRoleInput{RoleName: aws.String(c.name)})
	}
}

// Identity Center's roles cannot be changed in the member account: notify only, with the exact deny
// (identitystore:UserId and aws:TokenIssueTime) and the commands to apply it.
func TestIAMDenySession_IdentityCenterSessionIsNotifiedWithTheDenyToApply(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	role := bottest.UniqueName("AWSReservedSSO_DataEngineer") + "_0123456789abcdef"
	out, err := iam.NewFromConfig(e.Admin()).CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(role),
		Path: aws.String("/aws-reserved/sso.amazonaws.com/"), AssumeRolePolicyDocument: aws.String(trustEC2)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.run(t, denySessionBot, sessionFinding(role, aws.ToString(out.Role.RoleId), "alice@example.com"), false)
	if err != nil || res.Status != bots.StatusNotified {
		t.Fatalf("result = %+v, %v; want notified", res, err)
	}
	all := strings.Join(res.Changes, "\n")
	for _, want := range []string{
		`"identitystore:UserId":"` + identityStoreUserID + `"`, `"aws:TokenIssueTime":"2026-01-02T04:04:05Z"`, `"Sid":"GuardbotsDenySession` + bottest.FindingID,
		`aws identitystore get-user-id`, `"AttributeValue":"alice@example.com"`, "put-inline-policy-to-permission-set", "provision-permission-set",
		"--target-id " + bottest.Account, "aws organizations create-policy --type SERVICE_CONTROL_POLICY", "remove it after 2026-01-02T16:04:05Z",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the advice does not say %q:\n%s", want, all)
		}
	}
	if !strings.Contains(res.Reason, "permission set "+strings.TrimSuffix(strings.TrimPrefix(role, "AWSReservedSSO_"), "_0123456789abcdef")) {
		t.Errorf("reason %q does not name the permission set", res.Reason)
	}
	if w := bottest.Writes(e.Rec.Ops()); len(w) > 0 || len(rolePoliciesOf(t, e.Admin(), role)) != 0 {
		t.Errorf("changed something: %v", w)
	}
	// The advised statement is the one that would be evaluated: it denies that user's older sessions.
	var doc string
	for _, c := range res.Changes {
		if _, d, ok := strings.Cut(c, "until 2026-01-02T16:04:05Z: "); ok {
			doc = d
		}
	}
	evaluate(t, bottest.Account, map[string]string{"advised": doc}, []evalRequest{
		{"the user's session from before", sessionARN(role, "alice@example.com"), map[string]string{"identitystore:UserId": identityStoreUserID, "aws:TokenIssueTime": "2026-01-02T04:00:00Z"}, "Denied"},
		{"another user's session", sessionARN(role, "bob@example.com"), map[string]string{"identitystore:UserId": "906745e0-1234", "aws:TokenIssueTime": "2026-01-02T04:00:00Z"}, "Allowed"},
	})
}

// Expiry against the emulator, with a fake clock: a deny lives on until its window has passed, then the
// next write on the role removes it (and its record); a write never removes one still in force.
func TestIAMDenySession_ExpiredDeniesAreRemovedByTheNextWrite(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	first := e.roleFinding()
	if _, err := e.run(t, denySessionBot, first, false); err != nil {
		t.Fatal(err)
	}
	second := sessionFinding(e.role, e.roleID, "i-0aaaaaaaaaaaaaaaa")
	second.ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
	e.at(denyNow.Add(12*time.Hour - time.Second)) // the first still in force
	if res, err := e.run(t, denySessionBot, second, false); err != nil || res.Status != bots.StatusRemediated || strings.Contains(strings.Join(res.Changes, " "), "expired") {
		t.Fatalf("second = %+v, %v", res, err)
	}
	if n := len(e.rolePolicies(t)); n != 2 {
		t.Fatalf("%d policies, want both denies in force", n)
	}
	third := sessionFinding(e.role, e.roleID, "i-0bbbbbbbbbbbbbbbb")
	third.ID = "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
	e.at(denyNow.Add(12 * time.Hour)) // the first has expired, the second has not
	res, err := e.run(t, denySessionBot, third, false)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("third = %+v, %v", res, err)
	}
	ps := e.rolePolicies(t)
	if _, ok := ps[sessionDeny.policyName(first.ID)]; ok || len(ps) != 2 {
		t.Errorf("policies %v: want the first removed, the second and third kept", slices.Sorted(func(y func(string) bool) {
			for k := range ps {
				y(k)
			}
		}))
	}
	if _, ok := e.record(t, sessionDeny, first, e.roleTarget()); ok {
		t.Error("the expired deny's record is still there")
	}
	if !strings.Contains(res.Changes[0], "removed the expired session deny "+sessionDeny.policyName(first.ID)) {
		t.Errorf("changes %q do not say what was removed", res.Changes)
	}
}

// The scheduled clean-up (pruneOnly) removes what expired and adds nothing; with nothing expired it is
// already done.
func TestIAMDenySession_PruneOnlyRemovesExpiredDeniesAndAddsNone(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	e.runAs(t, denySessionBot, e.roleFinding(), nil)
	e.runAs(t, denySourceIPBot, e.roleFinding(), nil)
	prune := func() (bots.Result, error) {
		req := e.request(e.roleFinding(), false)
		req.Params = bots.Params{"pruneOnly": true}
		return bottest.Run(t, denySessionBot, req)
	}
	e.at(denyNow.Add(11 * time.Hour))
	if res, err := prune(); err != nil || res.Status != bots.StatusAlreadyDone || !strings.Contains(res.Reason, "2 in force") {
		t.Fatalf("nothing expired: %+v, %v", res, err)
	}
	e.at(denyNow.Add(12 * time.Hour)) // the session deny expired; the address deny lasts 24h
	res, err := prune()
	if err != nil || res.Status != bots.StatusRemediated || len(res.Changes) != 1 {
		t.Fatalf("prune = %+v, %v", res, err)
	}
	if ps := e.rolePolicies(t); len(ps) != 1 || ps[addressDeny.policyName(bottest.FindingID)] == "" {
		t.Errorf("policies %v, want only the address deny left", ps)
	}
	e.at(denyNow.Add(24 * time.Hour))
	if res, err := prune(); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("prune = %+v, %v", res, err)
	}
	if ps, recs := e.rolePolicies(t), e.state.Snapshot(); len(ps) != 0 || len(recs) != 0 {
		t.Errorf("left %v and records %v", ps, recs)
	}
}

// IAM's aggregate limit, with many findings: the denies fill the role until the next would not fit;
// that one fails, naming the sizes, and no older deny is dropped, nothing is written or recorded.
func TestIAMDenySession_TheRoleLimitFailsRatherThanDroppingAnOlderDeny(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	var written int
	for i := 0; ; i++ {
		f := sessionFinding(e.role, e.roleID, stolenSession)
		f.ID = fmt.Sprintf("%032x", i)
		before := e.rolePolicies(t)
		records := len(e.state.Snapshot())
		res, err := e.run(t, denySessionBot, f, false)
		if err == nil {
			if res.Status != bots.StatusRemediated {
				t.Fatalf("finding %d: %+v", i, res)
			}
			written++
			continue
		}
		for _, want := range []string{"would then hold", "of IAM's 10240", "no older deny was dropped", "iam_undo_deny_session"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if after := e.rolePolicies(t); len(after) != len(before) {
			t.Errorf("the failed write changed the role's policies: %d → %d", len(before), len(after))
		}
		if len(e.state.Snapshot()) != records {
			t.Error("the failed write left a record")
		}
		break
	}
	total := 0
	for _, d := range e.rolePolicies(t) {
		total += policySize(d)
	}
	if written < 20 || total > roleInlineLimit {
		t.Errorf("%d denies written, %d characters: want the role filled up to IAM's limit", written, total)
	}
	t.Logf("%d session denies fit on a role (%d characters of %d)", written, total, roleInlineLimit)
}
