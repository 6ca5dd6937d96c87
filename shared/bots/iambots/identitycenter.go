package iambots

import (
	"fmt"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// IAM Identity Center makes a role per permission set in each account it is assigned to
// (AWSReservedSSO_<permission set>_<hex>, under /aws-reserved/sso.amazonaws.com/): the member account
// cannot change it, and the permission set's one inline policy is usually owned by the organization's
// own infrastructure code. So the deny bots change nothing there and say, in their result (and so in the
// notification), the exact statement a person should apply and the commands to apply it. Automating it
// is a later step.

// identityStoreUserID stands in the statement for the Identity Center user's id, which the finding does
// not carry: the first command of the advice prints it.
const identityStoreUserID = "<user id printed by aws identitystore get-user-id>"

// identityCenterAdvice is a deny bot's answer on an Identity Center role: notified, nothing changed,
// with the statement and the commands. stmt is the deny as the bot would write it (its Sid is set here).
func identityCenterAdvice(res bots.Result, p *principal, k *denyKind, f *finding.Finding, stmt denyStatement, what string, expires time.Time, lookup string) bots.Result {
	stmt.Sid = k.sidOf(f.ID)
	doc := denyDocument(stmt)
	ps, account := p.permissionSet(), p.target.Account
	res.Status = bots.StatusNotified
	res.Reason = fmt.Sprintf("%s belongs to IAM Identity Center (permission set %s), which owns it: nothing was changed in account %s; "+
		"a person should apply the deny below to the permission set or as an SCP (automating it is not built yet)", p, ps, account)
	res.Changes = []string{fmt.Sprintf("to %s, apply this deny until %s: %s", what, iamTime(expires), doc)}
	if lookup != "" {
		res.Changes = append(res.Changes, lookup)
	}
	res.Changes = append(res.Changes,
		fmt.Sprintf("in the permission set %s: aws sso-admin list-permission-sets --instance-arn <Identity Center instance ARN>, then describe-permission-set "+
			"to find its ARN; get-inline-policy-for-permission-set, add the statement, put-inline-policy-to-permission-set --inline-policy file://policy.json; "+
			"then aws sso-admin provision-permission-set --instance-arn <instance ARN> --permission-set-arn <its ARN> --target-type AWS_ACCOUNT --target-id %s", ps, account),
		fmt.Sprintf("or as an SCP on account %s (from the organization's management account): aws organizations create-policy --type SERVICE_CONTROL_POLICY "+
			"--name %s --description 'guardbots: finding %s' --content file://deny.json, then aws organizations attach-policy --policy-id <its id> --target-id %s",
			account, k.policyName(f.ID), f.ID, account),
		fmt.Sprintf("remove it after %s: it matters no longer", iamTime(expires)))
	res.After = map[string]string{"advised": doc}
	return res
}

// getUserIDCommand is the command that prints the Identity Center user id of the session's user: the
// session name of an Identity Center role is the user's name.
func getUserIDCommand(session finding.Target) string {
	name := strings.ReplaceAll(session.SessionName(), "'", "")
	return fmt.Sprintf(`the user id: aws identitystore get-user-id --identity-store-id <identity store id> --alternate-identifier '{"UniqueAttribute":{"AttributePath":"userName","AttributeValue":"%s"}}'`, name)
}
