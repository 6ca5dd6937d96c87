package ec2bots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/finding"
)

// detachProfileBot is the bot's name, in its messages and its declaration.
const detachProfileBot = "ec2_detach_instance_profile"

func init() {
	bots.Register(bots.Bot{
		Name: detachProfileBot,
		Summary: "Remove the instance profile from the instance (stolen instance credentials); the removed " +
			"profile ARN is reported and kept in the state table to restore it. Credentials already issued " +
			"stay valid until they expire: pair with iam_revoke_role_sessions.",
		Resources: []finding.ResourceKind{finding.KindInstance},
		Targets:   []finding.TargetKind{finding.TargetInstance},
		Impact:    bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "ec2:DescribeIamInstanceProfileAssociations",
			"ec2:DisassociateIamInstanceProfile", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return detachInstanceProfile(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// ec2ProfileAPI is what ec2_detach_instance_profile calls.
type ec2ProfileAPI interface {
	ec2instance.Reader
	ec2.DescribeIamInstanceProfileAssociationsAPIClient
	DisassociateIamInstanceProfile(context.Context, *ec2.DisassociateIamInstanceProfileInput, ...func(*ec2.Options)) (*ec2.DisassociateIamInstanceProfileOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// removedProfile is what restores the instance's profile, as kept in the state table.
type removedProfile struct {
	FindingID     string `json:"findingId"`
	InstanceID    string `json:"instanceId"`
	ProfileArn    string `json:"instanceProfileArn"`
	AssociationID string `json:"associationId"`
}

func detachInstanceProfile(ctx context.Context, api ec2ProfileAPI, req bots.Request) (bots.Result, error) {
	res, t, _, err := ec2instance.Begin(ctx, api, detachProfileBot, req)
	if err != nil {
		return res, err
	}

	var assocs []ec2types.IamInstanceProfileAssociation
	pages := ec2.NewDescribeIamInstanceProfileAssociationsPaginator(api, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("instance-id"), Values: []string{t.ID}},
			{Name: aws.String("state"), Values: []string{string(ec2types.IamInstanceProfileAssociationStateAssociated)}},
		},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: describe instance profile associations of %s: %w", detachProfileBot, t.Where(), err)
		}
		assocs = append(assocs, page.IamInstanceProfileAssociations...)
	}
	if len(assocs) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("instance %s has no instance profile associated", t.ID)
		return res, nil
	}
	res.Before = map[string]string{}
	for _, a := range assocs {
		arn := ""
		if a.IamInstanceProfile != nil {
			arn = aws.ToString(a.IamInstanceProfile.Arn)
		}
		res.Before["instanceProfileArn"] = arn
		res.Before["associationId"] = aws.ToString(a.AssociationId)
		res.Resources = append(res.Resources, arn)
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{fmt.Sprintf("would remove instance profile %s from %s", res.Before["instanceProfileArn"], t.ID)}
		return res, nil
	}

	// EC2 allows one association per instance; the loop only guards against a listing that says otherwise.
	removed := 0
	for _, a := range assocs {
		arn := res.Before["instanceProfileArn"]
		if a.IamInstanceProfile != nil {
			arn = aws.ToString(a.IamInstanceProfile.Arn)
		}
		// Remember first: once the association is gone, nothing in AWS says which profile it was.
		undo := removedProfile{FindingID: req.Finding.ID, InstanceID: t.ID, ProfileArn: arn, AssociationID: aws.ToString(a.AssociationId)}
		if err := ec2instance.RememberUndo(ctx, req, detachProfileBot, t.ID, undo); err != nil {
			return bots.Result{}, fmt.Errorf("%s: record instance profile %s of %s in the state table: %w", detachProfileBot, arn, t.Where(), err)
		}
		_, err := api.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: a.AssociationId})
		if err != nil {
			if bots.APIErrorCode(err) == "InvalidAssociationID.NotFound" {
				continue // removed by someone else since the read
			}
			return bots.Result{}, fmt.Errorf("%s: remove instance profile %s from %s: %w", detachProfileBot, arn, t.Where(), err)
		}
		removed++
		res.Changes = append(res.Changes, fmt.Sprintf("removed instance profile %s (association %s) from %s", arn, aws.ToString(a.AssociationId), t.ID))
	}
	if removed == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("the instance profile of %s was removed by someone else meanwhile", t.ID)
		return res, nil
	}
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"instanceProfileArn": ""}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{t.ID}, Tags: ec2instance.ActedTags(detachProfileBot, req, t)}); err != nil {
		return bots.Result{}, fmt.Errorf("%s: instance profile %s was removed from %s but tagging it failed: %w", detachProfileBot, res.Before["instanceProfileArn"], t.Where(), err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", t.ID, bots.TagFindingID, bots.TagBot))
	return res, nil
}
