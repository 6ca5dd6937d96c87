package bots

import (
	"slices"
	"testing"
)

// Both sides of every undo pair are catalogued bots, the undo acts on every resource kind the
// containment acts on (a release of what was contained is always possible), and nothing undoes itself.
func TestUndoBot_PairsAreCataloguedAndCoverTheContainmentsKinds(t *testing.T) {
	if len(undoneBy) == 0 {
		t.Fatal("no undo pairs")
	}
	for bot, undo := range undoneBy {
		b, ok := Lookup(bot)
		u, uok := Lookup(undo)
		if !ok || !uok {
			t.Fatalf("%s -> %s: not both catalogued", bot, undo)
		}
		if bot == undo || u.Impact == ImpactDestructive {
			t.Errorf("%s -> %s: an undo may not be itself or destructive", bot, undo)
		}
		for _, k := range b.Resources {
			if !slices.Contains(u.Resources, k) {
				t.Errorf("%s acts on %s, its undo %s does not", bot, k, undo)
			}
		}
		if got, ok := UndoBot(bot); !ok || got != undo {
			t.Errorf("UndoBot(%s) = %q, %v", bot, got, ok)
		}
		if !slices.Contains(UndoBots(), undo) {
			t.Errorf("UndoBots lacks %s", undo)
		}
	}
	if _, ok := UndoBot("ec2_stop_instance"); ok {
		t.Error("ec2_stop_instance has no undo bot")
	}
}
