package iambots

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// consolePasswordBot is the bot's name, in its messages and its declaration.
const consolePasswordBot = "iam_disable_console_password"

func init() {
	bots.Register(bots.Bot{
		Name: consolePasswordBot,
		Summary: "Delete the IAM user's console password (login profile) and tag the user " +
			"(IAM users only; never root).",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMUser},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:GetUser", "iam:GetLoginProfile", "iam:DeleteLoginProfile", "iam:TagUser"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return disableConsolePassword(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

// iamLoginProfileAPI is what iam_disable_console_password calls.
type iamLoginProfileAPI interface {
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetLoginProfile(context.Context, *iam.GetLoginProfileInput, ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	DeleteLoginProfile(context.Context, *iam.DeleteLoginProfileInput, ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

func disableConsolePassword(ctx context.Context, api iamLoginProfileAPI, req bots.Request) (bots.Result, error) {
	// GetLoginProfile answers NoSuchEntity both for a user without a password and for a missing user:
	// the live read of the user tells the two apart.
	res, t, err := liveIAMUser(ctx, api, consolePasswordBot, req)
	if err != nil {
		return res, err
	}
	user, where := t.ID, t.Where()
	f := req.Finding
	lp, err := api.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
	if err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("user %s has no console password", user)
			res.Before = map[string]string{"loginProfile": "absent"}
			return res, nil
		}
		return bots.Result{}, fmt.Errorf("%s: read the login profile of %s: %w", consolePasswordBot, where, err)
	}
	res.Before = map[string]string{"loginProfile": "present"}
	if p := lp.LoginProfile; p != nil && p.CreateDate != nil {
		res.Before["created"] = p.CreateDate.UTC().Format(time.RFC3339)
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would delete the console password of user %s", user)}
		return res, nil
	}
	if _, err := api.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(user)}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("the console password of user %s was deleted meanwhile", user)
			return res, nil
		}
		return bots.Result{}, fmt.Errorf("%s: delete the login profile of %s: %w", consolePasswordBot, where, err)
	}
	slog.InfoContext(ctx, "console password deleted", "bot", consolePasswordBot, "finding", f.ID, "account", f.AccountID, "user", user)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"loginProfile": "absent"}
	res.Changes = []string{fmt.Sprintf("deleted the console password of user %s (an administrator can set a new one)", user)}
	if err := tagIAMUser(ctx, api, t, consolePasswordBot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: the console password of %s was deleted but tagging the user failed: %w", consolePasswordBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged user %s with %s, %s", user, bots.TagFindingID, bots.TagBot))
	return res, nil
}
