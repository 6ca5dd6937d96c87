package bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/finding"
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

// A condition narrows one of the bot's own IAM actions; anything else is a malformed declaration.
func TestValidate_AConditionMustBeOnADeclaredActionAndComplete(t *testing.T) {
	base := Bot{Name: "cond_bot", Summary: "s", Impact: ImpactNone, Resources: []finding.ResourceKind{finding.KindAccessKey},
		Operations: []string{"iam:AttachUserPolicy"}, Run: func(context.Context, Request) (Result, error) { return Result{}, nil }}
	ok := Condition{Action: "iam:AttachUserPolicy", Operator: "ArnLike", Key: "iam:PolicyARN", Values: []string{"arn:*:iam::aws:policy/AWSDenyAll"}}
	for name, c := range map[string]struct {
		conds []Condition
		want  string
	}{
		"fine":            {[]Condition{ok}, ""},
		"undeclared":      {[]Condition{{Action: "iam:AttachRolePolicy", Operator: "ArnLike", Key: "iam:PolicyARN", Values: []string{"x"}}}, "none of the bot's IAM actions"},
		"twice":           {[]Condition{ok, ok}, "two conditions"},
		"without a value": {[]Condition{{Action: "iam:AttachUserPolicy", Operator: "ArnLike", Key: "iam:PolicyARN"}}, "needs an operator, a key and values"},
	} {
		b := base
		b.Conditions = c.conds
		err := b.validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	q, _ := Lookup("iam_quarantine_user")
	if c, found := q.ConditionOn("iam:AttachUserPolicy"); !found || c.Key != "iam:PolicyARN" || c.Values[0] != "arn:*:iam::aws:policy/AWSDenyAll" {
		t.Errorf("iam_quarantine_user's condition: %+v", q.Conditions)
	}
}
