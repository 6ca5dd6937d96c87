package iambots

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// quarantineUserBot is the bot's name, in its messages and its declaration.
const quarantineUserBot = "iam_quarantine_user"

// denyAllPolicy is the AWS managed policy the bot attaches: a Deny of every action on every resource,
// which AWS maintains. Attaching a managed policy rather than writing an inline one lets the bot's roles
// be granted iam:AttachUserPolicy for that one policy only (iam:PolicyARN): a session of the role
// cannot attach AdministratorAccess, nor write any policy text, to anyone. Detaching it undoes the bot.
const denyAllPolicy = "AWSDenyAll"

func init() {
	bots.Register(bots.Bot{
		Name: quarantineUserBot,
		Summary: "Attach the AWS managed deny-all policy " + denyAllPolicy + " to the IAM user in the finding and tag the user " +
			"(IAM users only; never root). Its roles may attach that policy and no other; detach it to undo.",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMUser},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:GetUser", "iam:ListAttachedUserPolicies", "iam:AttachUserPolicy", "iam:TagUser"},
		// Any partition's AWSDenyAll: the bot builds the ARN in the finding's partition.
		Conditions: []bots.Condition{{Action: "iam:AttachUserPolicy", Operator: "ArnLike", Key: "iam:PolicyARN",
			Values: []string{"arn:*:iam::aws:policy/" + denyAllPolicy}}},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return quarantineUser(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

// iamQuarantineAPI is what iam_quarantine_user calls.
type iamQuarantineAPI interface {
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
	iam.ListAttachedUserPoliciesAPIClient
	AttachUserPolicy(context.Context, *iam.AttachUserPolicyInput, ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

// denyAllArn is AWSDenyAll's ARN in the finding's partition.
func denyAllArn(f *finding.Finding) (string, error) {
	if f.Partition == "" {
		return "", fmt.Errorf("%s: the finding names no partition, so the %s policy's ARN is unknown", quarantineUserBot, denyAllPolicy)
	}
	return "arn:" + f.Partition + ":iam::aws:policy/" + denyAllPolicy, nil
}

func quarantineUser(ctx context.Context, api iamQuarantineAPI, req bots.Request) (bots.Result, error) {
	res, t, err := liveIAMUser(ctx, api, quarantineUserBot, req)
	if err != nil {
		return res, err
	}
	user, where := t.ID, t.Where()
	f := req.Finding
	policy, err := denyAllArn(f)
	if err != nil {
		return bots.Result{}, err
	}
	attached, err := hasAttachedPolicy(ctx, api, user, policy)
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("user %s was deleted before it could be quarantined", user)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: list the policies attached to %s: %w", quarantineUserBot, where, err)
	}
	if attached {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("user %s already has the deny-all policy %s attached", user, denyAllPolicy)
		res.Before = map[string]string{denyAllPolicy: "attached"}
		return res, nil
	}
	res.Before = map[string]string{denyAllPolicy: "not attached"}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would attach the deny-all policy %s to user %s", policy, user)}
		return res, nil
	}
	if _, err := api.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(policy)}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("user %s was deleted before it could be quarantined", user)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: attach %s to %s: %w", quarantineUserBot, policy, where, err)
	}
	slog.InfoContext(ctx, "user quarantined", "bot", quarantineUserBot, "finding", f.ID, "account", f.AccountID, "user", user, "policy", policy)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{denyAllPolicy: "attached"}
	res.Changes = []string{fmt.Sprintf("attached the deny-all policy %s to user %s", policy, user)}
	if err := tagIAMUser(ctx, api, t, quarantineUserBot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was quarantined but tagging the user failed: %w", quarantineUserBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged user %s with %s, %s", user, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// hasAttachedPolicy reports whether the managed policy arn is attached to user, reading every page.
func hasAttachedPolicy(ctx context.Context, api iam.ListAttachedUserPoliciesAPIClient, user, arn string) (bool, error) {
	pages := iam.NewListAttachedUserPoliciesPaginator(api, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, err
		}
		for _, p := range page.AttachedPolicies {
			if aws.ToString(p.PolicyArn) == arn {
				return true, nil
			}
		}
	}
	return false, nil
}
