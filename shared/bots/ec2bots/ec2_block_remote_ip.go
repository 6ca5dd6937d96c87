package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// blockBot is the bot's name, in its messages and its declaration.
const blockBot = "ec2_block_remote_ip"

func init() {
	bots.Register(bots.Bot{
		Name: blockBot,
		Summary: "Deny the finding's remote IPs inbound and outbound in the network ACL of each subnet of the " +
			"instance (only when the instance is the TARGET), numbered before the allow rules; what was added is recorded.",
		Resources: []finding.ResourceKind{finding.KindInstance},
		Targets:   []finding.TargetKind{finding.TargetInstance},
		Params: []bots.Param{{
			Name: "maxRemoteIps", Type: bots.TypeInt, Default: 5, Min: 1, Max: 20,
			Description: "Skip (with a reason) a finding with more remote IPs than this: each IP takes two of the 20 rules per ACL.",
		}},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"ec2:DescribeInstances", "ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return blockRemoteIP(ctx, ec2.NewFromConfig(req.AWS), req)
		},
	})
}

const (
	// naclRuleLimit is EC2's default quota of rules per direction per network ACL (adjustable; a raised
	// quota only makes this bot skip earlier than needed, never fail half-way).
	naclRuleLimit = 20
	// naclDefaultRule is the catch-all deny every ACL ends with; it is not an allow rule.
	naclDefaultRule = 32767
)

// ec2NACLAPI is what the NACL bots call.
type ec2NACLAPI interface {
	ec2instance.Reader
	DescribeNetworkAcls(context.Context, *ec2.DescribeNetworkAclsInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error)
	CreateNetworkAclEntry(context.Context, *ec2.CreateNetworkAclEntryInput, ...func(*ec2.Options)) (*ec2.CreateNetworkAclEntryOutput, error)
	DeleteNetworkAclEntry(context.Context, *ec2.DeleteNetworkAclEntryInput, ...func(*ec2.Options)) (*ec2.DeleteNetworkAclEntryOutput, error)
}

// naclBlockRecord is what ec2_unblock_remote_ip removes: exactly the entries this bot added.
type naclBlockRecord struct {
	InstanceID string           `json:"instanceId"`
	FindingID  string           `json:"findingId"`
	RecordedAt string           `json:"recordedAt"`
	Entries    []naclBlockEntry `json:"entries"`
}

type naclBlockEntry struct {
	ACL        string `json:"acl"`
	RuleNumber int32  `json:"ruleNumber"`
	Egress     bool   `json:"egress"`
	CIDR       string `json:"cidr"`
}

func (e naclBlockEntry) String() string {
	dir := "inbound"
	if e.Egress {
		dir = "outbound"
	}
	return fmt.Sprintf("%s rule %d %s deny %s", e.ACL, e.RuleNumber, dir, e.CIDR)
}

// naclBlockKey is per instance; a later finding for the same instance adds to the same record.
func naclBlockKey(account, region, instanceID string) string {
	return containRecordKey("ec2-nacl-block", account, region, instanceID)
}

// blockRemoteIP adds deny entries with the lowest free rule numbers below the ACL's first allow rule
// (per direction), so they are evaluated first; existing entries are never replaced. If the numbers or
// the rule quota do not suffice for every needed entry, nothing is added and the bot skips, naming the
// ACL: a partial block would look done while traffic still flows.
func blockRemoteIP(ctx context.Context, api ec2NACLAPI, req bots.Request) (bots.Result, error) {
	res, t, err := containBegin(blockBot, req)
	if err != nil {
		return res, err
	}
	f, id, where := req.Finding, t.ID, t.Where()
	if !strings.EqualFold(f.ResourceRole, "TARGET") {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("instance %s is the %s of the finding, not its TARGET: blocking its peers would not contain it", id, orUnknown(f.ResourceRole))
		return res, nil
	}
	cidrs, err := remoteCIDRs(f)
	if err != nil {
		return bots.Result{}, faults.Reject(fmt.Errorf("%s: %w", blockBot, err))
	}
	if len(cidrs) == 0 {
		res.Status, res.Reason = bots.StatusSkipped, "the finding has no remote IP to block"
		return res, nil
	}
	if max := req.Params.Int("maxRemoteIps"); max > 0 && len(cidrs) > max {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("the finding has %d remote IPs, more than maxRemoteIps=%d", len(cidrs), max)
		return res, nil
	}
	if err := containState(blockBot, req, "record the added ACL entries in", false); err != nil {
		return bots.Result{}, err
	}
	inst, err := ec2instance.Live(ctx, api, t)
	if err != nil {
		return res, err
	}
	var subnets []string
	for _, e := range containENIs(inst) {
		if e.SubnetID != "" && !slices.Contains(subnets, e.SubnetID) {
			subnets = append(subnets, e.SubnetID)
		}
	}
	sort.Strings(subnets)
	if len(subnets) == 0 {
		res.Status, res.Reason = bots.StatusSkipped, fmt.Sprintf("instance %s has no subnet", id)
		return res, nil
	}
	var acls []ec2types.NetworkAcl
	for _, s := range subnets {
		out, err := api.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
			{Name: aws.String("association.subnet-id"), Values: []string{s}},
		}})
		if err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: network ACL of subnet %s: %w", blockBot, where, s, err)
		}
		if len(out.NetworkAcls) == 0 {
			return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: subnet %s has no network ACL", blockBot, where, s))
		}
		a := out.NetworkAcls[0]
		if !slices.ContainsFunc(acls, func(x ec2types.NetworkAcl) bool { return aws.ToString(x.NetworkAclId) == aws.ToString(a.NetworkAclId) }) {
			acls = append(acls, a)
		}
	}

	var plan []naclBlockEntry
	for _, a := range acls {
		for _, egress := range []bool{false, true} {
			add, reason := planACLDenies(a, egress, cidrs)
			if reason != "" {
				res.Status, res.Reason = bots.StatusSkipped, reason
				return res, nil
			}
			plan = append(plan, add...)
		}
		res.Resources = append(res.Resources, aws.ToString(a.NetworkAclId))
	}
	if len(plan) == 0 {
		res.Status = bots.StatusAlreadyDone
		res.Reason = fmt.Sprintf("every ACL already denies %s in both directions before its allow rules", strings.Join(cidrs, ", "))
		return res, nil
	}
	if req.DryRun {
		res.Status = bots.StatusDryRun
		for _, e := range plan {
			res.Changes = append(res.Changes, "would add "+e.String())
		}
		return res, nil
	}

	// Record before adding, so a failure half-way leaves nothing unaccounted for (unblock deletes only
	// entries still matching the record, so a planned entry that was never created is harmless).
	key := naclBlockKey(f.AccountID, f.Region, id)
	rec := naclBlockRecord{InstanceID: id, FindingID: f.ID, RecordedAt: time.Now().UTC().Format(time.RFC3339)}
	raw, found, err := req.State.Get(ctx, key)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: read block record: %w", blockBot, where, err)
	}
	if found {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: block record %s is not valid JSON: %w", blockBot, where, key, err))
		}
	}
	for _, p := range plan {
		rec.Entries = slices.DeleteFunc(rec.Entries, func(o naclBlockEntry) bool {
			return o.ACL == p.ACL && o.Egress == p.Egress && o.CIDR == p.CIDR
		})
		rec.Entries = append(rec.Entries, p)
	}
	b, _ := json.Marshal(rec)
	if err := req.State.Put(ctx, key, b); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: record ACL entries before adding them: %w", blockBot, where, err)
	}
	for _, e := range plan {
		in := &ec2.CreateNetworkAclEntryInput{
			NetworkAclId: aws.String(e.ACL), RuleNumber: aws.Int32(e.RuleNumber), Egress: aws.Bool(e.Egress),
			Protocol: aws.String("-1"), RuleAction: ec2types.RuleActionDeny,
		}
		if strings.Contains(e.CIDR, ":") {
			in.Ipv6CidrBlock = aws.String(e.CIDR)
		} else {
			in.CidrBlock = aws.String(e.CIDR)
		}
		if _, err := api.CreateNetworkAclEntry(ctx, in); err != nil {
			return bots.Result{}, fmt.Errorf("%s: %s: add %s: %w (done so far: %s)", blockBot, where, e, err, containDoneSoFar(res.Changes))
		}
		res.Changes = append(res.Changes, "added "+e.String())
	}
	res.Status = bots.StatusRemediated
	return res, nil
}

// planACLDenies returns the deny entries to add to one direction of an ACL, or a skip reason.
func planACLDenies(a ec2types.NetworkAcl, egress bool, cidrs []string) ([]naclBlockEntry, string) {
	acl := aws.ToString(a.NetworkAclId)
	dir := "inbound"
	if egress {
		dir = "outbound"
	}
	firstAllow := int32(naclDefaultRule)
	used := map[int32]bool{}
	count := 0
	for _, e := range a.Entries {
		if aws.ToBool(e.Egress) != egress || aws.ToInt32(e.RuleNumber) == naclDefaultRule {
			continue
		}
		n := aws.ToInt32(e.RuleNumber)
		used[n] = true
		count++
		if e.RuleAction == ec2types.RuleActionAllow && n < firstAllow {
			firstAllow = n
		}
	}
	var need []string
	for _, c := range cidrs {
		present := slices.ContainsFunc(a.Entries, func(e ec2types.NetworkAclEntry) bool {
			return aws.ToBool(e.Egress) == egress && e.RuleAction == ec2types.RuleActionDeny &&
				aws.ToString(e.Protocol) == "-1" && aws.ToInt32(e.RuleNumber) < firstAllow && sameCIDR(entryCIDR(e), c)
		})
		if !present {
			need = append(need, c)
		}
	}
	if len(need) == 0 {
		return nil, ""
	}
	if count+len(need) > naclRuleLimit {
		return nil, fmt.Sprintf("network ACL %s is full: %d %s rules, %d more needed, limit %d", acl, count, dir, len(need), naclRuleLimit)
	}
	var out []naclBlockEntry
	for n := int32(1); n < firstAllow && len(out) < len(need); n++ {
		if !used[n] {
			out = append(out, naclBlockEntry{ACL: acl, RuleNumber: n, Egress: egress, CIDR: need[len(out)]})
		}
	}
	if len(out) < len(need) {
		return nil, fmt.Sprintf("network ACL %s is full: no free %s rule number below its first allow rule %d for %d deny entries", acl, dir, firstAllow, len(need))
	}
	return out, ""
}

// remoteCIDRs are the finding's remote IPs as /32 (IPv4) and /128 (IPv6), deduplicated, in order.
func remoteCIDRs(f *finding.Finding) ([]string, error) {
	if f.Action == nil {
		return nil, nil
	}
	var out []string
	for _, r := range f.Action.RemoteIPs {
		addr, err := netip.ParseAddr(strings.TrimSpace(r.Address))
		if err != nil {
			return nil, fmt.Errorf("remote IP %q is not an IP address", r.Address)
		}
		addr = addr.Unmap()
		if addr.IsUnspecified() || addr.IsLoopback() {
			return nil, fmt.Errorf("remote IP %s cannot be blocked", addr)
		}
		c := netip.PrefixFrom(addr, addr.BitLen()).String()
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func entryCIDR(e ec2types.NetworkAclEntry) string {
	if e.Ipv6CidrBlock != nil {
		return aws.ToString(e.Ipv6CidrBlock)
	}
	return aws.ToString(e.CidrBlock)
}

// sameCIDR compares parsed prefixes: EC2 may spell an IPv6 block differently from us.
func sameCIDR(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Masked() == pb.Masked()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown role"
	}
	return s
}
