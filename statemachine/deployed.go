package statemachine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Deployed is the committed definition def as a deployment that runs only the bots in enabled deploys
// it. The committed file keeps a branch for every registered bot; here each branch of "Which bot?" whose
// bot is not enabled leads to "Bot not deployed" instead of the bot's Task, and that Task and its
// "<bot> failed" state are left out — and with them the placeholder of a function the deployment does not
// have, and the states only those Tasks led to when none is left; likewise each branch of the scheduled
// clean-up's "Which deny bot?" leads to "Deny bot not deployed". Nothing else changes
// (TestDeployed_TheOnlyDifferenceIsTheSubstitutedBranches holds it to that).
// The CDK app deploys its result; the local stack, which runs every bot, the definition as it is.
func Deployed(def []byte, enabled []string) ([]byte, error) {
	var m machine
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("statemachine: read the definition: %w", err)
	}
	// A field the types above do not know would be dropped silently by the rewrite: refuse instead.
	if again, err := marshal(&m); err != nil || !bytes.Equal(again, def) {
		return nil, fmt.Errorf("statemachine: the definition is not what go generate ./statemachine writes (run it): it cannot be narrowed to the deployed bots")
	}
	remediate := m.States[StateRemediate]
	if remediate == nil || remediate.ItemProcessor == nil {
		return nil, fmt.Errorf("statemachine: no %q Map in the definition", StateRemediate)
	}
	inner := remediate.ItemProcessor.States
	which := inner[StateWhichBot]
	if which == nil || which.Type != "Choice" || inner[StateBotNotDeployed] == nil {
		return nil, fmt.Errorf("statemachine: no %q Choice or %q state in the %q Map", StateWhichBot, StateBotNotDeployed, StateRemediate)
	}
	branched := map[string]bool{}
	for i, c := range which.Choices {
		bot := c.StringEquals
		if c.Variable != "$.action.bot" || bot == "" || c.Next != bot {
			return nil, fmt.Errorf("statemachine: %q branch %d is not a bot's branch", StateWhichBot, i)
		}
		branched[bot] = true
		if slices.Contains(enabled, bot) {
			continue
		}
		which.Choices[i].Next = StateBotNotDeployed
		delete(inner, bot)
		delete(inner, BotFailedState(bot))
	}
	// With no bot left to run, the path after a bot's Task (the blast-radius hold) is unreachable, which
	// Step Functions refuses: it goes too.
	prune(remediate.ItemProcessor)
	// The scheduled clean-up's Map has a branch per deny bot too: one not enabled leads to "Deny bot
	// not deployed" (verify plans none for it), and its Task and failed state go.
	cleanup := m.States[StateCleanup]
	if cleanup == nil || cleanup.ItemProcessor == nil {
		return nil, fmt.Errorf("statemachine: no %q Map in the definition", StateCleanup)
	}
	pruners := cleanup.ItemProcessor.States
	whichPruner := pruners[StateWhichPruner]
	if whichPruner == nil || whichPruner.Type != "Choice" || pruners[StatePrunerNotDeployed] == nil {
		return nil, fmt.Errorf("statemachine: no %q Choice or %q state in the %q Map", StateWhichPruner, StatePrunerNotDeployed, StateCleanup)
	}
	for i, c := range whichPruner.Choices {
		bot := c.StringEquals
		if c.Variable != "$.action.bot" || bot == "" || c.Next != CleanupState(bot) {
			return nil, fmt.Errorf("statemachine: %q branch %d is not a deny bot's branch", StateWhichPruner, i)
		}
		if slices.Contains(enabled, bot) {
			continue
		}
		whichPruner.Choices[i].Next = StatePrunerNotDeployed
		delete(pruners, CleanupState(bot))
		delete(pruners, cleanupFailedState(bot))
	}
	var unknown []string
	for _, b := range enabled {
		if !branched[b] {
			unknown = append(unknown, b)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("statemachine: enabled bots %s have no branch in the definition (run go generate ./statemachine)", strings.Join(unknown, ", "))
	}
	return marshal(&m)
}

// prune removes the states of p no path from its StartAt reaches.
func prune(p *processor) {
	reached := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		st := p.States[name]
		if st == nil || reached[name] {
			return
		}
		reached[name] = true
		for _, c := range st.Choices {
			visit(c.Next)
		}
		for _, c := range st.Catch {
			visit(c.Next)
		}
		visit(st.Default)
		visit(st.Next)
	}
	visit(p.StartAt)
	for name := range p.States {
		if !reached[name] {
			delete(p.States, name)
		}
	}
}
