package iambots

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
)

// undoWorld is the contract's world of an undo bot: the deny it undoes already written on the role.
func undoWorld(undo, deny string) func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
	return func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newDenyEnv(t, undo, stubs...)
		e.runAs(t, deny, e.roleFinding(), nil)
		return e.world(e.roleFinding)
	}
}

var _ = bottest.RegisterContract(undoSessionBot, bottest.Contract{
	World:    undoWorld(undoSessionBot, denySessionBot),
	Again:    bots.StatusSkipped,
	Deny:     "iam:DeleteRolePolicy",
	Throttle: "iam:GetRole",
})

// Undo removes exactly what the deny bot added for the finding: its policy and its record; another
// finding's deny and the address deny stay.
func TestIAMUndoDenySession_RemovesExactlyTheFindingsDeny(t *testing.T) {
	e := newDenyEnv(t, undoSessionBot)
	e.runAs(t, denySessionBot, e.roleFinding(), nil)
	e.runAs(t, denySourceIPBot, e.roleFinding(), nil)
	other := sessionFinding(e.role, e.roleID, "i-0aaaaaaaaaaaaaaaa")
	other.ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
	e.runAs(t, denySessionBot, other, nil)
	res, err := e.run(t, undoSessionBot, e.roleFinding(), false)
	if err != nil || res.Status != bots.StatusRemediated || res.After["policy"] != "absent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	ps := e.rolePolicies(t)
	if _, ok := ps[sessionDeny.policyName(bottest.FindingID)]; ok || len(ps) != 2 || ps[sessionDeny.policyName(other.ID)] == "" || ps[addressDeny.policyName(bottest.FindingID)] == "" {
		t.Errorf("policies left %v", sorted(ps))
	}
	if _, ok := e.record(t, sessionDeny, e.roleFinding(), e.roleTarget()); ok {
		t.Error("the record is still there")
	}
	if _, ok := e.record(t, sessionDeny, other, e.roleTarget()); !ok {
		t.Error("the other finding's record went too")
	}
}

// A policy of guardbots' name whose statement is not the one the bot wrote is someone else's: left alone.
func TestIAMUndoDenySession_APolicyNotAsWrittenIsLeftAlone(t *testing.T) {
	e := newDenyEnv(t, undoSessionBot)
	name := sessionDeny.policyName(bottest.FindingID)
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	if _, err := iam.NewFromConfig(e.Admin()).PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(e.role),
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, undoSessionBot, e.roleFinding(), false)
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "left alone") {
		t.Fatalf("err = %v", err)
	}
	if e.rolePolicies(t)[name] != doc {
		t.Error("the policy was changed")
	}
}

// A record whose policy is already gone: the record goes, and the result says so.
func TestIAMUndoDenySession_ARecordWithoutItsPolicyIsCleared(t *testing.T) {
	e := newDenyEnv(t, undoSessionBot)
	e.runAs(t, denySessionBot, e.roleFinding(), nil)
	if _, err := iam.NewFromConfig(e.Admin()).DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: aws.String(e.role),
		PolicyName: aws.String(sessionDeny.policyName(bottest.FindingID))}); err != nil {
		t.Fatal(err)
	}
	res, err := e.run(t, undoSessionBot, e.roleFinding(), false)
	if err != nil || res.Status != bots.StatusAlreadyDone || len(e.state.Snapshot()) != 0 {
		t.Fatalf("result = %+v, %v, records %v", res, err, e.state.Snapshot())
	}
}

// On a user (SDK stubs), and without a state table it fails before changing anything.
func TestIAMUndoDenySession_OnAUserAndNeverWithoutTheStateTable(t *testing.T) {
	e := newDenyEnv(t, undoSessionBot)
	e.runAs(t, denySessionBot, e.userSessionFinding(), nil)
	req := e.request(e.userSessionFinding(), false)
	req.State = nil
	if _, err := bottest.Run(t, undoSessionBot, req); faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "no state table") {
		t.Fatalf("without a state table: %v", err)
	}
	res, err := e.run(t, undoSessionBot, e.userSessionFinding(), false)
	if err != nil || res.Status != bots.StatusRemediated || len(e.users.of(e.user)) != 0 {
		t.Fatalf("result = %+v, %v, left %v", res, err, e.users.of(e.user))
	}
}
