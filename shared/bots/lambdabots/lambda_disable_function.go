package lambdabots

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// disableFunctionBot is the bot's name, in its messages and its declaration.
const disableFunctionBot = "lambda_disable_function"

func init() {
	bots.Register(bots.Bot{
		Name: disableFunctionBot,
		Summary: "Set the function's reserved concurrency to 0 so it cannot run, recording the previous " +
			"reserved concurrency to restore it; tag the function.",
		Resources:  []finding.ResourceKind{finding.KindLambdaFunction},
		Targets:    []finding.TargetKind{finding.TargetLambdaFunction},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency", "lambda:TagResource"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return disableFunction(ctx, lambda.NewFromConfig(req.AWS), req)
		},
	})
}

// lambdaDisableAPI is what lambda_disable_function calls.
type lambdaDisableAPI interface {
	GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	PutFunctionConcurrency(context.Context, *lambda.PutFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.PutFunctionConcurrencyOutput, error)
	TagResource(context.Context, *lambda.TagResourceInput, ...func(*lambda.Options)) (*lambda.TagResourceOutput, error)
}

func disableFunction(ctx context.Context, api lambdaDisableAPI, req bots.Request) (bots.Result, error) {
	// The function by its name, and its ARN for tags: the very ones the exemption rail read.
	res, t, err := bots.Begin(disableFunctionBot, req, finding.TargetLambdaFunction)
	if err != nil {
		return res, err
	}
	f, name, where := req.Finding, t.ID, t.Where()
	res.Resources = []string{t.ARN}

	out, err := api.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil {
		if bots.APIErrorCode(err) == "ResourceNotFoundException" {
			return bots.SkipBecause(res, fmt.Sprintf("function %s no longer exists", name)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: read the reserved concurrency of %s: %w", disableFunctionBot, where, err)
	}
	// "unreserved" (no reservation: the account's pool) is what a human restores by deleting the
	// reservation; a number is restored with PutFunctionConcurrency.
	previous := "unreserved"
	if out.ReservedConcurrentExecutions != nil {
		previous = strconv.Itoa(int(*out.ReservedConcurrentExecutions))
	}
	res.Before = map[string]string{"reservedConcurrency": previous}
	if previous == "0" {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("function %s already has reserved concurrency 0", name)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would set the reserved concurrency of %s to 0 (now %s)", name, previous)}
		return res, nil
	}
	if _, err := api.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0),
	}); err != nil {
		if bots.APIErrorCode(err) == "ResourceNotFoundException" {
			return bots.SkipBecause(res, fmt.Sprintf("function %s was deleted before it could be disabled", name)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: set the reserved concurrency of %s to 0: %w", disableFunctionBot, where, err)
	}
	slog.InfoContext(ctx, "function disabled", "bot", disableFunctionBot, "finding", f.ID, "account", f.AccountID, "function", name, "previousReservedConcurrency", previous)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"reservedConcurrency": "0"}
	res.Changes = []string{fmt.Sprintf("set the reserved concurrency of %s to 0 (was %s)", name, previous)}
	tags := map[string]string{}
	for _, tg := range bots.Markers(disableFunctionBot, req, t) {
		tags[tg.Key] = tg.Value
	}
	if _, err := api.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(t.ARN), Tags: tags}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was disabled but tagging it failed: %w", disableFunctionBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", name, bots.TagFindingID, bots.TagBot))
	return res, nil
}
