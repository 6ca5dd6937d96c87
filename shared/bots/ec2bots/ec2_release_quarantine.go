package ec2bots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
)

// releaseBot is the bot's name, in its messages and its declaration.
const releaseBot = "ec2_release_quarantine"

func init() {
	bots.Register(bots.Bot{
		Name: releaseBot,
		Summary: "Undo ec2_quarantine_instance: put each network interface still on the isolation group back on " +
			"its recorded security groups, then delete the record.",
		Resources:  ec2instance.InstanceOrCredentialResources,
		Targets:    ec2instance.InstanceOrSessionTargets,
		Related:    ec2instance.SessionInstance,
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateTags"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return releaseQuarantine(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// ec2ReleaseAPI is what ec2_release_quarantine calls.
type ec2ReleaseAPI interface {
	ec2instance.Reader
	containTagger
	ModifyNetworkInterfaceAttribute(context.Context, *ec2.ModifyNetworkInterfaceAttributeInput, ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
}

// releaseQuarantine restores only ENIs still on the isolation group alone: an ENI someone changed since
// the quarantine is left as they set it and reported, since restoring would undo their decision.
func releaseQuarantine(ctx context.Context, api ec2ReleaseAPI, req bots.Request) (bots.Result, error) {
	res, t, err := containBegin(releaseBot, req)
	if err != nil {
		return res, err
	}
	if err := containState(releaseBot, req, "read the original security groups from", true); err != nil {
		return bots.Result{}, err
	}
	f, id, where := req.Finding, t.ID, t.Where()
	key := quarantineKey(f.AccountID, f.Region, id)
	raw, found, err := req.State.Get(ctx, key)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: read quarantine record: %w", releaseBot, where, err)
	}
	if !found {
		return res, bots.Skip("no quarantine record for %s (not quarantined by guardbots, or already released)", id)
	}
	var rec quarantineRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: quarantine record %s is not valid JSON: %w", releaseBot, where, key, err))
	}

	inst, err := ec2instance.Live(ctx, api, t)
	if s := (*bots.Skipped)(nil); errors.As(err, &s) {
		// The record stays: it is the only account of what the instance's groups were.
		return res, bots.Skip("%s; quarantine record kept", s.Reason)
	}
	if err != nil {
		return res, err
	}
	live := map[string]containENI{}
	for _, e := range containENIs(inst) {
		live[e.ID] = e
	}
	type restore struct {
		eni    eniRecord
		isoGrp string
	}
	var todo []restore
	var notes []string
	res.Before, res.After = map[string]string{}, map[string]string{}
	for _, r := range rec.ENIs {
		res.Resources = append(res.Resources, r.ID)
		e, ok := live[r.ID]
		if !ok {
			notes = append(notes, fmt.Sprintf("%s is no longer attached to %s", r.ID, id))
			continue
		}
		res.Before[r.ID] = strings.Join(e.Groups, ",")
		res.After[r.ID] = res.Before[r.ID]
		iso := rec.IsolationGroups[r.VpcID]
		switch {
		case iso != "" && slices.Equal(e.Groups, []string{iso}):
			todo = append(todo, restore{r, iso})
		case slices.Equal(e.Groups, r.Groups):
			notes = append(notes, fmt.Sprintf("%s is already on its original groups [%s]", r.ID, strings.Join(r.Groups, ",")))
		default:
			notes = append(notes, fmt.Sprintf("%s was changed by someone else since the quarantine (now [%s]); left as is",
				r.ID, strings.Join(e.Groups, ",")))
		}
	}

	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, r := range todo {
			res.Changes = append(res.Changes, fmt.Sprintf("would move %s from %s back to [%s]", r.eni.ID, r.isoGrp, strings.Join(r.eni.Groups, ",")))
		}
		res.Changes = append(res.Changes, notes...)
		res.Changes = append(res.Changes, "would delete quarantine record "+key)
		return res, nil
	}

	for _, r := range todo {
		if _, err := api.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
			NetworkInterfaceId: aws.String(r.eni.ID), Groups: r.eni.Groups,
		}); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: restore groups of %s: %w (done so far: %s)", releaseBot, where, r.eni.ID, err, containDoneSoFar(res.Changes))
		}
		res.After[r.eni.ID] = strings.Join(r.eni.Groups, ",")
		res.Changes = append(res.Changes, fmt.Sprintf("moved %s from %s back to [%s]", r.eni.ID, r.isoGrp, strings.Join(r.eni.Groups, ",")))
	}
	if len(todo) > 0 {
		if err := containTagInstance(ctx, api, t, releaseBot, req); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s was released but tagging it failed: %w", releaseBot, where, err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", id, bots.TagFindingID, bots.TagBot))
	}
	if err := req.State.Delete(ctx, key); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: groups restored but deleting the quarantine record failed: %w (done so far: %s)", releaseBot, where, err, containDoneSoFar(res.Changes))
	}
	res.Changes = append(res.Changes, "deleted quarantine record "+key)
	res.Changes = append(res.Changes, notes...)
	if len(todo) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = "no network interface was still on its isolation group: " + strings.Join(notes, "; ")
		return res, nil
	}
	res.Status = bots.StatusRemediated
	return res, nil
}
