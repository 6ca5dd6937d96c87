package s3bots

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// accountBlockBot is the bot's name, in its messages and its declaration.
const accountBlockBot = "s3_block_account_public_access"

func init() {
	bots.Register(bots.Bot{
		Name: accountBlockBot,
		Summary: "Turn on all four account-level S3 public access block settings (S3 Control) in the " +
			"finding's account.",
		Resources: []finding.ResourceKind{finding.KindS3Bucket},
		// The finding's buckets: an exempt one keeps its account's block as it is.
		Targets:    []finding.TargetKind{finding.TargetBucket},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"s3control:GetPublicAccessBlock", "s3control:PutPublicAccessBlock"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return blockAccountPublicAccess(ctx, s3control.NewFromConfig(req.AWS), req)
		},
	})
}

// s3AccountBlockAPI is what s3_block_account_public_access calls.
type s3AccountBlockAPI interface {
	GetPublicAccessBlock(context.Context, *s3control.GetPublicAccessBlockInput, ...func(*s3control.Options)) (*s3control.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(context.Context, *s3control.PutPublicAccessBlockInput, ...func(*s3control.Options)) (*s3control.PutPublicAccessBlockOutput, error)
}

func blockAccountPublicAccess(ctx context.Context, api s3AccountBlockAPI, req bots.Request) (bots.Result, error) {
	// The account is the buckets' owner's (validated with them), never the orchestrator's.
	res, t, err := bots.Begin(accountBlockBot, req, finding.TargetBucket)
	if err != nil {
		return res, err
	}
	account := t.Account
	res.Resources = []string{"account " + account}
	where := fmt.Sprintf("account %s", account)

	current := &s3ctypes.PublicAccessBlockConfiguration{}
	out, err := api.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(account)})
	switch {
	case err == nil:
		if out.PublicAccessBlockConfiguration != nil {
			current = out.PublicAccessBlockConfiguration
		}
	case bots.APIErrorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		// No account-level block: every setting is off.
	default:
		return bots.Result{}, fmt.Errorf("%s: read the public access block of %s: %w", accountBlockBot, where, err)
	}
	before := fmt.Sprintf("BlockPublicAcls=%t IgnorePublicAcls=%t BlockPublicPolicy=%t RestrictPublicBuckets=%t",
		aws.ToBool(current.BlockPublicAcls), aws.ToBool(current.IgnorePublicAcls), aws.ToBool(current.BlockPublicPolicy), aws.ToBool(current.RestrictPublicBuckets))
	res.Before = map[string]string{"publicAccessBlock": before}
	if aws.ToBool(current.BlockPublicAcls) && aws.ToBool(current.IgnorePublicAcls) && aws.ToBool(current.BlockPublicPolicy) && aws.ToBool(current.RestrictPublicBuckets) {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("account %s already blocks all public access", account)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would block all public access to S3 in account %s (now %s)", account, before)}
		return res, nil
	}
	if _, err := api.PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{
		AccountId: aws.String(account),
		PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: block public access in %s: %w", accountBlockBot, where, err)
	}
	slog.InfoContext(ctx, "account public access blocked", "bot", accountBlockBot, "finding", req.Finding.ID, "account", account)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"publicAccessBlock": "BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true"}
	res.Changes = []string{fmt.Sprintf("blocked all public access to S3 in account %s (was %s)", account, before)}
	return res, nil
}
