package cloudtrailbots

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// startLoggingBot is the bot's name, in its messages and its declaration.
const startLoggingBot = "cloudtrail_start_logging"

func init() {
	bots.Register(bots.Bot{
		Name: startLoggingBot,
		Summary: "Start logging again on the trail the finding names (Stealth:IAMUser/CloudTrailLoggingDisabled), in the " +
			"trail's home region; an organization trail of another account or a deleted trail is skipped with the command a person should run.",
		Resources: []finding.ResourceKind{finding.KindAccessKey},
		Targets:   []finding.TargetKind{finding.TargetTrail},
		// It only undoes the attacker's change: no workload is interrupted.
		Impact:     bots.ImpactEvidence,
		Operations: []string{"cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return startLogging(ctx, func(region string) trailAPI {
				cfg := req.AWS.Copy()
				cfg.Region = region
				return cloudtrail.NewFromConfig(cfg)
			}, req)
		},
	})
}

// trailAPI is what cloudtrail_start_logging calls, in one region.
type trailAPI interface {
	GetTrail(context.Context, *cloudtrail.GetTrailInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailOutput, error)
	GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error)
	StartLogging(context.Context, *cloudtrail.StartLoggingInput, ...func(*cloudtrail.Options)) (*cloudtrail.StartLoggingOutput, error)
}

// startLogging reads the trail where the finding's ARN (or, for a name, the finding's region) says it
// is, then acts in its home region: CloudTrail changes a trail only there.
func startLogging(ctx context.Context, in func(region string) trailAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(startLoggingBot, req, finding.TargetTrail)
	if err != nil {
		return res, err
	}
	where := t.Where()
	region := t.Region
	if a, err := arn.Parse(t.ARN); err == nil && a.Region != "" {
		region = a.Region
	}
	got, err := in(region).GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(t.ID)})
	if bots.APIErrorCode(err) == "TrailNotFoundException" {
		return res, bots.Skip("trail %s no longer exists (deleted after logging was stopped): recreate it from its definition "+
			"(aws cloudtrail create-trail …), then run: aws cloudtrail start-logging --name %s --region %s", t.ID, t.ID, region)
	}
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read %s: %w", startLoggingBot, where, err)
	}
	tr := got.Trail
	if tr == nil {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: GetTrail of %s answered no trail", startLoggingBot, where))
	}
	name, trailARN, home := aws.ToString(tr.Name), aws.ToString(tr.TrailARN), aws.ToString(tr.HomeRegion)
	if home == "" {
		home = region
	}
	res.Resources = []string{trailARN}
	if a, err := arn.Parse(trailARN); aws.ToBool(tr.IsOrganizationTrail) && (err != nil || a.AccountID != t.Account) {
		owner := "its organization's management account"
		if err == nil {
			owner = "account " + a.AccountID
		}
		return res, bots.Skip("%s is an organization trail, which a member account cannot change: in %s run "+
			"aws cloudtrail start-logging --name %s --region %s", trailARN, owner, trailARN, home)
	}
	api := in(home)
	st, err := api.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trailARN)})
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: read the status of trail %s in %s (account %s): %w", startLoggingBot, name, home, t.Account, err)
	}
	before := "logging off"
	if st.StopLoggingTime != nil {
		before += " since " + st.StopLoggingTime.UTC().Format(time.RFC3339)
	}
	res.Before = map[string]string{"trail": trailARN, "homeRegion": home, "logging": before}
	if aws.ToBool(st.IsLogging) {
		res.Before["logging"] = "on"
		res.Status, res.Reason = bots.StatusAlreadyDone, fmt.Sprintf("trail %s is logging", trailARN)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would start logging on trail %s in %s (%s)", trailARN, home, before)}
		return res, nil
	}
	if _, err := api.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(trailARN)}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: start logging on trail %s in %s (account %s): %w", startLoggingBot, name, home, t.Account, err)
	}
	after, err := api.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trailARN)})
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: logging started on trail %s, but reading its status back failed: %w", startLoggingBot, trailARN, err)
	}
	if !aws.ToBool(after.IsLogging) {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: started logging on trail %s in %s, yet it reads back not logging", startLoggingBot, trailARN, home))
	}
	slog.InfoContext(ctx, "trail logging started", "bot", startLoggingBot, "finding", req.Finding.ID, "account", t.Account, "trail", trailARN)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"logging": "on"}
	res.Changes = []string{fmt.Sprintf("started logging on trail %s in %s (was %s)", trailARN, home, before)}
	return res, nil
}
