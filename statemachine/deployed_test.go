package statemachine_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine"
)

// A deployment that enables three bots.
var someBots = []string{"ec2_stop_instance", "ec2_tag_instance", "notify_only"}

func committed(t *testing.T) []byte {
	t.Helper()
	def, err := os.ReadFile(statemachine.File)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func deployed(t *testing.T, enabled []string) []byte {
	t.Helper()
	out, err := statemachine.Deployed(committed(t), enabled)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// differences lists every path at which a and b differ: a value that changed, or a key only one has.
func differences(path string, a, b any) []string {
	ao, aok := a.(obj)
	bo, bok := b.(obj)
	if aok && bok {
		var out []string
		keys := slices.Sorted(maps.Keys(ao))
		for k := range bo {
			if _, ok := ao[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			av, ain := ao[k]
			bv, bin := bo[k]
			switch {
			case !ain:
				out = append(out, path+"."+k+" added")
			case !bin:
				out = append(out, path+"."+k+" removed")
			default:
				out = append(out, differences(path+"."+k, av, bv)...)
			}
		}
		return out
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		var out []string
		for i := range as {
			out = append(out, differences(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i])...)
		}
		return out
	}
	if !equalJSON(a, b) {
		return []string{fmt.Sprintf("%s: %v → %v", path, a, b)}
	}
	return nil
}

// The committed definition keeps every branch; a deployment's differs from it in exactly this: each
// branch of a bot it does not enable leads to "Bot not deployed", and that bot's Task and its failed
// state are gone. Nothing else.
func TestDeployed_TheOnlyDifferenceIsTheSubstitutedBranches(t *testing.T) {
	var before, after obj
	if err := json.Unmarshal(committed(t), &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(deployed(t, someBots), &after); err != nil {
		t.Fatal(err)
	}
	inner := "$.States." + statemachine.StateRemediate + ".ItemProcessor.States"
	var want []string
	for i, c := range anySlice(remediateStates(t, before)[statemachine.StateWhichBot].(obj)["Choices"]) {
		bot := c.(obj)["StringEquals"].(string)
		if slices.Contains(someBots, bot) {
			continue
		}
		want = append(want,
			fmt.Sprintf("%s.%s.Choices[%d].Next: %s → %s", inner, statemachine.StateWhichBot, i, bot, statemachine.StateBotNotDeployed),
			inner+"."+bot+" removed", inner+"."+statemachine.BotFailedState(bot)+" removed")
	}
	// The scheduled clean-up's branch of each deny bot, likewise (someBots enables none).
	pruners := 0
	cleanup := "$.States." + statemachine.StateCleanup + ".ItemProcessor.States"
	for i, c := range anySlice(before["States"].(obj)[statemachine.StateCleanup].(obj)["ItemProcessor"].(obj)["States"].(obj)[statemachine.StateWhichPruner].(obj)["Choices"]) {
		bot := c.(obj)["StringEquals"].(string)
		pruners++
		want = append(want,
			fmt.Sprintf("%s.%s.Choices[%d].Next: %s → %s", cleanup, statemachine.StateWhichPruner, i, statemachine.CleanupState(bot), statemachine.StatePrunerNotDeployed),
			cleanup+"."+statemachine.CleanupState(bot)+" removed", cleanup+"."+statemachine.CleanupState(bot)+" failed removed")
	}
	got := differences("$", before, after)
	sort.Strings(got)
	sort.Strings(want)
	if pruners < 2 || len(want) != 3*(len(bots.Names())-len(someBots)+pruners) || !slices.Equal(got, want) {
		t.Errorf("differences:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// Only the deployment's functions remain to be substituted.
	wantPH := []string{"MatchFunctionArn", "NotifyFunctionArn", "ParseFunctionArn", "RequestApprovalFunctionArn", "TransformFunctionArn", "VerifyFunctionArn"}
	for _, b := range someBots {
		wantPH = append(wantPH, "Bot_"+b+"_FunctionArn")
	}
	sort.Strings(wantPH)
	if got := statemachine.PlaceholdersIn(deployed(t, someBots)); !slices.Equal(got, wantPH) {
		t.Errorf("placeholders %v, want %v", got, wantPH)
	}
}

func TestDeployed_EveryBotEnabledIsTheCommittedDefinitionAndNoneLeavesOnlyTheNotDeployedState(t *testing.T) {
	if got := deployed(t, bots.Names()); string(got) != string(committed(t)) {
		t.Error("with every bot enabled the definition changed")
	}
	none := deployed(t, nil)
	var m obj
	if err := json.Unmarshal(none, &m); err != nil {
		t.Fatal(err)
	}
	rs := remediateStates(t, m)
	for _, c := range anySlice(rs[statemachine.StateWhichBot].(obj)["Choices"]) {
		if n := c.(obj)["Next"]; n != statemachine.StateBotNotDeployed {
			t.Errorf("a branch leads to %v", n)
		}
	}
	for _, b := range bots.Names() {
		if _, ok := rs[b]; ok {
			t.Errorf("%s still has a Task", b)
		}
	}
	// Only bot Tasks lead to the blast-radius hold: with none, it is unreachable and goes too (Step
	// Functions refuses an unreachable state).
	for _, st := range []string{statemachine.StateHeld, statemachine.StateApproveHeld, statemachine.StateRecordResult} {
		if _, ok := rs[st]; ok {
			t.Errorf("%s is left, unreachable", st)
		}
	}
	if _, ok := rs[statemachine.StateWaitForApproval]; !ok {
		t.Error("the approval path went too")
	}
}

func TestDeployed_RefusesAnUnknownBotAndAHandEditedDefinition(t *testing.T) {
	if _, err := statemachine.Deployed(committed(t), []string{"ec2_stop_instance", "no_such_bot"}); err == nil || !strings.Contains(err.Error(), "no_such_bot") {
		t.Errorf("unknown bot: %v", err)
	}
	edited := strings.Replace(string(committed(t)), `"StartAt": "Parse",`, `"StartAt": "Parse", "Version": "1.0",`, 1)
	if _, err := statemachine.Deployed([]byte(edited), someBots); err == nil {
		t.Error("a definition with a field the generator does not write was narrowed (it would lose the field)")
	}
}

func TestASLValidatorAcceptsADeploymentsDefinition(t *testing.T) {
	tl := tools(t)
	for name, enabled := range map[string][]string{"some": someBots, "none": {}} {
		path := filepath.Join(t.TempDir(), name+".asl.json")
		if err := os.WriteFile(path, deployed(t, enabled), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := aslValidate(t, tl, path); err != nil {
			t.Errorf("%s: asl-validator rejects it: %v\n%s", name, err, out)
		}
	}
}

// An action for a bot the deployment did not enable (an input that went around match and verify, which
// refuse such a mapping) runs nothing: it is recorded failed with the reason beside it, the other actions
// run, and notify is told.
func TestExecute_ABotNotDeployedIsRecordedFailedWithTheReason(t *testing.T) {
	t.Parallel()
	o := pipeline(matched("remediate", action("ec2_terminate_instance"), action("ec2_stop_instance")))
	for bot := range o {
		if strings.HasPrefix(bot, "ec2_terminate") {
			delete(o, bot) // no Lambda to stand in for
		}
	}
	ex := executeDefinition(t, deployed(t, someBots), o, obj{})
	wantStatus(t, ex, "FAILED", statemachine.ErrorRemediationFailed)
	wantCalls(t, ex, "Parse", "Transform", "Match", "Verify finding", "ec2_stop_instance", "Notify")
	rs := results(t, input(t, ex, statemachine.StateNotify, 0))
	if len(rs) != 2 || rs[0]["bot"] != "ec2_terminate_instance" || rs[0]["status"] != "failed" || rs[0]["error"] != "Guardbots.Rejected" ||
		rs[0]["reason"] != statemachine.BotNotDeployedReason ||
		!strings.Contains(rs[0]["cause"].(string), "bot ec2_terminate_instance is not deployed") ||
		!strings.Contains(rs[0]["cause"].(string), "CDK context enabledBots") || rs[1]["status"] != "remediated" {
		t.Errorf("results = %v", rs)
	}
}
