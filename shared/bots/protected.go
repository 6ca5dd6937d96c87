package bots

import (
	"fmt"
	"strings"
)

// The roles no bot may change, whoever the finding names: the one definition that the bots writing IAM
// check before they write (ProtectedRoles.Reason), and that the IAM fence on their roles (an explicit
// Deny on these roles' ARNs, deployment.FencedRoles from deployment.DefaultProtectedRoles) is built
// from. Root is not a role and is never a target at all (finding.TargetRoot is refused).

// ProtectedRoleDefaults are the roles an organization's own administration runs on, protected unless a
// deployment lists others: a pattern without a "/" is matched against the role's name at any path, one
// with a "/" against its path and name ("aws-reserved/*": every role under /aws-reserved/, IAM
// Identity Center's among them). "*" matches any run of characters.
var ProtectedRoleDefaults = []string{
	"OrganizationAccountAccessRole",
	"stacksets-exec-*",
	"AWSControlTowerExecution",
	"aws-reserved/*",
}

// ServiceLinkedPath is the path of every service-linked role: AWS owns their policies.
const ServiceLinkedPath = "/aws-service-role/"

// ProtectedRoles is the list for one deployment: guardbots' own roles ("<Prefix>-*"), the service-linked
// roles, and Patterns (ProtectedRoleDefaults when nil).
type ProtectedRoles struct {
	// Prefix names guardbots' own roles, "<Prefix>-*" (the member roles' prefix).
	Prefix string
	// Patterns are the deployment's protected roles; nil means ProtectedRoleDefaults.
	Patterns []string
}

// patterns are every pattern, guardbots' own first.
func (p ProtectedRoles) patterns() []string {
	own := p.Prefix
	if own == "" {
		own = "guardbots"
	}
	ps := p.Patterns
	if ps == nil {
		ps = ProtectedRoleDefaults
	}
	return append([]string{own + "-*"}, ps...)
}

// Reason says why the role at rolePath (IAM's path, "/" or "/a/b/") named name must not be changed, or
// "" when it may be.
func (p ProtectedRoles) Reason(name, rolePath string) string {
	if rolePath == "" {
		rolePath = "/"
	}
	if strings.HasPrefix(rolePath, ServiceLinkedPath) {
		return fmt.Sprintf("role %s is service-linked: AWS owns its policies", name)
	}
	for i, pat := range p.patterns() {
		subject := name
		if strings.Contains(pat, "/") {
			subject = strings.TrimPrefix(rolePath, "/") + name
		}
		if !globMatch(pat, subject) {
			continue
		}
		if i == 0 {
			return fmt.Sprintf("role %s is one of guardbots' own roles (%s): guardbots never changes its own roles", name, pat)
		}
		return fmt.Sprintf("role %s is protected (%s): guardbots never changes the roles an organization is administered with", name, pat)
	}
	return ""
}

// globMatch reports whether s matches p, where "*" matches any run of characters, "/" included (as in
// IAM's ARN patterns).
func globMatch(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
