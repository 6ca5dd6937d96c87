package iambots

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// iam_revoke_role_sessions cuts EVERY session of the role, not only the attacker's: for a role shared by
// an instance fleet or many users it is an outage. It must never be AUTO in the default mapping.
//
// Instance findings are accepted too: the role behind the instance profile is what stolen instance
// credentials (InstanceCredentialExfiltration) act as, and the same deny stops them. The runner finds
// that role (a related target) and reads its exemption tag, and the instance's, before the bot runs.
// revokeBot is the bot's name, in its messages and its declaration.
const revokeBot = "iam_revoke_role_sessions"

func init() {
	bots.Register(bots.Bot{
		Name: revokeBot,
		Summary: "Deny everything to sessions of the finding's role issued before now (inline policy " +
			revokePolicyName + ", as the console's \"revoke active sessions\"). Cuts EVERY session of the " +
			"role: never AUTO by default.",
		Resources:  []finding.ResourceKind{finding.KindAccessKey, finding.KindInstance},
		Targets:    []finding.TargetKind{finding.TargetIAMRole, finding.TargetInstance},
		Related:    []finding.Relation{finding.RelInstanceProfileRole},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:TagRole"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return revokeRoleSessions(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

const revokePolicyName = "guardbots-revoke-older-sessions"

// revokeClock is the bot's clock, replaced by tests.
var revokeClock = time.Now

// iamRoleAPI is what iam_revoke_role_sessions calls.
type iamRoleAPI interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	TagRole(context.Context, *iam.TagRoleInput, ...func(*iam.Options)) (*iam.TagRoleOutput, error)
}

func revokeRoleSessions(ctx context.Context, api iamRoleAPI, req bots.Request) (bots.Result, error) {
	// The role of a role session, or of an instance's instance profile (a related target).
	res, t, err := bots.Begin(revokeBot, req, finding.TargetIAMRole)
	if err != nil {
		return res, err
	}
	f, roleName, where := req.Finding, t.ID, t.Where()

	out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("role %s no longer exists", roleName)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: read %s: %w", revokeBot, where, err)
	}
	role := out.Role
	res.Resources = []string{firstSet(aws.ToString(role.Arn), roleName)}
	if r := unmanagedRoleReason(role); r != "" {
		return bots.SkipBecause(res, r), nil
	}
	if r := protectedRoles().Reason(roleName, aws.ToString(role.Path)); r != "" {
		return bots.SkipBecause(res, r), nil
	}

	previous, err := currentRevokeTime(ctx, api, roleName)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read policy %s of %s: %w", revokeBot, revokePolicyName, where, err)
	}
	res.Before = map[string]string{"revokedBefore": "none"}
	if !previous.IsZero() {
		res.Before["revokedBefore"] = previous.Format(time.RFC3339)
		// Sessions issued before the revoke time are denied; the finding's activity ended at LastSeen,
		// so a revoke time at or after it already covers the sessions the finding saw.
		if lastSeen, ok := findingLastSeen(f); ok && !previous.Before(lastSeen) {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("sessions of role %s issued before %s are already denied (finding last seen %s)",
				roleName, previous.Format(time.RFC3339), lastSeen.Format(time.RFC3339))
			return res, nil
		}
	}
	now := revokeClock().UTC().Truncate(time.Second)
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would deny every session of role %s issued before %s (all of its current sessions)", roleName, now.Format(time.RFC3339))}
		return res, nil
	}
	if _, err := api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(roleName), PolicyName: aws.String(revokePolicyName), PolicyDocument: aws.String(revokePolicy(now)),
	}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("role %s was deleted before its sessions could be revoked", roleName)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: put policy %s on %s: %w", revokeBot, revokePolicyName, where, err)
	}
	slog.InfoContext(ctx, "role sessions revoked", "bot", revokeBot, "finding", f.ID, "account", f.AccountID, "role", roleName, "issuedBefore", now.Format(time.RFC3339))
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"revokedBefore": now.Format(time.RFC3339)}
	res.Changes = []string{fmt.Sprintf("denied every session of role %s issued before %s (inline policy %s)", roleName, now.Format(time.RFC3339), revokePolicyName)}
	if _, err := api.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(roleName), Tags: iamTags(bots.Markers(revokeBot, req, t))}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: sessions of %s were revoked but tagging the role failed: %w", revokeBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged role %s with %s, %s", roleName, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// revokePolicy is the console's AWSRevokeOlderSessions document: deny everything to sessions whose
// token was issued before t. The wildcards are a Deny the bot writes, exempt from the no-wildcard rule
// on what bots are allowed.
func revokePolicy(t time.Time) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"GuardbotsRevokeOlderSessions","Effect":"Deny","Action":["*"],"Resource":["*"],` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + t.UTC().Format(time.RFC3339) + `"}}}]}`
}

// unmanagedRoleReason says why the bot must leave a role alone, or "".
func unmanagedRoleReason(r *iamtypes.Role) string {
	name, path := aws.ToString(r.RoleName), aws.ToString(r.Path)
	switch {
	case strings.HasPrefix(path, "/aws-service-role/"):
		return fmt.Sprintf("role %s is service-linked: AWS manages its policies and an inline policy cannot be added", name)
	case strings.HasPrefix(name, "AWSReservedSSO_") || strings.HasPrefix(path, "/aws-reserved/sso.amazonaws.com/"):
		return fmt.Sprintf("role %s belongs to IAM Identity Center, which reverts changes to it: revoke the user's sessions in Identity Center", name)
	}
	return ""
}

// currentRevokeTime reads the revoke time of an existing policy; zero when there is none.
func currentRevokeTime(ctx context.Context, api iamRoleAPI, role string) (time.Time, error) {
	out, err := api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(revokePolicyName)})
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return time.Time{}, nil
		}
		return time.Time{}, err
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(decodePolicy(aws.ToString(out.PolicyDocument))), &doc); err != nil {
		// An unreadable policy of ours is rewritten, not trusted.
		return time.Time{}, nil
	}
	var latest time.Time
	for _, s := range doc.Statement {
		if s.Effect != "Deny" {
			continue
		}
		if v, ok := s.Condition["DateLessThan"]["aws:TokenIssueTime"].(string); ok {
			if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(latest) {
				latest = t
			}
		}
	}
	return latest, nil
}

// findingLastSeen is when GuardDuty last saw the activity (UpdatedAt when LastSeen is missing).
func findingLastSeen(f *finding.Finding) (time.Time, bool) {
	for _, s := range []string{f.LastSeen, f.UpdatedAt} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func firstSet(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
