package lambdabots

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	bots.Register(bots.Bot{
		Name: "lambda_disable_function",
		Summary: "Set the function's reserved concurrency to 0 so it cannot run, recording the previous " +
			"reserved concurrency to restore it; tag the function.",
		Resources:  []finding.ResourceKind{finding.KindLambdaFunction},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"lambda:GetFunctionConcurrency", "lambda:PutFunctionConcurrency", "lambda:TagResource"},
		Run:        runLambdaDisableFunction,
	})
}

// lambdaNameRE is a function name (a qualified name or ARN is reduced to the name first).
var lambdaNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// lambdaDisableAPI is what lambda_disable_function calls.
type lambdaDisableAPI interface {
	GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	PutFunctionConcurrency(context.Context, *lambda.PutFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.PutFunctionConcurrencyOutput, error)
	TagResource(context.Context, *lambda.TagResourceInput, ...func(*lambda.Options)) (*lambda.TagResourceOutput, error)
}

func runLambdaDisableFunction(ctx context.Context, req bots.Request) (bots.Result, error) {
	return disableFunction(ctx, lambda.NewFromConfig(req.AWS), req)
}

func disableFunction(ctx context.Context, api lambdaDisableAPI, req bots.Request) (bots.Result, error) {
	const bot = "lambda_disable_function"
	f := req.Finding
	if f == nil {
		return bots.Result{}, faults.Rejectf("%s: no finding in the request", bot)
	}
	res := bots.Result{Bot: bot, Account: f.AccountID, Region: f.Region, DryRun: req.DryRun}
	if f.ResourceKind != finding.KindLambdaFunction || f.Lambda == nil || f.Lambda.FunctionName == "" {
		return bots.SkipBecause(res, fmt.Sprintf("finding is about a %s resource, not a Lambda function", f.ResourceKind)), nil
	}
	name := f.Lambda.FunctionName
	if !lambdaNameRE.MatchString(name) {
		return bots.Result{}, faults.Rejectf("%s: %q is not a Lambda function name", bot, name)
	}
	// Reserved concurrency is per function, not per version: the ARN is built without a qualifier.
	fnArn := fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", f.Partition, f.Region, f.AccountID, name)
	res.Resources = []string{fnArn}
	where := fmt.Sprintf("function %s in %s/%s", name, f.AccountID, f.Region)

	out, err := api.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String(name)})
	if err != nil {
		if bots.APIErrorCode(err) == "ResourceNotFoundException" {
			return bots.SkipBecause(res, fmt.Sprintf("function %s no longer exists", name)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: read the reserved concurrency of %s: %w", bot, where, err)
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
		return bots.Result{}, fmt.Errorf("%s: set the reserved concurrency of %s to 0: %w", bot, where, err)
	}
	slog.InfoContext(ctx, "function disabled", "bot", bot, "finding", f.ID, "account", f.AccountID, "function", name, "previousReservedConcurrency", previous)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"reservedConcurrency": "0"}
	res.Changes = []string{fmt.Sprintf("set the reserved concurrency of %s to 0 (was %s)", name, previous)}
	tags := map[string]string{bots.TagFindingID: bots.TruncateTag(f.ID), bots.TagBot: bot}
	if req.Execution != "" && len(req.Execution) <= bots.MaxTagValue {
		tags[bots.TagExecution] = req.Execution
	}
	if _, err := api.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(fnArn), Tags: tags}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was disabled but tagging it failed: %w", bot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", name, bots.TagFindingID, bots.TagBot))
	return res, nil
}
