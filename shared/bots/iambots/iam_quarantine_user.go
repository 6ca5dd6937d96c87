package iambots

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// quarantineUserBot is the bot's name, in its messages and its declaration.
const quarantineUserBot = "iam_quarantine_user"

func init() {
	bots.Register(bots.Bot{
		Name: quarantineUserBot,
		Summary: "Attach the inline deny-all policy " + quarantinePolicyName + " to the IAM user in the finding " +
			"and tag the user (IAM users only; never root).",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMUser},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:TagUser"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return quarantineUser(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

const quarantinePolicyName = "guardbots-quarantine"

// quarantinePolicy denies every action on every resource. Its wildcards are exempt from the
// no-wildcard rule, which is about what the bots are ALLOWED to do: this is a Deny the bot writes on
// the compromised user, and a Deny can only take permissions away. Deleting the inline policy undoes it.
const quarantinePolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"GuardbotsQuarantine","Effect":"Deny","Action":"*","Resource":"*"}]}`

// iamQuarantineAPI is what iam_quarantine_user calls.
type iamQuarantineAPI interface {
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetUserPolicy(context.Context, *iam.GetUserPolicyInput, ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

func quarantineUser(ctx context.Context, api iamQuarantineAPI, req bots.Request) (bots.Result, error) {
	res, t, err := liveIAMUser(ctx, api, quarantineUserBot, req)
	if err != nil {
		return res, err
	}
	user, where := t.ID, t.Where()
	f := req.Finding
	current, err := userInlinePolicy(ctx, api, user, quarantinePolicyName)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read policy %s of %s: %w", quarantineUserBot, quarantinePolicyName, where, err)
	}
	switch {
	case current == "":
		res.Before = map[string]string{"policy": "absent"}
	case samePolicy(current, quarantinePolicy):
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("user %s already has the deny-all policy %s", user, quarantinePolicyName)
		res.Before = map[string]string{"policy": "deny-all"}
		return res, nil
	default:
		// Someone changed our policy (weakened it, perhaps): it is rewritten, and the old text reported.
		res.Before = map[string]string{"policy": "different", "document": current}
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would attach the deny-all inline policy %s to user %s", quarantinePolicyName, user)}
		return res, nil
	}
	if _, err := api.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(user), PolicyName: aws.String(quarantinePolicyName), PolicyDocument: aws.String(quarantinePolicy),
	}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("user %s was deleted before it could be quarantined", user)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: put policy %s on %s: %w", quarantineUserBot, quarantinePolicyName, where, err)
	}
	slog.InfoContext(ctx, "user quarantined", "bot", quarantineUserBot, "finding", f.ID, "account", f.AccountID, "user", user, "policy", quarantinePolicyName)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"policy": "deny-all"}
	res.Changes = []string{fmt.Sprintf("attached the deny-all inline policy %s to user %s", quarantinePolicyName, user)}
	if err := tagIAMUser(ctx, api, t, quarantineUserBot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was quarantined but tagging the user failed: %w", quarantineUserBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged user %s with %s, %s", user, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// userInlinePolicy returns the URL-decoded document of the user's inline policy, "" when there is none.
func userInlinePolicy(ctx context.Context, api iamQuarantineAPI, user, name string) (string, error) {
	out, err := api.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name)})
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return "", nil
		}
		return "", err
	}
	return decodePolicy(aws.ToString(out.PolicyDocument)), nil
}

// decodePolicy undoes IAM's URL encoding of policy documents (RFC 3986: '+' is a literal plus, which
// PathUnescape keeps). A document that is not encoded is returned as it is.
func decodePolicy(doc string) string {
	if d, err := url.PathUnescape(doc); err == nil {
		return d
	}
	return doc
}

// samePolicy compares two policy documents as JSON, so whitespace and key order do not matter.
func samePolicy(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
