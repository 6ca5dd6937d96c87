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
