package rdsbots

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// rdsPrivateBot is the bot's name, in its messages and its declaration.
const rdsPrivateBot = "rds_disable_public_access"

func init() {
	bots.Register(bots.Bot{
		Name:       rdsPrivateBot,
		Summary:    "Make the DB instance in the finding not publicly accessible (applied immediately) and tag it.",
		Resources:  []finding.ResourceKind{finding.KindRDSDBInstance},
		Targets:    []finding.TargetKind{finding.TargetRDSDB},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"rds:DescribeDBInstances", "rds:ModifyDBInstance", "rds:AddTagsToResource"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return disableDBPublicAccess(ctx, rds.NewFromConfig(req.AWS), req)
		},
	})
}

// rdsPublicAPI is what rds_disable_public_access calls.
type rdsPublicAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	ModifyDBInstance(context.Context, *rds.ModifyDBInstanceInput, ...func(*rds.Options)) (*rds.ModifyDBInstanceOutput, error)
	AddTagsToResource(context.Context, *rds.AddTagsToResourceInput, ...func(*rds.Options)) (*rds.AddTagsToResourceOutput, error)
}

func disableDBPublicAccess(ctx context.Context, api rdsPublicAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(rdsPrivateBot, req, finding.TargetRDSDB)
	if err != nil {
		return res, err
	}
	f, id, where := req.Finding, t.ID, t.Where()

	db, err := describeDBInstance(ctx, api, id)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: describe %s: %w", rdsPrivateBot, where, err)
	}
	if db == nil {
		return res, bots.Skip("DB instance %s no longer exists", id)
	}
	res.Resources = []string{t.ARN}
	public := aws.ToBool(db.PubliclyAccessible)
	res.Before = map[string]string{"publiclyAccessible": fmt.Sprint(public), "status": aws.ToString(db.DBInstanceStatus)}
	if !public {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("DB instance %s is not publicly accessible", id)
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would make DB instance %s not publicly accessible, immediately", id)}
		return res, nil
	}
	// ApplyImmediately: waiting for the maintenance window would leave the database exposed for days.
	out, err := api.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), PubliclyAccessible: aws.Bool(false), ApplyImmediately: aws.Bool(true),
	})
	if err != nil {
		if bots.APIErrorCode(err) == "DBInstanceNotFound" || bots.APIErrorCode(err) == "DBInstanceNotFoundFault" {
			return bots.SkipBecause(res, fmt.Sprintf("DB instance %s was deleted before it could be changed", id)), nil
		}
		return bots.Result{}, fmt.Errorf("%s: make %s private: %w", rdsPrivateBot, where, err)
	}
	slog.InfoContext(ctx, "DB instance made private", "bot", rdsPrivateBot, "finding", f.ID, "account", f.AccountID, "dbInstance", id)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"publiclyAccessible": "false"}
	if out.DBInstance != nil {
		res.After["status"] = aws.ToString(out.DBInstance.DBInstanceStatus)
	}
	res.Changes = []string{fmt.Sprintf("made DB instance %s not publicly accessible (applied immediately)", id)}
	// Tagged by the ARN its exemption tag was read by.
	var tags []rdstypes.Tag
	for _, tg := range bots.Markers(rdsPrivateBot, req, t) {
		tags = append(tags, rdstypes.Tag{Key: aws.String(tg.Key), Value: aws.String(tg.Value)})
	}
	if _, err := api.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(t.ARN), Tags: tags}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was made private but tagging it failed: %w", rdsPrivateBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", id, bots.TagFindingID, bots.TagBot))
	return res, nil
}

// describeDBInstance reads the instance live; nil when it does not exist.
func describeDBInstance(ctx context.Context, api rdsPublicAPI, id string) (*rdstypes.DBInstance, error) {
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		if c := bots.APIErrorCode(err); c == "DBInstanceNotFound" || c == "DBInstanceNotFoundFault" {
			return nil, nil
		}
		return nil, err
	}
	for i := range out.DBInstances {
		if aws.ToString(out.DBInstances[i].DBInstanceIdentifier) == id {
			return &out.DBInstances[i], nil
		}
	}
	return nil, nil
}
