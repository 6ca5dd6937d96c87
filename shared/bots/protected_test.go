package bots

import (
	"slices"
	"strings"
	"testing"
)

func TestProtectedRoles_OwnServiceLinkedAndOrganizationRolesAtAnyPathAreRefused(t *testing.T) {
	p := ProtectedRoles{Prefix: "gb"}
	for _, c := range []struct{ name, path, want string }{
		{"gb-iam_deny_session", "/", "guardbots' own roles (gb-*)"},
		{"gb-ec2_stop_instance", "/ops/", "guardbots' own roles"},
		{"OrganizationAccountAccessRole", "/", "protected (OrganizationAccountAccessRole)"},
		{"OrganizationAccountAccessRole", "/org/admin/", "protected (OrganizationAccountAccessRole)"},
		{"stacksets-exec-0123456789abcdef", "/", "protected (stacksets-exec-*)"},
		{"AWSControlTowerExecution", "/", "protected (AWSControlTowerExecution)"},
		{"AWSReservedSSO_Admin_0123456789abcdef", "/aws-reserved/sso.amazonaws.com/", "protected (aws-reserved/*)"},
		{"AWSServiceRoleForECS", "/aws-service-role/ecs.amazonaws.com/", "service-linked"},
		{"web-app-role", "/", ""},
		{"guardbots-iam_deny_session", "/", ""}, // another deployment's prefix is not this one's
		{"MyOrganizationAccountAccessRole", "/", ""},
		{"reserved", "/aws-reserved-not/", ""},
	} {
		got := p.Reason(c.name, c.path)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s%s: %q, want %q", c.path, c.name, got, c.want)
		}
	}
	if got := (ProtectedRoles{}).Reason("guardbots-iam_deny_session", ""); !strings.Contains(got, "guardbots-*") {
		t.Errorf("default prefix: %q", got)
	}
	if got := (ProtectedRoles{Patterns: []string{"break-glass"}}).Reason("OrganizationAccountAccessRole", "/"); got != "" {
		t.Errorf("a deployment's own list replaces the defaults: %q", got)
	}
}

func TestProtectedRoles_ARNPatternsCoverEachNameAtAnyPath(t *testing.T) {
	got := ProtectedRoles{Prefix: "gb"}.ARNPatterns("aws-cn")
	for _, want := range []string{
		"arn:aws-cn:iam::*:role/gb-*", "arn:aws-cn:iam::*:role/*/gb-*",
		"arn:aws-cn:iam::*:role/OrganizationAccountAccessRole", "arn:aws-cn:iam::*:role/*/OrganizationAccountAccessRole",
		"arn:aws-cn:iam::*:role/stacksets-exec-*", "arn:aws-cn:iam::*:role/aws-reserved/*",
		"arn:aws-cn:iam::*:role/aws-service-role/*",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	// Every pattern matches the roles Reason refuses, as IAM matches ARNs ("*" crosses "/").
	p := ProtectedRoles{Prefix: "gb"}
	for _, role := range []string{"role/gb-x", "role/team/gb-x", "role/org/OrganizationAccountAccessRole", "role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_A_1"} {
		arn := "arn:aws-cn:iam::111122223333:" + role
		if !slices.ContainsFunc(p.ARNPatterns("aws-cn"), func(pat string) bool { return globMatch(strings.Replace(pat, "*", "111122223333", 1), arn) }) {
			t.Errorf("no pattern covers %s", arn)
		}
	}
}
