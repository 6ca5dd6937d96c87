package bots

import (
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
