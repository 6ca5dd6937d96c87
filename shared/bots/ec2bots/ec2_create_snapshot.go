package ec2bots

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
)

// snapshotBot is the bot's name, in its messages and its declaration.
const snapshotBot = "ec2_create_snapshot"

func init() {
	bots.Register(bots.Bot{
		Name: snapshotBot,
		Summary: "Snapshot every EBS volume attached to the instance, tagged with the finding id, bot, instance " +
			"and device (evidence; does not wait for the snapshots to complete).",
		Resources:  ec2instance.InstanceOrCredentialResources,
		Targets:    ec2instance.InstanceOrSessionTargets,
		Related:    ec2instance.SessionInstance,
		Impact:     bots.ImpactEvidence,
		Operations: []string{"ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:CreateSnapshot"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return snapshotInstanceVolumes(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// Tags on an evidence snapshot, beside TagFindingID, TagBot and TagExecution.
const (
	TagSnapshotInstance = "guardbots:instance-id"
	TagSnapshotDevice   = "guardbots:device"
)

// ec2SnapshotAPI is what ec2_create_snapshot calls.
type ec2SnapshotAPI interface {
	ec2instance.Reader
	ec2.DescribeSnapshotsAPIClient
	CreateSnapshot(context.Context, *ec2.CreateSnapshotInput, ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
}

func snapshotInstanceVolumes(ctx context.Context, api ec2SnapshotAPI, req bots.Request) (bots.Result, error) {
	// A shutting-down instance's volumes may still be there, but the ones marked DeleteOnTermination
	// are about to go: a snapshot started now is not guaranteed, so say so rather than half-try.
	res, t, in, err := ec2instance.Begin(ctx, api, snapshotBot, req)
	if err != nil {
		return res, err
	}
	type volume struct{ id, device string }
	var vols []volume
	for _, m := range in.BlockDeviceMappings {
		if m.Ebs != nil && aws.ToString(m.Ebs.VolumeId) != "" {
			vols = append(vols, volume{aws.ToString(m.Ebs.VolumeId), aws.ToString(m.DeviceName)})
		}
	}
	if len(vols) == 0 {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s has no EBS volume attached (instance store cannot be snapshotted)", t.ID)
		return res, nil
	}
	res.Before = map[string]string{}
	volIDs := make([]string, len(vols))
	for i, v := range vols {
		volIDs[i] = v.id
		res.Before[v.id] = v.device
		res.Resources = append(res.Resources, v.id)
	}

	// Snapshots this finding already has, by volume: GuardDuty re-publishes a finding and the state
	// machine retries, and each extra snapshot of a large volume costs money and time.
	done := map[string]string{}
	pages := ec2.NewDescribeSnapshotsPaginator(api, &ec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + bots.TagFindingID), Values: []string{bots.TruncateTag(req.Finding.ID)}},
			{Name: aws.String("volume-id"), Values: volIDs},
		},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: look up existing snapshots of %s: %w", snapshotBot, t.Where(), err)
		}
		for _, s := range page.Snapshots {
			// A failed snapshot is no evidence: take another.
			if s.State != ec2types.SnapshotStateError {
				done[aws.ToString(s.VolumeId)] = aws.ToString(s.SnapshotId)
			}
		}
	}

	res.After = map[string]string{}
	var created int
	for _, v := range vols {
		if snap, ok := done[v.id]; ok {
			res.After[v.id] = snap
			res.Resources = append(res.Resources, snap)
			continue
		}
		if req.DryRun {
			res.Changes = append(res.Changes, fmt.Sprintf("would snapshot %s (%s)", v.id, v.device))
			continue
		}
		tags := ec2instance.ActedTags(snapshotBot, req, t,
			bots.Tag{Key: TagSnapshotInstance, Value: t.ID}, bots.Tag{Key: TagSnapshotDevice, Value: bots.TruncateTag(v.device)})
		out, err := api.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(v.id),
			Description:       aws.String(bots.TruncateTag(fmt.Sprintf("guardbots evidence: finding %s, %s %s", req.Finding.ID, t.ID, v.device))),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags}},
		})
		if err != nil {
			// Say what was already taken: the retry only snapshots what is missing.
			return bots.Result{}, fmt.Errorf("%s: snapshot %s (%s) of %s (snapshots taken so far: %v): %w", snapshotBot, v.id, v.device, t.Where(), res.After, err)
		}
		snap := aws.ToString(out.SnapshotId)
		res.After[v.id] = snap
		res.Resources = append(res.Resources, snap)
		res.Changes = append(res.Changes, fmt.Sprintf("started snapshot %s of %s (%s)", snap, v.id, v.device))
		created++
	}
	switch {
	case req.DryRun && len(res.Changes) > 0:
		res.Status = bots.StatusDryRun
	case created > 0:
		res.Status = bots.StatusRemediated
	default:
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("every EBS volume of %s already has a snapshot for finding %s", t.ID, req.Finding.ID)
	}
	return res, nil
}
