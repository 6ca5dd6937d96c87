package bots

import (
	"slices"
	"strings"
	"testing"
)

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

func TestRegister_AddsTheRunnersReadsOfEveryTargetTheBotIsHanded(t *testing.T) {
	for _, b := range Registered() {
		for _, op := range b.RunnerOperations() {
			if !slices.Contains(b.Operations, op) {
				t.Errorf("%s: the runner's read %s is not in Operations", b.Name, op)
			}
			if _, ok := OperationActions(op); !ok {
				t.Errorf("runner read %s has no IAM action", op)
			}
		}
		for _, op := range b.ExemptionOperations {
			if !slices.Contains(b.Operations, op) || !slices.Contains(b.RunnerOperations(), op) {
				t.Errorf("%s: exemption operation %s is not a runner read in Operations", b.Name, op)
			}
		}
	}
	stop, _ := Lookup("ec2_stop_instance")
	if !slices.Equal(stop.ExemptionOperations, []string{"ec2:DescribeTags"}) || !slices.Contains(stop.IAMActions(), "ec2:DescribeTags") {
		t.Errorf("ec2_stop_instance: exemption operations %v, IAM actions %v", stop.ExemptionOperations, stop.IAMActions())
	}
	// The role behind an instance profile is found, and its tag read, before iam_revoke_role_sessions runs;
	// a bot acting on roles only never reads a user's tags.
	revoke, _ := Lookup("iam_revoke_role_sessions")
	if want := []string{"iam:ListRoleTags", "ec2:DescribeTags", "iam:GetInstanceProfile"}; !sameSet(revoke.RunnerOperations(), want) {
		t.Errorf("iam_revoke_role_sessions: runner reads %v, want %v", revoke.RunnerOperations(), want)
	}
	if n, _ := Lookup("notify_only"); len(n.ExemptionOperations) != 0 || len(n.RunnerOperations()) != 0 {
		t.Errorf("notify_only changes nothing but got %v", n.ExemptionOperations)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
