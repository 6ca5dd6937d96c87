package iambots

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// deactivateKeyBot is the bot's name, in its messages and its declaration.
const deactivateKeyBot = "iam_deactivate_access_key"

func init() {
	bots.Register(bots.Bot{
		Name: deactivateKeyBot,
		Summary: "Set the IAM user's access key named in the finding to Inactive and tag the user " +
			"(IAM users only; never root).",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMUser},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:TagUser"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return deactivateAccessKey(ctx, iam.NewFromConfig(req.AWS), req)
		},
	})
}

// accessKeyIDRE is IAM's access key id pattern; its length (16–128) is checked apart, as a counted
// repetition compiles into a copy of its class per count, built by the Lambda at every start.
var accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]+$`)

func isAccessKeyID(s string) bool {
	return len(s) >= 16 && len(s) <= 128 && accessKeyIDRE.MatchString(s)
}

// iamUserAPI is what iam_deactivate_access_key calls.
type iamUserAPI interface {
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

func deactivateAccessKey(ctx context.Context, api iamUserAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(deactivateKeyBot, req, finding.TargetIAMUser)
	if err != nil {
		return res, err
	}
	f, user := req.Finding, t.ID
	keyID := f.AccessKey.AccessKeyID
	if keyID == "" {
		return bots.SkipBecause(res, fmt.Sprintf("the finding names no access key of user %s", user)), nil
	}
	if !isAccessKeyID(keyID) {
		return bots.Result{}, faults.Rejectf("%s: %q is not an access key id", deactivateKeyBot, keyID)
	}
	if strings.HasPrefix(keyID, "ASIA") {
		// ASIA keys are temporary (GetSessionToken) credentials: they cannot be deactivated, only
		// outlived or denied by a policy on the user.
		return bots.SkipBecause(res, fmt.Sprintf("access key %s is temporary (ASIA) and cannot be deactivated: use iam_quarantine_user", keyID)), nil
	}
	res.Resources = []string{user, keyID}
	where := "access key " + keyID + " of " + t.Where()

	// The key comes from the finding (never looked up by time, as CloudBots did); its state is read live.
	status, userGone, err := accessKeyStatus(ctx, api, user, keyID)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: list keys of %s: %w", deactivateKeyBot, where, err)
	}
	switch {
	case userGone:
		return bots.SkipBecause(res, fmt.Sprintf("user %s no longer exists", user)), nil
	case status == "":
		return bots.SkipBecause(res, fmt.Sprintf("access key %s is no longer a key of user %s", keyID, user)), nil
	}
	res.Before = map[string]string{"status": string(status)}
	if status == iamtypes.StatusTypeInactive {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("access key %s is already Inactive", keyID)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would set access key %s of user %s to Inactive (now %s)", keyID, user, status)}
		return res, nil
	}
	if _, err := api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: iamtypes.StatusTypeInactive,
	}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("access key %s of user %s was deleted before it could be deactivated", keyID, user)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: deactivate %s: %w", deactivateKeyBot, where, err)
	}
	slog.InfoContext(ctx, "access key deactivated", "bot", deactivateKeyBot, "finding", f.ID, "account", f.AccountID, "user", user, "accessKeyId", keyID)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"status": string(iamtypes.StatusTypeInactive)}
	res.Changes = []string{fmt.Sprintf("set access key %s of user %s to Inactive (was %s)", keyID, user, status)}
	if err := tagIAMUser(ctx, api, t, deactivateKeyBot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was deactivated but tagging the user failed: %w", deactivateKeyBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged user %s with %s, %s", user, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// accessKeyStatus reads the key's status from the user's keys: "" when the key is not the user's (any
// more), userGone when the user itself no longer exists.
func accessKeyStatus(ctx context.Context, api iamUserAPI, user, keyID string) (status iamtypes.StatusType, userGone bool, err error) {
	p := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if bots.APIErrorCode(err) == "NoSuchEntity" {
				return "", true, nil
			}
			return "", false, err
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == keyID {
				return k.Status, false, nil
			}
		}
	}
	return "", false, nil
}
