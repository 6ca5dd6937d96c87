package rdsbots

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	bots.Register(bots.Bot{
		Name:       "rds_disable_public_access",
		Summary:    "Make the DB instance in the finding not publicly accessible (applied immediately) and tag it.",
		Resources:  []finding.ResourceKind{finding.KindRDSDBInstance},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"rds:DescribeDBInstances", "rds:ModifyDBInstance", "rds:AddTagsToResource"},
		Run:        runRDSDisablePublicAccess,
	})
}

// dbInstanceIDRE is RDS's DB instance identifier rule (letters, digits, hyphens; up to 63).
var dbInstanceIDRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,62}$`)

// rdsPublicAPI is what rds_disable_public_access calls.
type rdsPublicAPI interface {
	DescribeDBInstances(context.Context, *rds.DescribeDBInstancesInput, ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	ModifyDBInstance(context.Context, *rds.ModifyDBInstanceInput, ...func(*rds.Options)) (*rds.ModifyDBInstanceOutput, error)
	AddTagsToResource(context.Context, *rds.AddTagsToResourceInput, ...func(*rds.Options)) (*rds.AddTagsToResourceOutput, error)
}

func runRDSDisablePublicAccess(ctx context.Context, req bots.Request) (bots.Result, error) {
	return disableDBPublicAccess(ctx, rds.NewFromConfig(req.AWS), req)
}

func disableDBPublicAccess(ctx context.Context, api rdsPublicAPI, req bots.Request) (bots.Result, error) {
	const bot = "rds_disable_public_access"
	f := req.Finding
	if f == nil {
		return bots.Result{}, faults.Rejectf("%s: no finding in the request", bot)
	}
	res := bots.Result{Bot: bot, Account: f.AccountID, Region: f.Region, DryRun: req.DryRun}
	if f.ResourceKind != finding.KindRDSDBInstance || f.RDS == nil || f.RDS.InstanceID == "" {
		return bots.SkipBecause(res, fmt.Sprintf("finding is about a %s resource, not an RDS DB instance", f.ResourceKind)), nil
	}
	id := f.RDS.InstanceID
	if !dbInstanceIDRE.MatchString(id) {
		return bots.Result{}, faults.Rejectf("%s: %q is not a DB instance identifier", bot, id)
	}
	res.Resources = []string{id}
	where := fmt.Sprintf("DB instance %s in %s/%s", id, f.AccountID, f.Region)

	db, err := describeDBInstance(ctx, api, id)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: describe %s: %w", bot, where, err)
	}
	if db == nil {
		return bots.SkipBecause(res, fmt.Sprintf("DB instance %s no longer exists", id)), nil
	}
	if a := aws.ToString(db.DBInstanceArn); a != "" {
		res.Resources = []string{a}
	}
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
		return bots.Result{}, fmt.Errorf("%s: make %s private: %w", bot, where, err)
	}
	slog.InfoContext(ctx, "DB instance made private", "bot", bot, "finding", f.ID, "account", f.AccountID, "dbInstance", id)
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"publiclyAccessible": "false"}
	if out.DBInstance != nil {
		res.After["status"] = aws.ToString(out.DBInstance.DBInstanceStatus)
	}
	res.Changes = []string{fmt.Sprintf("made DB instance %s not publicly accessible (applied immediately)", id)}
	if a := aws.ToString(db.DBInstanceArn); a != "" {
		tags := []rdstypes.Tag{
			{Key: aws.String(bots.TagFindingID), Value: aws.String(bots.TruncateTag(f.ID))},
			{Key: aws.String(bots.TagBot), Value: aws.String(bot)},
		}
		if req.Execution != "" && len(req.Execution) <= bots.MaxTagValue {
			tags = append(tags, rdstypes.Tag{Key: aws.String(bots.TagExecution), Value: aws.String(req.Execution)})
		}
		if _, err := api.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(a), Tags: tags}); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s was made private but tagging it failed: %w", bot, where, err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", id, bots.TagFindingID, bots.TagBot))
	}
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
