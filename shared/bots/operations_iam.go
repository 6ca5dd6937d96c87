package bots

// iamOperations are the IAM operations bots call. IAM's operation and action names coincide.
var iamOperations = map[string][]string{
	"iam:ListAccessKeys":           {"iam:ListAccessKeys"},
	"iam:UpdateAccessKey":          {"iam:UpdateAccessKey"},
	"iam:GetUser":                  {"iam:GetUser"},
	"iam:TagUser":                  {"iam:TagUser"},
	"iam:AttachUserPolicy":         {"iam:AttachUserPolicy"},
	"iam:ListAttachedUserPolicies": {"iam:ListAttachedUserPolicies"},
	"iam:GetLoginProfile":          {"iam:GetLoginProfile"},
	"iam:DeleteLoginProfile":       {"iam:DeleteLoginProfile"},
	"iam:GetRole":                  {"iam:GetRole"},
	"iam:TagRole":                  {"iam:TagRole"},
	"iam:GetRolePolicy":            {"iam:GetRolePolicy"},
	"iam:PutRolePolicy":            {"iam:PutRolePolicy"},
	"iam:GetUserPolicy":            {"iam:GetUserPolicy"},
	"iam:PutUserPolicy":            {"iam:PutUserPolicy"},
	"iam:DeleteRolePolicy":         {"iam:DeleteRolePolicy"},
	"iam:ListRolePolicies":         {"iam:ListRolePolicies"},
	"iam:DeleteUserPolicy":         {"iam:DeleteUserPolicy"},
	"iam:ListUserPolicies":         {"iam:ListUserPolicies"},
}
