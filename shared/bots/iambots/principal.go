package iambots

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
)

// What the bots writing inline policies on a role or a user share: the principal read live, its inline
// policies (the same calls on a role and on a user), and whether it may be changed at all.

// iamPolicyAPI is what the bots writing inline policies call, on roles and on users.
type iamPolicyAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	TagRole(context.Context, *iam.TagRoleInput, ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
	ListUserPolicies(context.Context, *iam.ListUserPoliciesInput, ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
	GetUserPolicy(context.Context, *iam.GetUserPolicyInput, ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	DeleteUserPolicy(context.Context, *iam.DeleteUserPolicyInput, ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

// principalOperations are the operations of iamPolicyAPI, as the deny bots declare them.
var principalOperations = []string{
	"iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole",
	"iam:GetUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:TagUser",
}

// IAM's limits on the inline policies of one principal, all of them together, in characters other
// than white space (IAM does not count it).
const (
	roleInlineLimit = 10240
	userInlineLimit = 2048
)

// principal is the role or user a bot writes an inline policy on, as read live.
type principal struct {
	target finding.Target
	// path, arn and id are IAM's; id is the unique id aws:userId starts with (AROA…, AIDA…).
	path, arn, id string
	// maxSession is a role's MaxSessionDuration (zero for a user).
	maxSessionSeconds int32
	api               iamPolicyAPI
}

func (p *principal) isRole() bool { return p.target.Kind == finding.TargetIAMRole }

// noun is "role" or "user".
func (p *principal) noun() string { return finding.Spec(p.target.Kind).Noun }

// name is the role's or user's name.
func (p *principal) name() string { return p.target.ID }

// String is "role web" or "user alice".
func (p *principal) String() string { return p.noun() + " " + p.name() }

// limit is IAM's aggregate inline-policy limit of the principal.
func (p *principal) limit() int {
	if p.isRole() {
		return roleInlineLimit
	}
	return userInlineLimit
}

// livePrincipal starts a bot writing on the finding's role or user (bots.Begin) at its live read: the
// role of a role session, else the IAM user. One that no longer exists is a skip.
func livePrincipal(ctx context.Context, api iamPolicyAPI, bot string, req bots.Request) (bots.Result, *principal, error) {
	kind := finding.TargetIAMRole
	if len(req.TargetsOf(kind)) == 0 {
		kind = finding.TargetIAMUser
	}
	res, t, err := bots.Begin(bot, req, kind)
	if err != nil {
		return res, nil, err
	}
	p := &principal{target: t, api: api}
	if p.isRole() {
		out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(t.ID)})
		if err != nil {
			if bots.APIErrorCode(err) == "NoSuchEntity" {
				return res, nil, bots.Skip("role %s no longer exists", t.ID)
			}
			return res, nil, fmt.Errorf("%s: read %s: %w", bot, t.Where(), err)
		}
		r := out.Role
		p.path, p.arn, p.id = aws.ToString(r.Path), aws.ToString(r.Arn), aws.ToString(r.RoleId)
		p.maxSessionSeconds = aws.ToInt32(r.MaxSessionDuration)
	} else {
		out, err := api.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(t.ID)})
		if err != nil {
			if bots.APIErrorCode(err) == "NoSuchEntity" {
				return res, nil, bots.Skip("user %s no longer exists", t.ID)
			}
			return res, nil, fmt.Errorf("%s: read %s: %w", bot, t.Where(), err)
		}
		u := out.User
		p.path, p.arn, p.id = aws.ToString(u.Path), aws.ToString(u.Arn), aws.ToString(u.UserId)
	}
	if p.arn != "" {
		res.Resources = []string{p.arn}
	}
	return res, p, nil
}

// identityCenterRole reports whether the role is one IAM Identity Center made for a permission set:
// Identity Center owns it and reverts (or an SCP forbids) any change made in the member account.
func (p *principal) identityCenterRole() bool {
	return p.isRole() && (strings.HasPrefix(p.name(), "AWSReservedSSO_") || strings.HasPrefix(p.path, "/aws-reserved/sso.amazonaws.com/"))
}

// permissionSet is the name of the permission set an Identity Center role was made for
// ("AWSReservedSSO_<permission set>_<hex>").
func (p *principal) permissionSet() string {
	n := strings.TrimPrefix(p.name(), "AWSReservedSSO_")
	if i := strings.LastIndexByte(n, '_'); i > 0 {
		return n[:i]
	}
	return n
}

// protectedReason says why the principal must not be changed (bots.ProtectedRoles: guardbots' own
// roles, service-linked roles, the organization's administration roles), or "".
func (p *principal) protectedReason() string {
	if !p.isRole() {
		return ""
	}
	return protectedRoles().Reason(p.name(), p.path)
}

// protectedRoles is the list this deployment protects: guardbots' own roles by its member-role prefix,
// and the deployment's protected roles (GUARDBOTS_PROTECTED_ROLES; the defaults when unset) — the
// roles the fence denies this bot's role in IAM.
func protectedRoles() bots.ProtectedRoles {
	prefix := os.Getenv(deployment.EnvRolePrefix)
	if prefix == "" {
		prefix = deployment.DefaultRolePrefix
	}
	p := bots.ProtectedRoles{Prefix: prefix}
	if v, ok := os.LookupEnv(deployment.EnvProtectedRoles); ok {
		// The deployment's list holds the defaults (infra adds to them); an empty one keeps them too.
		p.Patterns = slices.Clone(bots.ProtectedRoleDefaults)
		for r := range strings.SplitSeq(v, ",") {
			if r = strings.TrimSpace(r); r != "" && !slices.Contains(p.Patterns, r) {
				p.Patterns = append(p.Patterns, r)
			}
		}
	}
	return p
}

// inlinePolicy is one inline policy of the principal: its name, document (decoded) and size as IAM
// counts it.
type inlinePolicy struct {
	name, doc string
	size      int
}

// policies reads every inline policy of the principal.
func (p *principal) policies(ctx context.Context) ([]inlinePolicy, error) {
	var names []string
	if p.isRole() {
		pg := iam.NewListRolePoliciesPaginator(p.api, &iam.ListRolePoliciesInput{RoleName: aws.String(p.name())})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the inline policies of %s: %w", p.target.Where(), err)
			}
			names = append(names, page.PolicyNames...)
		}
	} else {
		pg := iam.NewListUserPoliciesPaginator(p.api, &iam.ListUserPoliciesInput{UserName: aws.String(p.name())})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the inline policies of %s: %w", p.target.Where(), err)
			}
			names = append(names, page.PolicyNames...)
		}
	}
	out := make([]inlinePolicy, 0, len(names))
	for _, n := range names {
		doc, found, err := p.policy(ctx, n)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, inlinePolicy{name: n, doc: doc, size: policySize(doc)})
		}
	}
	return out, nil
}

// policy reads one inline policy of the principal, URL-decoded; found is false when it has none of
// that name.
func (p *principal) policy(ctx context.Context, name string) (doc string, found bool, err error) {
	var raw *string
	if p.isRole() {
		out, e := p.api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(p.name()), PolicyName: aws.String(name)})
		if out != nil {
			raw = out.PolicyDocument
		}
		err = e
	} else {
		out, e := p.api.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(p.name()), PolicyName: aws.String(name)})
		if out != nil {
			raw = out.PolicyDocument
		}
		err = e
	}
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read inline policy %s of %s: %w", name, p.target.Where(), err)
	}
	return decodePolicy(aws.ToString(raw)), true, nil
}

// putPolicy writes an inline policy on the principal.
func (p *principal) putPolicy(ctx context.Context, name, doc string) error {
	var err error
	if p.isRole() {
		_, err = p.api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(p.name()), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	} else {
		_, err = p.api.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(p.name()), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	}
	if err != nil {
		return fmt.Errorf("put inline policy %s on %s: %w", name, p.target.Where(), err)
	}
	return nil
}

// deletePolicy removes an inline policy from the principal; one already gone is not an error.
func (p *principal) deletePolicy(ctx context.Context, name string) error {
	var err error
	if p.isRole() {
		_, err = p.api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(p.name()), PolicyName: aws.String(name)})
	} else {
		_, err = p.api.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(p.name()), PolicyName: aws.String(name)})
	}
	if err != nil && bots.APIErrorCode(err) != "NoSuchEntity" {
		return fmt.Errorf("delete inline policy %s of %s: %w", name, p.target.Where(), err)
	}
	return nil
}

// tag marks the principal with the bot's markers (TagRole and TagUser add to the tags, they do not
// replace them).
func (p *principal) tag(ctx context.Context, bot string, req bots.Request) error {
	tags := iamTags(bots.Markers(bot, req, p.target))
	var err error
	if p.isRole() {
		_, err = p.api.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(p.name()), Tags: tags})
	} else {
		_, err = p.api.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(p.name()), Tags: tags})
	}
	return err
}

// policySize is a policy's size as IAM counts it against the aggregate limits: its characters other
// than white space.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}
