package statemachine_test

import (
	"testing"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// An attack sequence's (action, member) pairs are actions like any other to the state machine: each its
// own Map iteration, its own approval (naming the member) and its own bot input carrying the member,
// whose result lands at its place; notify gets the decision's member list with every result.
func TestExecute_AttackSequencePairsEachWaitForTheirOwnApprovalAndCarryTheirMember(t *testing.T) {
	t.Parallel()
	inst := obj{"index": 3, "kind": "Instance", "id": "i-0a1b2c3d4e5f60718", "account": "444455556666", "region": "eu-west-1"}
	key := obj{"index": 2, "kind": "AccessKey", "id": "ASIAQEXAMPLE7WEBAPP1", "account": "111122223333", "region": "us-east-1"}
	pair := func(bot string, m obj) obj {
		a := approveAction(bot)
		a["member"] = m
		return a
	}
	m := matched("remediate", pair("ec2_quarantine_instance", inst), pair("iam_revoke_role_sessions", key))
	members := []obj{
		{"index": 2, "kind": "AccessKey", "id": "ASIAQEXAMPLE7WEBAPP1", "account": "111122223333", "region": "us-east-1", "actions": []int{1}},
		{"index": 3, "kind": "Instance", "id": "i-0a1b2c3d4e5f60718", "account": "444455556666", "region": "eu-west-1", "actions": []int{0}},
	}
	m["decision"].(obj)["members"] = members
	o := pipeline(m)
	o[statemachine.StateWaitForApproval] = []aslrun.Response{
		aslrun.Returns(obj{"approved": true, "approver": "alice"}),
		aslrun.Fails("Guardbots.Denied", "bob: that role runs the payments batch"),
	}
	ex := executeWithToken(t, o)
	wantStatus(t, ex, "SUCCEEDED", "")
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "Wait for approval", "ec2_quarantine_instance", "Wait for approval", "Notify")

	for i, want := range []obj{inst, key} {
		req := input(t, ex, statemachine.StateWaitForApproval, i)
		p, _ := req["Payload"].(obj)
		act, _ := p["action"].(obj)
		if !equalJSON(act["member"], want) {
			t.Errorf("approval %d: member %v, want %v", i, act["member"], want)
		}
	}
	in := input(t, ex, "ec2_quarantine_instance", 0)
	if act, _ := in["action"].(obj); !equalJSON(act["member"], inst) || act["signature"] == nil {
		t.Errorf("bot action %v", in["action"])
	}
	n := input(t, ex, statemachine.StateNotify, 0)
	rs := results(t, n)
	if len(rs) != 2 || rs[0]["status"] != "remediated" || rs[1]["status"] != "skipped" || rs[1]["reason"] != "denied by bob: that role runs the payments batch" {
		t.Errorf("results %v", rs)
	}
	if d, _ := n["decision"].(obj); !equalJSON(d["members"], members) {
		t.Errorf("notify's decision members %v", d["members"])
	}
}
