package deployment

import (
	"slices"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
)

// DefaultProtectedRoles are the roles no IAM-writing bot may change when the deployment names none
// (Settings.ProtectedRoles, CDK context protectedRoles): the organization's way into every member
// account, the StackSets execution role, Control Tower's, and IAM Identity Center's (path aws-reserved).
// Each is matched by name at any path (FencedRoles). One list with the bots' own check
// (bots.ProtectedRoleDefaults), which refuses the same roles before any write.
var DefaultProtectedRoles = bots.ProtectedRoleDefaults

// WritesIAM reports whether b declares an IAM action that writes a policy (iam:Put* or iam:Attach*) or
// any other change of a role the fence denies (FencedRoleActions: iam:DeleteRolePolicy, say, which the
// undo bots of the deny bots hold): a session of its role could otherwise rewrite any role it reaches,
// its own and every other guardbots role included — or strip a deny, the fence's own policy among them
// — and so make itself administrator of the account. Every such bot's roles carry the fence
// (FencedRoleActions on FencedRoles), derived from the declaration so a new bot is fenced the day it is
// registered.
func WritesIAM(b bots.Bot) bool {
	return slices.ContainsFunc(b.IAMActions(), func(a string) bool {
		return strings.HasPrefix(a, "iam:Put") || strings.HasPrefix(a, "iam:Attach") || slices.Contains(FencedRoleActions, a)
	})
}

// FencedRoleActions are what the fence denies on guardbots' own roles and the protected ones: every IAM
// action that changes what a role may do, who may assume it, whether it exists, or its tags (the
// exemption tag included). A bot's role is denied them whatever else it is granted.
var FencedRoleActions = []string{
	"iam:AttachRolePolicy",
	"iam:DeleteRole",
	"iam:DeleteRolePermissionsBoundary",
	"iam:DeleteRolePolicy",
	"iam:DetachRolePolicy",
	"iam:PutRolePermissionsBoundary",
	"iam:PutRolePolicy",
	"iam:TagRole",
	"iam:UntagRole",
	"iam:UpdateAssumeRolePolicy",
	"iam:UpdateRole",
	"iam:UpdateRoleDescription",
}

// FencedRoles are the role ARNs (patterns, in partition, any account) the fence covers: every role named
// "<prefix>-*" (the deployment's own: member, Lambda, workflow and approver roles) and each protected
// role, each matched by name at any path — "name" as role/name and role/*/name, so a path does not hide
// it ("aws-reserved/*" matches Identity Center's roles under that path).
func FencedRoles(partition, prefix string, protected []string) []string {
	var out []string
	for _, name := range append([]string{prefix + "-*"}, protected...) {
		out = append(out, "arn:"+partition+":iam::*:role/"+name, "arn:"+partition+":iam::*:role/*/"+name)
	}
	return out
}
