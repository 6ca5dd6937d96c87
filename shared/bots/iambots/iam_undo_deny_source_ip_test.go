package iambots

import (
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
)

var _ = bottest.RegisterContract(undoSourceIPBot, bottest.Contract{
	World:    undoWorld(undoSourceIPBot, denySourceIPBot),
	Again:    bots.StatusSkipped,
	Deny:     "iam:DeleteRolePolicy",
	Throttle: "iam:GetRolePolicy",
})

// Undo of the address deny leaves the session deny of the same finding; on a user too (SDK stubs).
func TestIAMUndoDenySourceIP_RemovesOnlyTheAddressDeny(t *testing.T) {
	e := newDenyEnv(t, undoSourceIPBot)
	for _, f := range [](func() bots.Result){
		func() bots.Result { return e.runAs(t, denySessionBot, e.roleFinding(), nil) },
		func() bots.Result { return e.runAs(t, denySourceIPBot, e.roleFinding(), nil) },
		func() bots.Result { return e.runAs(t, denySourceIPBot, e.userSessionFinding(), nil) },
	} {
		if r := f(); r.Status != bots.StatusRemediated {
			t.Fatalf("setup: %+v", r)
		}
	}
	for _, f := range []func() (bots.Result, error){
		func() (bots.Result, error) { return e.run(t, undoSourceIPBot, e.roleFinding(), false) },
		func() (bots.Result, error) { return e.run(t, undoSourceIPBot, e.userSessionFinding(), false) },
	} {
		if res, err := f(); err != nil || res.Status != bots.StatusRemediated {
			t.Fatalf("undo = %+v, %v", res, err)
		}
	}
	ps := e.rolePolicies(t)
	if len(ps) != 1 || ps[sessionDeny.policyName(bottest.FindingID)] == "" || len(e.users.of(e.user)) != 0 {
		t.Errorf("left %v on the role, %v on the user", sorted(ps), e.users.of(e.user))
	}
	if res, err := e.run(t, undoSourceIPBot, e.roleFinding(), false); err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("again: %+v, %v", res, err)
	}
}
