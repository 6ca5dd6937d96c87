package iambots

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// iam_deny_session stops the credentials of one session — the attacker's — and nothing else: on the role
// of the finding's assumed-role session, a Deny of everything to that session (aws:userId is
// "<role id>:<session name>", GuardDuty's principalId) for tokens issued before now. The role, its other
// sessions, and the instance itself once it refreshes its credentials keep working, which is what makes
// it safe to run unattended where iam_revoke_role_sessions is not. On an IAM user's temporary
// credentials (GetSessionToken; aws:userId is then the user's id) the same on the user: its long-term
// keys carry no token issue time and are untouched.

// denySessionBot is the bot's name, in its messages and its declaration.
const denySessionBot = "iam_deny_session"

func init() {
	bots.Register(bots.Bot{
		Name: denySessionBot,
		Summary: "Deny everything to the finding's session only (aws:userId = its principal id) for tokens issued before now, " +
			"in an inline policy on its role (or on the IAM user, for GetSessionToken credentials) whose Sid names the finding; " +
			"the role's other sessions keep working. Recorded in the state table; expires after max(the role's MaxSessionDuration, 12h), " +
			"36h on a user; expired denies are removed on each write. Identity Center roles: notify only, with the deny to apply. " +
			"Never on protected, service-linked or guardbots' own roles.",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMRole, finding.TargetIAMUser, finding.TargetSession},
		Params:     []bots.Param{pruneOnlyParam},
		Impact:     bots.ImpactDisruptive,
		Operations: principalOperations,
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return denySession(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

// sessionStatement denies everything to the session's tokens issued before t.
func sessionStatement(userIDKey, userID string, t time.Time) denyStatement {
	return denyStatement{Condition: map[string]map[string]any{
		"StringEquals": {userIDKey: userID},
		"DateLessThan": {"aws:TokenIssueTime": iamTime(t)},
	}}
}

func denySession(ctx context.Context, api iamPolicyAPI, req bots.Request) (bots.Result, error) {
	f := req.Finding
	sessions := req.TargetsOf(finding.TargetSession)
	now := denyClock().UTC().Truncate(time.Second)
	res, p, done, err := startDeny(ctx, api, denySessionBot, req, func(res bots.Result, p *principal) bots.Result {
		if len(sessions) == 0 {
			return bots.SkipBecause(res, fmt.Sprintf("the finding names no session of %s to deny", p))
		}
		s := sessions[0]
		return identityCenterAdvice(res, p, sessionDeny, f, sessionStatement("identitystore:UserId", identityStoreUserID, now),
			fmt.Sprintf("deny the Identity Center user %s's sessions issued before %s", s.SessionName(), iamTime(now)),
			now.Add(roleSessionFloor), getUserIDCommand(s))
	})
	if err != nil || done {
		return res, err
	}
	if len(sessions) == 0 {
		if p.isRole() {
			return bots.SkipBecause(res, fmt.Sprintf("the finding names no session of %s (GuardDuty's principalId is not <role id>:<session name>)", p)), nil
		}
		return bots.SkipBecause(res, fmt.Sprintf("the finding's credentials are not a temporary session of %s (a long-term access key: iam_deactivate_access_key acts on those)", p)), nil
	}
	s := sessions[0]
	if owner := s.PrincipalUniqueID(); owner != p.id {
		return bots.SkipBecause(res, fmt.Sprintf("%s belongs to a principal with id %s, and %s now has id %s: it was deleted and made again, "+
			"so the finding's credentials hold none of its permissions", s, owner, p, p.id)), nil
	}
	inv, err := readInventory(ctx, p)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", denySessionBot, err)
	}
	before := map[string]string{"deniedBefore": "none"}
	if d, ok := inv.find(sessionDeny, f.ID); ok && !d.issuedBefore.IsZero() {
		before["deniedBefore"] = iamTime(d.issuedBefore)
		// Denied from a time at or after the last activity GuardDuty saw: nothing newer to cut off.
		if seen := lastSeen(f); !seen.IsZero() && !d.issuedBefore.Before(seen) && d.userID == s.ID && !d.expired(p, now) {
			res.Status, res.Before = bots.StatusAlreadyDone, before
			res.Reason = fmt.Sprintf("%s is already denied for tokens issued before %s (the finding was last seen %s)",
				s, iamTime(d.issuedBefore), iamTime(seen))
			return res, nil
		}
	}
	expires := now.Add(sessionWindow(p))
	return denyWrite{
		kind: sessionDeny, stmt: sessionStatement("aws:userId", s.ID, now), expires: expires,
		what:   fmt.Sprintf("deny %s on %s for tokens issued before %s", s, p, iamTime(now)),
		before: before,
		after:  map[string]string{"deniedBefore": iamTime(now), "session": s.ID, "expiresAt": iamTime(expires)},
	}.write(ctx, req, res, p, inv, now)
}
