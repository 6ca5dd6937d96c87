package cloudtrailbots

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// trailEnv is kumo (which serves CloudTrail's trails, their status and StartLogging) with a trail whose
// logging the attacker stopped.
type trailEnv struct {
	bottest.Env
	admin *cloudtrail.Client
	arn   string
}

func newTrailEnv(t *testing.T, stubs ...func(*middleware.Stack) error) trailEnv {
	t.Helper()
	e := trailEnv{Env: bottest.NewEnv(t, startLoggingBot, stubs...)}
	e.admin = cloudtrail.NewFromConfig(e.Admin())
	ctx := context.Background()
	name := bottest.UniqueName("management-events")
	out, err := e.admin.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String("org-trail-logs")})
	if err != nil {
		t.Fatal(err)
	}
	e.arn = aws.ToString(out.TrailARN)
	if _, err := e.admin.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String(e.arn)}); err != nil {
		t.Fatal(err)
	}
	return e
}

// trailFinding is GuardDuty's finding of the StopLogging call on trail (name or ARN).
func trailFinding(trail string) *finding.Finding {
	return &finding.Finding{
		ID: bottest.FindingID, Type: "Stealth:IAMUser/CloudTrailLoggingDisabled", AccountID: bottest.Account, Region: bottest.Region,
		Partition: "aws", ResourceKind: finding.KindAccessKey,
		AccessKey: &finding.AccessKey{UserType: finding.UserTypeIAMUser, UserName: "mallory", AccessKeyID: "AKIAEXAMPLE000000001"},
		Action:    &finding.Action{Type: "AWS_API_CALL", API: "StopLogging", Trail: trail},
	}
}

func (e trailEnv) logging(t *testing.T) string {
	t.Helper()
	st, err := e.admin.GetTrailStatus(context.Background(), &cloudtrail.GetTrailStatusInput{Name: aws.String(e.arn)})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint("logging=", aws.ToBool(st.IsLogging))
}

var _ = bottest.RegisterContract(startLoggingBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newTrailEnv(t, stubs...)
		return bottest.World{
			Request: func(dryRun bool) bots.Request { return e.Request(trailFinding(e.arn), dryRun) },
			Rec:     e.Rec,
			State:   e.logging,
			Gone:    func(req *bots.Request) { req.Finding.Action.Trail = "deleted-trail" },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "cloudtrail:StartLogging",
	Throttle: "cloudtrail:GetTrail",
})

func TestStartLogging_TurnsTheTrailBackOnAndReadsItBack(t *testing.T) {
	e := newTrailEnv(t)
	res, err := bottest.Run(t, startLoggingBot, e.Request(trailFinding(e.arn), false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if got := e.logging(t); got != "logging=true" {
		t.Errorf("trail reads back %s", got)
	}
	if !strings.HasPrefix(res.Before["logging"], "logging off") || res.After["logging"] != "on" {
		t.Errorf("before/after = %v / %v", res.Before, res.After)
	}
}

func TestStartLogging_ATrailNamedByNameIsFound(t *testing.T) {
	e := newTrailEnv(t)
	name := e.arn[strings.LastIndex(e.arn, "/")+1:]
	if res, err := bottest.Run(t, startLoggingBot, e.Request(trailFinding(name), false)); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
}

// kumo keeps no trail of another account: an organization trail, as a member account sees it, is an
// SDK-level stub.
func TestStartLogging_AnOrganizationTrailOfTheManagementAccountIsSkippedWithTheCommand(t *testing.T) {
	org := "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail"
	e := newTrailEnv(t, bottest.StubCall("cloudtrail:GetTrail", func(any) (any, error) {
		return &cloudtrail.GetTrailOutput{Trail: &cttypes.Trail{Name: aws.String("org-trail"), TrailARN: aws.String(org),
			HomeRegion: aws.String("us-east-1"), IsOrganizationTrail: aws.Bool(true)}}, nil
	}))
	res, err := bottest.Run(t, startLoggingBot, e.Request(trailFinding(org), false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "account 999988887777 run aws cloudtrail start-logging --name "+org) {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if len(bottest.Writes(e.Rec.Ops())) != 0 {
		t.Errorf("calls %v on an organization trail", e.Rec.Ops())
	}
}

func TestStartLogging_ADeletedTrailIsSkippedWithTheCommand(t *testing.T) {
	e := newTrailEnv(t)
	res, err := bottest.Run(t, startLoggingBot, e.Request(trailFinding("deleted-trail"), false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "aws cloudtrail start-logging --name deleted-trail") {
		t.Fatalf("result = %+v, %v", res, err)
	}
}

// The trail's home region decides where the bot acts: a finding raised in one region about a trail of
// another is acted on in the trail's.
func TestStartLogging_ActsInTheTrailsHomeRegion(t *testing.T) {
	var regions []string
	e := newTrailEnv(t, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("region", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if bottest.OperationName(ctx) == "cloudtrail:StartLogging" {
				regions = append(regions, awsmiddleware.GetRegion(ctx))
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	f := trailFinding(e.arn)
	f.Region = "eu-west-1"
	if res, err := bottest.Run(t, startLoggingBot, e.Request(f, false)); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if len(regions) != 1 || regions[0] != bottest.Region {
		t.Errorf("StartLogging called in %v, want the trail's home region %s", regions, bottest.Region)
	}
}
