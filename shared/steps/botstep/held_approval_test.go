package botstep

import (
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

const heldReason = "held by the blast-radius limit: 1 disruptive actions in account 111122223333 this hour"

// heldAt is a runner whose account limit (1) is used up by one disruptive action.
func heldAt(t *testing.T) (*railsEnv, *countingBot, Runner) {
	t.Helper()
	e := newRailsEnv(t)
	rails := e.rails()
	rails.PerAccount = 1
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	first := input("arn:exec:first")
	first.Finding.ID, first.Finding.Instance.ID = "f-first", "i-0000f157"
	if res := runOK(t, r, first); res.Status != bots.StatusRemediated {
		t.Fatalf("first action = %+v", res)
	}
	return e, c, r
}

func heldInput(exec string, held string, a *mapping.Approval) steps.BotInput {
	in := input(exec)
	in.Finding.ID, in.Finding.Instance.ID = "f-second", "i-0000f2d0"
	in.Action.Held, in.Action.Approval = held, a
	return in
}

func TestHeldApproval_ApprovedHeldActionRunsDespiteTheLimitAndIsAuditedWithTheApprover(t *testing.T) {
	e, c, r := heldAt(t)
	if res := runOK(t, r, heldInput("arn:exec:second", "", nil)); !res.Held || res.Status != bots.StatusSkipped {
		t.Fatalf("unapproved action past the limit = %+v, want held", res)
	}
	e.now = e.now.Add(10 * time.Minute) // the approver answers later
	res := runOK(t, r, heldInput("arn:exec:second", heldReason, &mapping.Approval{Approved: true, Approver: "alice"}))
	if res.Status != bots.StatusRemediated || res.Held {
		t.Fatalf("approved held action = %+v, want remediated", res)
	}
	if c.count() != 2 {
		t.Errorf("bot runs = %d, want 2", c.count())
	}
	recs := e.records(t, "f-second")
	if len(recs) != 2 {
		t.Fatalf("audit records = %+v", recs)
	}
	var approved bool
	for _, rec := range recs {
		if rec.Status == string(bots.StatusRemediated) && strings.Contains(rec.Reason, "approved by alice (claimed) ("+heldReason+")") {
			approved = true
		}
	}
	if !approved {
		t.Errorf("no remediated audit record naming the approver and the held reason: %+v", recs)
	}
	// The limit still holds everyone else.
	third := input("arn:exec:third")
	third.Finding.ID, third.Finding.Instance.ID = "f-third", "i-0000f3d0"
	if res := runOK(t, r, third); !res.Held {
		t.Errorf("next unapproved action = %+v, want held", res)
	}
}

func TestHeldApproval_ApprovalThatIsNotAnApprovedHoldStillCounts(t *testing.T) {
	for name, in := range map[string]steps.BotInput{
		// APPROVE mode: the approver was not told of the limit; the state machine asks again.
		"APPROVE-mode approval":   heldInput("arn:exec:a", "", &mapping.Approval{Approved: true, Approver: "alice"}),
		"held, not approved":      heldInput("arn:exec:b", heldReason, nil),
		"held, approved false":    heldInput("arn:exec:c", heldReason, &mapping.Approval{Approved: false, Approver: "bob"}),
		"held, no approver named": heldInput("arn:exec:d", heldReason, &mapping.Approval{Approved: true, Approver: " "}),
	} {
		t.Run(name, func(t *testing.T) {
			_, c, r := heldAt(t)
			if res := runOK(t, r, in); !res.Held || res.Status != bots.StatusSkipped {
				t.Errorf("result = %+v, want held", res)
			}
			if c.count() != 1 {
				t.Errorf("bot runs = %d, want only the first", c.count())
			}
		})
	}
}

func TestHeldApproval_ApprovedHeldActionStillGoesThroughDuplicateSuppression(t *testing.T) {
	_, c, r := heldAt(t)
	dup := heldInput("arn:exec:other", heldReason, &mapping.Approval{Approved: true, Approver: "alice"})
	dup.Finding.ID, dup.Finding.Instance.ID = "f-first", "i-0000f157"
	if res := runOK(t, r, dup); res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "already handled by execution arn:exec:first") {
		t.Errorf("approved duplicate = %+v, want skipped as already handled", res)
	}
	if c.count() != 1 {
		t.Errorf("bot runs = %d, want 1", c.count())
	}
}
