package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// quarantineBot is the bot's name, in its messages and its declaration.
const quarantineBot = "ec2_quarantine_instance"

func init() {
	bots.Register(bots.Bot{
		Name: quarantineBot,
		Summary: "Move every network interface of the instance to a per-VPC isolation security group (no rules), " +
			"through an allow-all group so tracked connections are cut; original groups kept in the state table.",
		Resources: ec2instance.InstanceOrCredentialResources,
		Targets:   ec2instance.InstanceOrSessionTargets,
		Related:   ec2instance.SessionInstance,
		Impact:    bots.ImpactDisruptive,
		Operations: []string{
			"ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup",
			"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
			"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
			"ec2:ModifyNetworkInterfaceAttribute", "ec2:CreateTags",
		},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return quarantineInstance(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

// Names of the per-VPC groups the quarantine uses. They are found by name, so every quarantine in a VPC
// shares them (and a re-run reuses them).
const (
	isolationGroupPrefix = "guardbots-isolation-"
	untrackGroupPrefix   = "guardbots-untrack-"
	// TagPurpose says what a guardbots security group is for.
	TagPurpose = "guardbots:purpose"
)

// ec2QuarantineAPI is what ec2_quarantine_instance calls.
type ec2QuarantineAPI interface {
	ec2instance.Reader
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	AuthorizeSecurityGroupEgress(context.Context, *ec2.AuthorizeSecurityGroupEgressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupEgressOutput, error)
	RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupEgress(context.Context, *ec2.RevokeSecurityGroupEgressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	ModifyNetworkInterfaceAttribute(context.Context, *ec2.ModifyNetworkInterfaceAttributeInput, ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

// quarantineRecord is what the quarantine remembers so ec2_release_quarantine can undo it.
type quarantineRecord struct {
	InstanceID string `json:"instanceId"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	FindingID  string `json:"findingId"`
	Execution  string `json:"execution,omitempty"`
	RecordedAt string `json:"recordedAt"`
	// IsolationGroups maps each VPC to its isolation group id, so release only touches ENIs still on it.
	IsolationGroups map[string]string `json:"isolationGroups"`
	ENIs            []eniRecord       `json:"enis"`
}

type eniRecord struct {
	ID    string `json:"id"`
	VpcID string `json:"vpcId"`
	// Groups are the ENI's security groups before the first quarantine.
	Groups []string `json:"groups"`
}

// quarantineKey is bot-independent, so ec2_release_quarantine finds what ec2_quarantine_instance wrote.
func quarantineKey(account, region, instanceID string) string {
	return containRecordKey("ec2-quarantine", account, region, instanceID)
}

// quarantineInstance isolates every ENI of the instance.
//
// Order: per ENI, untrack group then isolation group, before the next ENI. Security group changes do
// not cut tracked connections; a group allowing all traffic in and out makes them untracked, and the
// isolation group then drops them. Doing it per ENI keeps each ENI's allow-all window to one API call,
// and no ENI is ever left on the allow-all group when AWS lets it off it (isolate).
//
// A reused isolation group that has gained rules has them revoked (and the result says so): failing
// instead would leave the instance unquarantined, and a group with our name exists only to be empty.
func quarantineInstance(ctx context.Context, api ec2QuarantineAPI, req bots.Request) (bots.Result, error) {
	res, t, err := containBegin(quarantineBot, req)
	if err != nil {
		return res, err
	}
	if err := containState(quarantineBot, req, "record the original security groups in", false); err != nil {
		return bots.Result{}, err
	}
	f, id, where := req.Finding, t.ID, t.Where()
	inst, err := ec2instance.Live(ctx, api, t)
	if err != nil {
		return res, err
	}
	enis := containENIs(inst)
	if len(enis) == 0 {
		res.Status, res.Reason = bots.StatusSkipped, fmt.Sprintf("instance %s has no network interfaces", id)
		return res, nil
	}
	res.Before = map[string]string{}
	for _, e := range enis {
		res.Before[e.ID] = strings.Join(e.Groups, ",")
		res.Resources = append(res.Resources, e.ID)
	}

	// Read the per-VPC groups and decide what each needs.
	vpcs := map[string]*vpcGroups{}
	for _, e := range enis {
		if vpcs[e.VpcID] != nil {
			continue
		}
		g := &vpcGroups{vpc: e.VpcID}
		if g.isolation, err = findGroup(ctx, api, isolationGroupPrefix+e.VpcID, e.VpcID); err != nil {
			return bots.Result{}, fmt.Errorf("%s: read isolation group of %s for %s: %w", quarantineBot, e.VpcID, where, err)
		}
		if g.untrack, err = findGroup(ctx, api, untrackGroupPrefix+e.VpcID, e.VpcID); err != nil {
			return bots.Result{}, fmt.Errorf("%s: read untrack group of %s for %s: %w", quarantineBot, e.VpcID, where, err)
		}
		vpcs[e.VpcID] = g
	}
	var move []containENI
	for _, e := range enis {
		g := vpcs[e.VpcID]
		if g.isolation != nil && slices.Equal(e.Groups, []string{aws.ToString(g.isolation.GroupId)}) {
			continue
		}
		move = append(move, e)
		g.needUntrack = true
	}
	isoRulesPresent := false
	for _, v := range sortedVPCs(vpcs) {
		if g := vpcs[v]; g.isolation != nil && (len(g.isolation.IpPermissions) > 0 || len(g.isolation.IpPermissionsEgress) > 0) {
			isoRulesPresent = true
		}
	}
	if len(move) == 0 && !isoRulesPresent {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("every network interface of %s is on its isolation group only", id)
		return res, nil
	}

	key := quarantineKey(f.AccountID, f.Region, id)
	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, v := range sortedVPCs(vpcs) {
			res.Changes = append(res.Changes, vpcs[v].plan()...)
		}
		for _, e := range move {
			res.Changes = append(res.Changes, fmt.Sprintf("would record %s's groups [%s] under %s", e.ID, strings.Join(e.Groups, ","), key))
		}
		for _, e := range move {
			res.Changes = append(res.Changes, fmt.Sprintf("would move %s from [%s] to %s, then to %s",
				e.ID, strings.Join(e.Groups, ","), untrackGroupPrefix+e.VpcID, isolationGroupPrefix+e.VpcID))
		}
		return res, nil
	}

	// Isolation groups first: their ids go into the record, which is written before any ENI changes.
	for _, v := range sortedVPCs(vpcs) {
		changes, err := ensureIsolationGroup(ctx, api, vpcs[v], req)
		res.Changes = append(res.Changes, changes...)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: %w (done so far: %s)", quarantineBot, where, err, containDoneSoFar(res.Changes))
		}
	}
	var rec quarantineRecord
	if len(move) > 0 {
		var changed bool
		rec, changed, err = mergeQuarantineRecord(ctx, req, key, id, enis, vpcs)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: %w (done so far: %s)", quarantineBot, where, err, containDoneSoFar(res.Changes))
		}
		if changed {
			b, _ := json.Marshal(rec)
			if err := req.State.Put(ctx, key, b); err != nil {
				return bots.Result{}, fmt.Errorf("%s: %s: record original groups before changing them: %w (done so far: %s)", quarantineBot, where, err, containDoneSoFar(res.Changes))
			}
			res.Changes = append(res.Changes, fmt.Sprintf("recorded original groups of %d interface(s) under %s", len(rec.ENIs), key))
		}
	}
	for _, v := range sortedVPCs(vpcs) {
		if !vpcs[v].needUntrack {
			continue
		}
		changes, err := ensureUntrackGroup(ctx, api, vpcs[v], req)
		res.Changes = append(res.Changes, changes...)
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: %w (done so far: %s)", quarantineBot, where, err, containDoneSoFar(res.Changes))
		}
	}
	res.After = map[string]string{}
	for _, e := range enis {
		res.After[e.ID] = res.Before[e.ID]
	}
	for _, e := range move {
		g := vpcs[e.VpcID]
		untrack, iso := aws.ToString(g.untrack.GroupId), aws.ToString(g.isolation.GroupId)
		if err := moveENI(ctx, api, e.ID, untrack); err != nil {
			// The first move: the ENI is still on the groups it had.
			return bots.Result{}, fmt.Errorf("%s: %s: move %s to the untrack group %s: %w (done so far: %s)", quarantineBot, where, e.ID, untrack, err, containDoneSoFar(res.Changes))
		}
		note, err := isolate(ctx, api, e.ID, untrack, iso, rec.originalsOf(e.ID))
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: %w (done so far: %s)", quarantineBot, where, err, containDoneSoFar(res.Changes))
		}
		res.After[e.ID] = iso
		res.Changes = append(res.Changes, fmt.Sprintf("moved %s from [%s] to %s via %s%s", e.ID, strings.Join(e.Groups, ","), iso, untrack, note))
	}
	if err := containTagInstance(ctx, api, t, quarantineBot, req); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s was quarantined but tagging it failed: %w", quarantineBot, where, err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("tagged %s with %s, %s", id, bots.TagFindingID, bots.TagBot))
	res.Status = bots.StatusRemediated
	return res, nil
}

// vpcGroups are the quarantine's two groups in one VPC, as read live (nil: missing).
type vpcGroups struct {
	vpc                string
	isolation, untrack *ec2types.SecurityGroup
	needUntrack        bool
}

func (g *vpcGroups) plan() []string {
	var out []string
	if g.isolation == nil {
		out = append(out, fmt.Sprintf("would create isolation group %s%s (no rules)", isolationGroupPrefix, g.vpc))
	} else if n := len(g.isolation.IpPermissions) + len(g.isolation.IpPermissionsEgress); n > 0 {
		out = append(out, fmt.Sprintf("would revoke %d rule(s) someone added to isolation group %s", n, aws.ToString(g.isolation.GroupId)))
	}
	if g.needUntrack {
		if g.untrack == nil {
			out = append(out, fmt.Sprintf("would create untrack group %s%s (all traffic in and out)", untrackGroupPrefix, g.vpc))
		} else if len(missingAllowAll(g.untrack.IpPermissions)) > 0 || len(missingAllowAll(g.untrack.IpPermissionsEgress)) > 0 {
			out = append(out, fmt.Sprintf("would add allow-all rules to untrack group %s", aws.ToString(g.untrack.GroupId)))
		}
	}
	return out
}

// ensureIsolationGroup creates the VPC's isolation group if missing and leaves it without any rule: a
// new group comes with an allow-all egress rule, and a reused one may have gained rules.
func ensureIsolationGroup(ctx context.Context, api ec2QuarantineAPI, g *vpcGroups, req bots.Request) ([]string, error) {
	var changes []string
	name := isolationGroupPrefix + g.vpc
	if g.isolation == nil {
		sg, err := createGroup(ctx, api, name, g.vpc, "guardbots isolation: no inbound, no outbound traffic", "isolation", req)
		if err != nil {
			return changes, err
		}
		g.isolation = sg
		changes = append(changes, fmt.Sprintf("created isolation group %s (%s)", aws.ToString(sg.GroupId), name))
	}
	gid := aws.ToString(g.isolation.GroupId)
	if in := g.isolation.IpPermissions; len(in) > 0 {
		if _, err := api.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: in}, eventuallyConsistent); err != nil {
			return changes, fmt.Errorf("revoke inbound rules of isolation group %s: %w", gid, err)
		}
		changes = append(changes, fmt.Sprintf("revoked %d inbound rule(s) of isolation group %s", len(in), gid))
	}
	if out := g.isolation.IpPermissionsEgress; len(out) > 0 {
		if _, err := api.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(gid), IpPermissions: out}, eventuallyConsistent); err != nil {
			return changes, fmt.Errorf("revoke outbound rules of isolation group %s: %w", gid, err)
		}
		changes = append(changes, fmt.Sprintf("revoked %d outbound rule(s) of isolation group %s", len(out), gid))
	}
	g.isolation.IpPermissions, g.isolation.IpPermissionsEgress = nil, nil
	return changes, nil
}

// ensureUntrackGroup creates the VPC's untrack group if missing and makes sure it allows all traffic in
// both directions (IPv4 and IPv6): only then does EC2 stop tracking the ENI's connections.
func ensureUntrackGroup(ctx context.Context, api ec2QuarantineAPI, g *vpcGroups, req bots.Request) ([]string, error) {
	var changes []string
	name := untrackGroupPrefix + g.vpc
	if g.untrack == nil {
		sg, err := createGroup(ctx, api, name, g.vpc, "guardbots untrack: all traffic, held for one API call during quarantine", "untrack", req)
		if err != nil {
			return changes, err
		}
		g.untrack = sg
		changes = append(changes, fmt.Sprintf("created untrack group %s (%s)", aws.ToString(sg.GroupId), name))
	}
	gid := aws.ToString(g.untrack.GroupId)
	if perms := missingAllowAll(g.untrack.IpPermissions); len(perms) > 0 {
		if _, err := api.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: perms}, eventuallyConsistent); err != nil && bots.APIErrorCode(err) != "InvalidPermission.Duplicate" {
			return changes, fmt.Errorf("allow all inbound on untrack group %s: %w", gid, err)
		}
		changes = append(changes, fmt.Sprintf("allowed all inbound traffic on untrack group %s", gid))
	}
	if perms := missingAllowAll(g.untrack.IpPermissionsEgress); len(perms) > 0 {
		if _, err := api.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(gid), IpPermissions: perms}, eventuallyConsistent); err != nil && bots.APIErrorCode(err) != "InvalidPermission.Duplicate" {
			return changes, fmt.Errorf("allow all outbound on untrack group %s: %w", gid, err)
		}
		changes = append(changes, fmt.Sprintf("allowed all outbound traffic on untrack group %s", gid))
	}
	return changes, nil
}

// createGroup creates a tagged group and reads it back (a new group's rules are EC2's defaults, which
// the caller then corrects). A concurrent run may have created it first: then that one is used.
func createGroup(ctx context.Context, api ec2QuarantineAPI, name, vpc, description, purpose string, req bots.Request) (*ec2types.SecurityGroup, error) {
	tags := ec2instance.Tags(bots.Markers(quarantineBot, req, req.TargetsOf(finding.TargetInstance)[0],
		bots.Tag{Key: "Name", Value: name}, bots.Tag{Key: TagPurpose, Value: purpose}))
	_, err := api.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(description), VpcId: aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: tags}},
	})
	if err != nil && bots.APIErrorCode(err) != "InvalidGroup.Duplicate" {
		return nil, fmt.Errorf("create %s group %s in %s: %w", purpose, name, vpc, err)
	}
	sg, err := findGroup(ctx, api, name, vpc)
	if err != nil {
		return nil, fmt.Errorf("read back %s group %s in %s: %w", purpose, name, vpc, err)
	}
	if sg == nil {
		return nil, faults.Fail(fmt.Errorf("%s group %s in %s was created but cannot be read back", purpose, name, vpc))
	}
	return sg, nil
}

// findGroup returns the group with that name in that VPC, or nil. The result is filtered here as well
// as by the API: emulators (and EC2's own eventual consistency) may return more than asked for.
func findGroup(ctx context.Context, api ec2QuarantineAPI, name, vpc string) (*ec2types.SecurityGroup, error) {
	out, err := api.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("group-name"), Values: []string{name}},
		{Name: aws.String("vpc-id"), Values: []string{vpc}},
	}})
	if err != nil {
		return nil, err
	}
	for i := range out.SecurityGroups {
		sg := out.SecurityGroups[i]
		if aws.ToString(sg.GroupName) == name && aws.ToString(sg.VpcId) == vpc {
			return &sg, nil
		}
	}
	return nil, nil
}

// missingAllowAll returns the allow-all rules (IPv4 and IPv6, every protocol) absent from perms.
func missingAllowAll(perms []ec2types.IpPermission) []ec2types.IpPermission {
	has4, has6 := false, false
	for _, p := range perms {
		if aws.ToString(p.IpProtocol) != "-1" {
			continue
		}
		for _, r := range p.IpRanges {
			has4 = has4 || aws.ToString(r.CidrIp) == "0.0.0.0/0"
		}
		for _, r := range p.Ipv6Ranges {
			has6 = has6 || aws.ToString(r.CidrIpv6) == "::/0"
		}
	}
	if has4 && has6 {
		return nil
	}
	p := ec2types.IpPermission{IpProtocol: aws.String("-1")}
	if !has4 {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}
	}
	if !has6 {
		p.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}
	}
	return []ec2types.IpPermission{p}
}

// mergeQuarantineRecord builds the record to write. An ENI already on a guardbots group keeps its
// recorded groups (a re-run must not record the isolation group as "original"); any other ENI's
// current groups are its originals.
func mergeQuarantineRecord(ctx context.Context, req bots.Request, key, id string, enis []containENI, vpcs map[string]*vpcGroups) (quarantineRecord, bool, error) {
	f := req.Finding
	var old quarantineRecord
	raw, found, err := req.State.Get(ctx, key)
	if err != nil {
		return old, false, fmt.Errorf("read quarantine record: %w", err)
	}
	if found {
		if err := json.Unmarshal(raw, &old); err != nil {
			return old, false, faults.Fail(fmt.Errorf("quarantine record %s is not valid JSON: %w", key, err))
		}
	}
	rec := quarantineRecord{
		InstanceID: id, Account: f.AccountID, Region: f.Region, FindingID: f.ID, Execution: req.Execution,
		RecordedAt: time.Now().UTC().Format(time.RFC3339), IsolationGroups: map[string]string{},
	}
	if found {
		rec.FindingID, rec.Execution, rec.RecordedAt = old.FindingID, old.Execution, old.RecordedAt
		for _, e := range old.ENIs {
			if !slices.ContainsFunc(enis, func(l containENI) bool { return l.ID == e.ID }) {
				rec.ENIs = append(rec.ENIs, e) // detached meanwhile: keep, release reports it
			}
		}
	}
	for v, g := range vpcs {
		rec.IsolationGroups[v] = aws.ToString(g.isolation.GroupId)
	}
	for _, e := range enis {
		ours := []string{rec.IsolationGroups[e.VpcID]}
		if g := vpcs[e.VpcID]; g.untrack != nil {
			ours = append(ours, aws.ToString(g.untrack.GroupId))
		}
		onOurs := slices.ContainsFunc(e.Groups, func(s string) bool { return slices.Contains(ours, s) })
		if i := slices.IndexFunc(old.ENIs, func(o eniRecord) bool { return o.ID == e.ID }); i >= 0 && onOurs {
			rec.ENIs = append(rec.ENIs, old.ENIs[i])
			continue
		}
		orig := slices.DeleteFunc(slices.Clone(e.Groups), func(s string) bool { return slices.Contains(ours, s) })
		if len(orig) == 0 {
			continue // on our groups with no record: its originals are unknown, release will say so
		}
		rec.ENIs = append(rec.ENIs, eniRecord{ID: e.ID, VpcID: e.VpcID, Groups: orig})
	}
	changed := !found || !sameENIRecords(old.ENIs, rec.ENIs) || !maps.Equal(old.IsolationGroups, rec.IsolationGroups)
	if !changed {
		return old, false, nil
	}
	return rec, true, nil
}

func sameENIRecords(a, b []eniRecord) bool {
	return slices.EqualFunc(a, b, func(x, y eniRecord) bool {
		return x.ID == y.ID && x.VpcID == y.VpcID && slices.Equal(x.Groups, y.Groups)
	})
}

func sortedVPCs(m map[string]*vpcGroups) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// originalsOf is the ENI's recorded groups, nil when the record has none.
func (r quarantineRecord) originalsOf(eni string) []string {
	for _, e := range r.ENIs {
		if e.ID == eni {
			return e.Groups
		}
	}
	return nil
}

// settleTimeout bounds the calls that take an ENI off the allow-all group once it is on it; they run
// even when the bot's own context has ended (the Lambda's deadline): an ENI left there is open.
const settleTimeout = 20 * time.Second

// isolate moves an ENI that is on the allow-all untrack group to the isolation group, and never
// returns with it on the untrack group while AWS lets it off: a failed move is tried once more, and if
// that fails too the ENI goes back to its recorded groups. Only when that fails as well does the
// error say the ENI is on the allow-all group, for a person to move it. note, on success, says a second
// attempt was needed.
func isolate(ctx context.Context, api ec2QuarantineAPI, eni, untrack, iso string, originals []string) (note string, err error) {
	first := moveENI(ctx, api, eni, iso)
	if first == nil {
		return "", nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	again := moveENI(sctx, api, eni, iso)
	if again == nil {
		return fmt.Sprintf(" (on a second attempt: the first failed: %v)", first), nil
	}
	failed := fmt.Errorf("move %s to the isolation group %s: %w (and again: %v)", eni, iso, first, again)
	if len(originals) == 0 {
		return "", fmt.Errorf("%w; no original groups are recorded for it, so %s is ON THE ALLOW-ALL GROUP %s: move it by hand", failed, eni, untrack)
	}
	if back := moveENI(sctx, api, eni, originals...); back != nil {
		return "", fmt.Errorf("%w; putting it back on [%s] failed too (%v), so %s is ON THE ALLOW-ALL GROUP %s: move it by hand", failed, strings.Join(originals, ","), back, eni, untrack)
	}
	return "", fmt.Errorf("%w; it was put back on its recorded groups [%s]", failed, strings.Join(originals, ","))
}

// moveENI puts the ENI on exactly groups.
func moveENI(ctx context.Context, api ec2QuarantineAPI, eni string, groups ...string) error {
	_, err := api.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: groups,
	}, eventuallyConsistent)
	return err
}

// eventuallyConsistent makes the client's retryer (its attempts and backoff) also retry what EC2
// answers while a group created a moment ago is not yet visible everywhere.
func eventuallyConsistent(o *ec2.Options) {
	o.Retryer = retry.AddWithErrorCodes(o.Retryer, "InvalidGroup.NotFound")
}
