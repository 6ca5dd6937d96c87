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

func init() {
	bots.Register(bots.Bot{
		Name: "iam_deactivate_access_key",
		Summary: "Set the IAM user's access key named in the finding to Inactive and tag the user " +
			"(IAM users only; never root).",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:TagUser"},
		Run:        runIAMDeactivateAccessKey,
	})
}

// reasonRoot is why no IAM bot touches root credentials: the member role the bot assumes cannot
// manage the root user's keys, password or MFA (only the root user itself can), and locking out the
// account's root is a decision with consequences (account recovery) that needs a human.
const reasonRoot = "root credentials are never acted on: a member-account role cannot manage the root " +
	"user's credentials, and acting on root needs a human (notify only)"

var (
	// iamNameRE is IAM's user and role name pattern (up to 64 characters).
	iamNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// accessKeyIDRE is IAM's access key id pattern.
	accessKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// iamUserAPI is what iam_deactivate_access_key calls.
type iamUserAPI interface {
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

func runIAMDeactivateAccessKey(ctx context.Context, req bots.Request) (bots.Result, error) {
	return deactivateAccessKey(ctx, iam.NewFromConfig(req.AWS), req)
}

func deactivateAccessKey(ctx context.Context, api iamUserAPI, req bots.Request) (bots.Result, error) {
	const bot = "iam_deactivate_access_key"
	res, user, err := iamUserTarget(bot, req)
	if err != nil || res.Status != "" {
		return res, err
	}
	f := req.Finding
	keyID := f.AccessKey.AccessKeyID
	if keyID == "" {
		return bots.SkipBecause(res, fmt.Sprintf("the finding names no access key of user %s", user)), nil
	}
	if !accessKeyIDRE.MatchString(keyID) {
		return bots.Result{}, faults.Rejectf("%s: %q is not an access key id", bot, keyID)
	}
	if strings.HasPrefix(keyID, "ASIA") {
		// ASIA keys are temporary (GetSessionToken) credentials: they cannot be deactivated, only
		// outlived or denied by a policy on the user.
		return bots.SkipBecause(res, fmt.Sprintf("access key %s is temporary (ASIA) and cannot be deactivated: use iam_quarantine_user", keyID)), nil
	}
	res.Resources = []string{user, keyID}
	where := fmt.Sprintf("access key %s of user %s in %s/%s", keyID, user, f.AccountID, f.Region)

	// The key comes from the finding (never looked up by time, as CloudBots did); its state is read live.
	status, userGone, err := accessKeyStatus(ctx, api, user, keyID)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: list keys of %s: %w", bot, where, err)
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
		return bots.Result{}, fmt.Errorf("%s: deactivate %s: %w", bot, where, err)
	}
	slog.InfoContext(ctx, "access key deactivated", "bot", bot, "finding", f.ID, "account", f.AccountID, "user", user, "accessKeyId", keyID)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"status": string(iamtypes.StatusTypeInactive)}
	res.Changes = []string{fmt.Sprintf("set access key %s of user %s to Inactive (was %s)", keyID, user, status)}
	if err := tagIAMUser(ctx, api, user, bot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was deactivated but tagging the user failed: %w", bot, where, err)
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

// iamUserTarget checks that the finding is about an IAM user's credentials and returns the user name.
// A finding about anything else returns a skipped Result (Status set); a malformed name is an error.
// It is shared by the IAM-user bots so root and role credentials are refused the same way everywhere.
func iamUserTarget(bot string, req bots.Request) (bots.Result, string, error) {
	f := req.Finding
	if f == nil {
		return bots.Result{}, "", faults.Rejectf("%s: no finding in the request", bot)
	}
	res := bots.Result{Bot: bot, Account: f.AccountID, Region: f.Region, DryRun: req.DryRun}
	if f.ResourceKind != finding.KindAccessKey || f.AccessKey == nil {
		return bots.SkipBecause(res, fmt.Sprintf("finding is about a %s resource, not an IAM user's credentials", f.ResourceKind)), "", nil
	}
	k := f.AccessKey
	switch k.UserType {
	case finding.UserTypeIAMUser:
	case finding.UserTypeRoot:
		return bots.SkipBecause(res, reasonRoot), "", nil
	case finding.UserTypeAssumedRole, finding.UserTypeRole, finding.UserTypeFederatedUser:
		return bots.SkipBecause(res, fmt.Sprintf("the credentials are a %s session, not an IAM user's: iam_revoke_role_sessions acts on role sessions", k.UserType)), "", nil
	default:
		return bots.SkipBecause(res, fmt.Sprintf("user type %q is not an IAM user", rawUserType(k))), "", nil
	}
	if k.UserName == "" {
		return bots.SkipBecause(res, "the finding names no IAM user"), "", nil
	}
	if !iamNameRE.MatchString(k.UserName) {
		return bots.Result{}, "", faults.Rejectf("%s: %q is not an IAM user name", bot, k.UserName)
	}
	return res, k.UserName, nil
}

// iamUserTagger tags IAM users (TagUser adds to the user's tags, it does not replace them).
type iamUserTagger interface {
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

func tagIAMUser(ctx context.Context, api iamUserTagger, user, bot string, req bots.Request) error {
	_, err := api.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: iamTags(bot, req)})
	return err
}

// iamTags are the finding id, bot and execution tags in IAM's type (values up to 256 characters).
func iamTags(bot string, req bots.Request) []iamtypes.Tag {
	tags := []iamtypes.Tag{
		{Key: aws.String(bots.TagFindingID), Value: aws.String(bots.TruncateTag(req.Finding.ID))},
		{Key: aws.String(bots.TagBot), Value: aws.String(bot)},
	}
	if req.Execution != "" && len(req.Execution) <= bots.MaxTagValue {
		tags = append(tags, iamtypes.Tag{Key: aws.String(bots.TagExecution), Value: aws.String(req.Execution)})
	}
	return tags
}

// rawUserType is the user type as GuardDuty sent it, for messages.
func rawUserType(k *finding.AccessKey) string {
	if k.RawUserType != "" {
		return k.RawUserType
	}
	return string(k.UserType)
}

// iamUserGetter reads an IAM user.
type iamUserGetter interface {
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
}

// liveIAMUser is iamUserTarget plus a live read of the user: done is true when res is already the
// bot's answer (the finding is not an IAM user's, or the user no longer exists).
func liveIAMUser(ctx context.Context, api iamUserGetter, bot string, req bots.Request) (res bots.Result, user, where string, done bool, err error) {
	res, user, err = iamUserTarget(bot, req)
	if err != nil || res.Status != "" {
		return res, "", "", true, err
	}
	f := req.Finding
	res.Resources = []string{user}
	where = fmt.Sprintf("user %s in %s/%s", user, f.AccountID, f.Region)
	if _, err := api.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)}); err != nil {
		if bots.APIErrorCode(err) == "NoSuchEntity" {
			return bots.SkipBecause(res, fmt.Sprintf("user %s no longer exists", user)), "", "", true, nil
		}
		return bots.Result{}, "", "", true, fmt.Errorf("%s: read %s: %w", bot, where, err)
	}
	return res, user, where, false, nil
}
