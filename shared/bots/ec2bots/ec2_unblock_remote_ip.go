package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// unblockBot is the bot's name, in its messages and its declaration.
const unblockBot = "ec2_unblock_remote_ip"

func init() {
	bots.Register(bots.Bot{
		Name:       unblockBot,
		Summary:    "Undo ec2_block_remote_ip: remove exactly the network ACL entries it recorded (those still unchanged), then the record.",
		Resources:  []finding.ResourceKind{finding.KindInstance},
		Targets:    []finding.TargetKind{finding.TargetInstance},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return unblockRemoteIP(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// unblockRemoteIP deletes a recorded entry only if the ACL still holds it unchanged (same number,
// direction, deny, all protocols, same CIDR): a number reused by someone since is theirs.
func unblockRemoteIP(ctx context.Context, api ec2NACLAPI, req bots.Request) (bots.Result, error) {
	res, t, err := containBegin(unblockBot, req)
	if err != nil {
		return res, err
	}
	if err := containState(unblockBot, req, "read the added ACL entries from", true); err != nil {
		return bots.Result{}, err
	}
	f, id, where := req.Finding, t.ID, t.Where()
	key := naclBlockKey(f.AccountID, f.Region, id)
	raw, found, err := req.State.Get(ctx, key)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: read block record: %w", unblockBot, where, err)
	}
	if !found {
		return res, bots.Skip("no block record for %s (nothing blocked by guardbots, or already unblocked)", id)
	}
	var rec naclBlockRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: block record %s is not valid JSON: %w", unblockBot, where, key, err))
	}
	acls := map[string]ec2types.NetworkAcl{}
	var ids []string
	for _, e := range rec.Entries {
		if !slices.Contains(ids, e.ACL) {
			ids = append(ids, e.ACL)
		}
	}
	if len(ids) > 0 {
		out, err := api.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: ids})
		if err != nil && bots.APIErrorCode(err) != "InvalidNetworkAclID.NotFound" {
			return bots.Result{}, fmt.Errorf("%s: %s: describe network ACLs %v: %w", unblockBot, where, ids, err)
		}
		if out != nil {
			for _, a := range out.NetworkAcls {
				acls[aws.ToString(a.NetworkAclId)] = a
			}
		}
	}
	var remove []naclBlockEntry
	var notes []string
	for _, e := range rec.Entries {
		a, ok := acls[e.ACL]
		if ok && slices.ContainsFunc(a.Entries, func(x ec2types.NetworkAclEntry) bool {
			return aws.ToInt32(x.RuleNumber) == e.RuleNumber && aws.ToBool(x.Egress) == e.Egress &&
				x.RuleAction == ec2types.RuleActionDeny && aws.ToString(x.Protocol) == "-1" && sameCIDR(entryCIDR(x), e.CIDR)
		}) {
			remove = append(remove, e)
			continue
		}
		notes = append(notes, fmt.Sprintf("%s is no longer present as added; left alone", e))
	}
	res.Resources = ids
	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, e := range remove {
			res.Changes = append(res.Changes, "would remove "+e.String())
		}
		res.Changes = append(res.Changes, notes...)
		res.Changes = append(res.Changes, "would delete block record "+key)
		return res, nil
	}
	for _, e := range remove {
		if _, err := api.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{
			NetworkAclId: aws.String(e.ACL), RuleNumber: aws.Int32(e.RuleNumber), Egress: aws.Bool(e.Egress),
		}); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: remove %s: %w (done so far: %s)", unblockBot, where, e, err, containDoneSoFar(res.Changes))
		}
		res.Changes = append(res.Changes, "removed "+e.String())
	}
	if err := req.State.Delete(ctx, key); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: entries removed but deleting the block record failed: %w", unblockBot, where, err)
	}
	res.Changes = append(res.Changes, "deleted block record "+key)
	res.Changes = append(res.Changes, notes...)
	if len(remove) == 0 {
		res.Status, res.Reason = bots.StatusAlreadyDone, "none of the recorded entries is still present"
		return res, nil
	}
	res.Status = bots.StatusRemediated
	return res, nil
}
