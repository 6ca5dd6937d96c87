package bots

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMain runs the package's tests, then checks every bot's declared permissions against what its
// tests actually called (recorded by newRecorder): an operation called but not declared, a declared
// operation never exercised, or an IAM action with a wildcard fails the run. The check needs the whole
// suite, so it is skipped when -run selects a subset.
func TestMain(m *testing.M) {
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && (f == nil || f.Value.String() == "") {
		if problems := permissionProblems(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "--- FAIL: permissions check\n    "+strings.Join(problems, "\n    "))
			code = 1
		}
	}
	os.Exit(code)
}

func permissionProblems() []string {
	exercised.Lock()
	defer exercised.Unlock()
	var problems []string
	for _, b := range Registered() {
		called := exercised.ops[b.Name]
		for op := range called {
			if !slices.Contains(b.Operations, op) {
				problems = append(problems, fmt.Sprintf("%s calls %s but does not declare it", b.Name, op))
			}
		}
		for _, op := range b.Operations {
			// The runner's exemption reads, added by Register, are exercised per resource kind by
			// shared/exempt's tests (which check it calls exactly ExemptionOperationsFor), not by
			// each bot's. Only those added ones are left out: a bot's own operations are still checked.
			if !called[op] && !slices.Contains(b.ExemptionOperations, op) {
				problems = append(problems, fmt.Sprintf("%s declares %s but no test exercised it", b.Name, op))
			}
		}
		for _, a := range b.IAMActions() {
			if strings.ContainsAny(a, "*?") {
				problems = append(problems, fmt.Sprintf("%s needs wildcard IAM action %s", b.Name, a))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

func TestOperationTable_EveryActionIsExactAndServiceQualified(t *testing.T) {
	for op, actions := range operationActions {
		if len(actions) == 0 {
			t.Errorf("%s maps to no IAM action", op)
		}
		for _, a := range actions {
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" || strings.ContainsAny(a, "*? ") {
				t.Errorf("%s → %q is not an exact service:Action", op, a)
			}
		}
	}
}

func TestRegister_AddsTheExemptionReadsOfEveryResourceKindToBotsThatChangeSomething(t *testing.T) {
	for _, b := range Registered() {
		for _, k := range b.Resources {
			for _, op := range ExemptionOperationsFor(k) {
				if b.ChecksExemption() != slices.Contains(b.Operations, op) {
					t.Errorf("%s (impact %s, handles %s): declares %s = %v", b.Name, b.Impact, k, op, slices.Contains(b.Operations, op))
				}
				if _, ok := OperationActions(op); !ok {
					t.Errorf("exemption operation %s has no IAM action", op)
				}
			}
		}
		for _, op := range b.ExemptionOperations {
			if !slices.Contains(b.Operations, op) {
				t.Errorf("%s: exemption operation %s is not in Operations", b.Name, op)
			}
		}
	}
	stop, _ := Lookup("ec2_stop_instance")
	if !slices.Equal(stop.ExemptionOperations, []string{"ec2:DescribeTags"}) || !slices.Contains(stop.IAMActions(), "ec2:DescribeTags") {
		t.Errorf("ec2_stop_instance: exemption operations %v, IAM actions %v", stop.ExemptionOperations, stop.IAMActions())
	}
	if n, _ := Lookup("notify_only"); len(n.ExemptionOperations) != 0 {
		t.Errorf("notify_only changes nothing but got %v", n.ExemptionOperations)
	}
}
