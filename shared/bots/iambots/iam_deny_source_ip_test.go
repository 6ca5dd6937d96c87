package iambots

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

var _ = bottest.RegisterContract(denySourceIPBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newDenyEnv(t, denySourceIPBot, stubs...)
		return e.world(e.roleFinding)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:PutRolePolicy",
	Throttle: "iam:ListRolePolicies",
})

func (e *denyEnv) runSourceIP(t *testing.T, f *finding.Finding, trusted ...string) (bots.Result, error) {
	t.Helper()
	b, _ := bots.Lookup(denySourceIPBot)
	req := e.request(f, false)
	req.Params, _ = b.ParseParams(nil)
	if skip, err := b.Resolve(t.Context(), &req); err != nil || skip != "" {
		t.Fatalf("resolve: %q, %v", skip, err)
	}
	var nets []netip.Prefix
	for _, s := range trusted {
		nets = append(nets, netip.MustParsePrefix(s))
	}
	return denySourceIP(t.Context(), e.iamClient(), req, nets)
}

// The address deny, evaluated: requests from the attacker's address are denied to every session of the
// role, through a service acting on its behalf too, until the deny's end; other addresses are not.
func TestIAMDenySourceIP_DeniesTheAttackersAddressAsIAMEvaluatesIt(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	res, err := e.run(t, denySourceIPBot, e.roleFinding(), false)
	if err != nil || res.Status != bots.StatusRemediated || res.After["addresses"] != attackerIP+"/32" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	policies := e.rolePolicies(t)
	if len(policies) != 1 || policies[addressDeny.policyName(bottest.FindingID)] == "" {
		t.Fatalf("policies %v", policies)
	}
	fresh := denyNow.Add(time.Minute).Format(time.RFC3339)
	ctx := func(ip string, extra ...string) map[string]string {
		m := map[string]string{"aws:userId": e.roleID + ":i-0fedcba9876543210", "aws:TokenIssueTime": fresh, "aws:SourceIp": ip,
			"aws:CurrentTime": denyNow.Add(time.Hour).Format(time.RFC3339)}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	caller := sessionARN(e.role, "i-0fedcba9876543210")
	evaluate(t, bottest.Account, policies, []evalRequest{
		{"from the attacker's address", caller, ctx(attackerIP), "Denied"},
		{"from the attacker's address, through a service on the session's behalf", caller, ctx(attackerIP, "aws:ViaAWSService", "true", "aws:CalledVia", "cloudformation.amazonaws.com"), "Denied"},
		{"from another address", caller, ctx("203.0.113.50"), "Allowed"},
		{"from the attacker's address after the deny's end", caller, ctx(attackerIP, "aws:CurrentTime", denyNow.Add(24*time.Hour).Format(time.RFC3339)), "Allowed"},
	})
	rec, ok := e.record(t, addressDeny, e.roleFinding(), e.roleTarget())
	if !ok || !rec.ExpiresAt.Equal(denyNow.Add(24*time.Hour)) || rec.Bot != denySourceIPBot {
		t.Errorf("record %+v, %v", rec, ok)
	}
}

// The two bots together on the role, as the default mapping runs them: the stolen session is denied
// from anywhere, the attacker's address to anyone, and the role keeps working for everything else.
func TestIAMDenySessionAndSourceIP_TogetherLeaveTheRoleWorkingForEveryoneElse(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	e.runAs(t, denySessionBot, e.roleFinding(), nil)
	e.runAs(t, denySourceIPBot, e.roleFinding(), nil)
	policies := e.rolePolicies(t)
	if len(policies) != 2 {
		t.Fatalf("policies %v", policies)
	}
	old, fresh := denyNow.Add(-time.Hour).Format(time.RFC3339), denyNow.Add(time.Minute).Format(time.RFC3339)
	now := denyNow.Add(time.Hour).Format(time.RFC3339)
	stolen, other := e.roleID+":"+stolenSession, e.roleID+":i-0fedcba9876543210"
	c := func(userID, issued, ip, via string) map[string]string {
		m := map[string]string{"aws:userId": userID, "aws:TokenIssueTime": issued, "aws:SourceIp": ip, "aws:CurrentTime": now}
		if via != "" {
			m["aws:ViaAWSService"] = via
		}
		return m
	}
	arn := sessionARN(e.role, stolenSession)
	evaluate(t, bottest.Account, policies, []evalRequest{
		{"the stolen session, from the attacker", arn, c(stolen, old, attackerIP, ""), "Denied"},
		{"the stolen session, from elsewhere", arn, c(stolen, old, "203.0.113.50", ""), "Denied"},
		{"the instance's new credentials, from the instance's address", arn, c(stolen, fresh, "54.240.196.186", ""), "Allowed"},
		{"another session of the role", sessionARN(e.role, "i-0fedcba9876543210"), c(other, old, "54.240.196.187", ""), "Allowed"},
		{"another session from the attacker's address", sessionARN(e.role, "i-0fedcba9876543210"), c(other, fresh, attackerIP, ""), "Denied"},
		{"from the attacker's address through a service", sessionARN(e.role, "i-0fedcba9876543210"), c(other, fresh, attackerIP, "true"), "Denied"},
	})
}

// Private addresses, trusted networks and what is not an address are never denied, each with its reason;
// a finding with more public addresses than the cap is skipped.
func TestIAMDenySourceIP_PrivateTrustedAndTooManyAddressesAreSkippedWithTheReason(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	f := e.roleFinding()
	f.Action.RemoteIPs = []finding.RemoteIP{{Address: "10.1.2.3"}, {Address: "100.64.0.9"}, {Address: "fd00::1"}, {Address: "127.0.0.1"},
		{Address: "203.0.113.9"}, {Address: "not-an-ip"}}
	res, err := e.runSourceIP(t, f, "203.0.113.0/24")
	if err != nil || res.Status != bots.StatusSkipped {
		t.Fatalf("result = %+v, %v", res, err)
	}
	for _, want := range []string{"10.1.2.3 is private", "100.64.0.9 is private", "fd00::1 is private", "127.0.0.1 is not a public unicast address",
		"203.0.113.9 is in the trusted network 203.0.113.0/24", `"not-an-ip" is not an IP address`} {
		if !strings.Contains(res.Reason, want) {
			t.Errorf("reason %q does not say %q", res.Reason, want)
		}
	}
	// A public one among them is denied, and the others named as not denied.
	f.Action.RemoteIPs = append(f.Action.RemoteIPs, finding.RemoteIP{Address: "2001:db8::7"}, finding.RemoteIP{Address: "::ffff:198.51.100.8"})
	res, err = e.runSourceIP(t, f, "203.0.113.0/24")
	if err != nil || res.Status != bots.StatusRemediated || res.After["addresses"] != "198.51.100.8/32 2001:db8::7/128" ||
		!strings.Contains(strings.Join(res.Changes, " "), "not denied: 10.1.2.3 is private") {
		t.Fatalf("result = %+v, %v", res, err)
	}
	many := e.roleFinding()
	many.ID = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	many.Action.RemoteIPs = nil
	for i := range 6 {
		many.Action.RemoteIPs = append(many.Action.RemoteIPs, finding.RemoteIP{Address: fmt.Sprintf("198.51.100.%d", 20+i)})
	}
	if res, err := e.runSourceIP(t, many); err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "6 public addresses, more than maxAddresses 5") {
		t.Errorf("six addresses: %+v, %v", res, err)
	}
}

func TestIAMDenySourceIP_ABadTrustedNetworksSettingFailsClosed(t *testing.T) {
	t.Setenv(deployment.EnvTrustedNetworks, "203.0.113.0/24, not-a-network")
	e := newDenyEnv(t, denySourceIPBot)
	_, err := e.run(t, denySourceIPBot, e.roleFinding(), false)
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), deployment.EnvTrustedNetworks) || !strings.Contains(err.Error(), "not-a-network") {
		t.Fatalf("err = %v; want a failure naming the variable and the value", err)
	}
	t.Setenv(deployment.EnvTrustedNetworks, "198.51.100.0/24")
	if res, err := e.run(t, denySourceIPBot, e.roleFinding(), false); err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "trusted network 198.51.100.0/24") {
		t.Fatalf("trusted: %+v, %v", res, err)
	}
}

// Seen again from a new address after the duplicate-suppression window: the earlier addresses stay
// denied, and the end moves on.
func TestIAMDenySourceIP_NewAddressesAreAddedToTheFindingsDeny(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	if _, err := e.run(t, denySourceIPBot, e.roleFinding(), false); err != nil {
		t.Fatal(err)
	}
	f := e.roleFinding()
	f.Action.RemoteIPs = []finding.RemoteIP{{Address: "198.51.100.99"}}
	e.at(denyNow.Add(2 * time.Hour))
	res, err := e.run(t, denySourceIPBot, f, false)
	if err != nil || res.Status != bots.StatusRemediated || res.Before["addresses"] != attackerIP+"/32" ||
		res.After["addresses"] != "198.51.100.7/32 198.51.100.99/32" || res.After["expiresAt"] != denyNow.Add(26*time.Hour).Format(time.RFC3339) {
		t.Fatalf("result = %+v, %v", res, err)
	}
}

// On an IAM user (SDK stubs), IAM's 2,048-character limit fills after a few findings: the next fails
// and the older denies stay.
func TestIAMDenySourceIP_TheUserLimitFailsRatherThanDroppingAnOlderDeny(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	written := 0
	for i := range 20 {
		f := e.userSessionFinding()
		f.ID = fmt.Sprintf("%032x", i+1)
		f.Action.RemoteIPs = []finding.RemoteIP{{Address: fmt.Sprintf("198.51.100.%d", i+1)}, {Address: fmt.Sprintf("192.0.2.%d", i+1)}}
		before := e.users.of(e.user)
		res, err := e.run(t, denySourceIPBot, f, false)
		if err == nil && res.Status == bots.StatusRemediated {
			written++
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "of IAM's 2048") || faults.Classify(err) != faults.Failed {
			t.Fatalf("finding %d: %+v, %v; want a failure naming the user limit", i, res, err)
		}
		if after := e.users.of(e.user); len(after) != len(before) {
			t.Errorf("the failed write changed the user's policies")
		}
		break
	}
	total := 0
	for _, d := range e.users.of(e.user) {
		total += policySize(d)
	}
	if written < 3 || total > userInlineLimit {
		t.Errorf("%d written, %d characters", written, total)
	}
	t.Logf("%d address denies fit on a user (%d characters of %d)", written, total, userInlineLimit)
}

// Identity Center: notify only, with the address deny kept to that user.
func TestIAMDenySourceIP_IdentityCenterSessionIsNotifiedWithTheDenyToApply(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	role := bottest.UniqueName("AWSReservedSSO_ReadOnly") + "_0123456789abcdef"
	id := e.createRole(t, role, "/aws-reserved/sso.amazonaws.com/")
	res, err := e.run(t, denySourceIPBot, sessionFinding(role, id, "alice@example.com"), false)
	if err != nil || res.Status != bots.StatusNotified {
		t.Fatalf("result = %+v, %v", res, err)
	}
	all := strings.Join(res.Changes, "\n")
	for _, want := range []string{`"aws:SourceIp":["198.51.100.7/32"]`, `"aws:CurrentTime":"2026-01-03T04:04:05Z"`, `"identitystore:UserId"`, "get-user-id"} {
		if !strings.Contains(all, want) {
			t.Errorf("advice does not say %q:\n%s", want, all)
		}
	}
	if w := bottest.Writes(e.Rec.Ops()); len(w) > 0 {
		t.Errorf("wrote %v", w)
	}
}

// An address deny ends at its own time (aws:CurrentTime) and the next write removes it, on a role
// (kumo) and on a user (SDK stubs); one still in force stays.
func TestIAMDenySourceIP_ExpiredAddressDeniesAreRemovedByTheNextWrite(t *testing.T) {
	e := newDenyEnv(t, denySourceIPBot)
	for _, f := range []*finding.Finding{e.roleFinding(), e.userSessionFinding()} {
		if res, err := e.run(t, denySourceIPBot, f, false); err != nil || res.Status != bots.StatusRemediated {
			t.Fatalf("first = %+v, %v", res, err)
		}
	}
	e.at(denyNow.Add(24 * time.Hour))
	for _, f := range []*finding.Finding{e.roleFinding(), e.userSessionFinding()} {
		f.ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
		f.Action.RemoteIPs = []finding.RemoteIP{{Address: "198.51.100.99"}}
		res, err := e.run(t, denySourceIPBot, f, false)
		if err != nil || res.Status != bots.StatusRemediated || !strings.Contains(res.Changes[0], "removed the expired address deny "+addressDeny.policyName(bottest.FindingID)) {
			t.Fatalf("second = %+v, %v", res, err)
		}
	}
	if ps, us := e.rolePolicies(t), e.users.of(e.user); len(ps) != 1 || len(us) != 1 ||
		ps[addressDeny.policyName("0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e")] == "" || us[addressDeny.policyName("0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e")] == "" {
		t.Errorf("left %v on the role, %v on the user", sorted(ps), us)
	}
}
