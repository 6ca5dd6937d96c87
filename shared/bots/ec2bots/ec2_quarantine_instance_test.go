package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/statetable"
)

// memStore is an in-memory StateStore that counts writes.
type memStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	puts   int
	putErr error
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Put(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.putErr != nil {
		return s.putErr
	}
	s.puts++
	s.m[k] = slices.Clone(v)
	return nil
}

func (s *memStore) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return slices.Clone(v), ok, nil
}

func (s *memStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStore) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.m {
		out[k] = string(v)
	}
	return out
}

// fakeInstance answers DescribeInstances and ModifyNetworkInterfaceAttribute at the SDK level (kumo's
// instances have no ENIs and kumo lacks ModifyNetworkInterfaceAttribute) and records every modify.
type fakeInstance struct {
	mu       sync.Mutex
	id       string
	state    ec2types.InstanceStateName
	gone     bool
	enis     []*fakeENI
	modifies []ec2.ModifyNetworkInterfaceAttributeInput
	// onModify runs before each modify is applied; an error fails the call.
	onModify func(n int, in *ec2.ModifyNetworkInterfaceAttributeInput) error
}

type fakeENI struct {
	id, vpc, subnet string
	groups          []string
}

func (fi *fakeInstance) groupsOf(eni string) []string {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, e := range fi.enis {
		if e.id == eni {
			return slices.Clone(e.groups)
		}
	}
	return nil
}

func (fi *fakeInstance) setGroups(eni string, groups ...string) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, e := range fi.enis {
		if e.id == eni {
			e.groups = groups
		}
	}
}

// moves is each recorded modify as "eni→group".
func (fi *fakeInstance) moves() []string {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	var out []string
	for _, m := range fi.modifies {
		out = append(out, aws.ToString(m.NetworkInterfaceId)+"→"+strings.Join(m.Groups, ","))
	}
	return out
}

func (fi *fakeInstance) stubs() []func(*middleware.Stack) error {
	describe := bottest.StubCall("ec2:DescribeInstances", func(in any) (any, error) {
		fi.mu.Lock()
		defer fi.mu.Unlock()
		req := in.(*ec2.DescribeInstancesInput)
		if fi.gone || !slices.Equal(req.InstanceIds, []string{fi.id}) {
			return nil, &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID does not exist", Fault: smithy.FaultClient}
		}
		inst := ec2types.Instance{InstanceId: aws.String(fi.id), State: &ec2types.InstanceState{Name: fi.state}}
		for i, e := range fi.enis {
			ni := ec2types.InstanceNetworkInterface{
				NetworkInterfaceId: aws.String(e.id), VpcId: aws.String(e.vpc), SubnetId: aws.String(e.subnet),
				Attachment: &ec2types.InstanceNetworkInterfaceAttachment{DeviceIndex: aws.Int32(int32(i))},
			}
			for _, g := range e.groups {
				ni.Groups = append(ni.Groups, ec2types.GroupIdentifier{GroupId: aws.String(g)})
			}
			inst.NetworkInterfaces = append(inst.NetworkInterfaces, ni)
		}
		if len(fi.enis) > 0 {
			inst.VpcId, inst.SubnetId = aws.String(fi.enis[0].vpc), aws.String(fi.enis[0].subnet)
		}
		return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{inst}}}}, nil
	})
	modify := bottest.StubCall("ec2:ModifyNetworkInterfaceAttribute", func(in any) (any, error) {
		req := in.(*ec2.ModifyNetworkInterfaceAttributeInput)
		fi.mu.Lock()
		n := len(fi.modifies)
		hook := fi.onModify
		fi.mu.Unlock()
		if hook != nil {
			if err := hook(n, req); err != nil {
				return nil, err
			}
		}
		fi.mu.Lock()
		defer fi.mu.Unlock()
		fi.modifies = append(fi.modifies, *req)
		for _, e := range fi.enis {
			if e.id == aws.ToString(req.NetworkInterfaceId) {
				e.groups = slices.Clone(req.Groups)
				return &ec2.ModifyNetworkInterfaceAttributeOutput{}, nil
			}
		}
		return nil, &smithy.GenericAPIError{Code: "InvalidNetworkInterfaceID.NotFound", Message: "no such ENI", Fault: smithy.FaultClient}
	})
	return []func(*middleware.Stack) error{describe, modify}
}

// containEnv is a kumo server (security groups, tags) with a VPC of its own, a fake instance with two
// ENIs in that VPC, each on a real kumo group, and a fake state store.
type containEnv struct {
	t     *testing.T
	url   string
	vpc   string
	inst  *fakeInstance
	store *memStore
	web   string // the ENIs' original group
	db    string // the second ENI's extra original group
	recs  map[string]*bottest.Recorder
	tags  []*ec2.CreateTagsInput
}

func newContainEnv(t *testing.T) *containEnv {
	t.Helper()
	srv := bottest.NewKumo(t)
	e := &containEnv{t: t, url: srv.URL, store: newMemStore(), recs: map[string]*bottest.Recorder{}}
	setup := e.setup()
	ctx := context.Background()
	// kumo's storage is shared by every server in the process: a VPC per test keeps group names apart.
	vpc, err := setup.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatalf("kumo CreateVpc: %v", err)
	}
	e.vpc = aws.ToString(vpc.Vpc.VpcId)
	e.web = e.createGroup("web-" + e.vpc)
	e.db = e.createGroup("db-" + e.vpc)
	e.inst = &fakeInstance{id: "i-0a1b2c3d4e5f60718", state: ec2types.InstanceStateNameRunning, enis: []*fakeENI{
		{id: "eni-0000000000000000a", vpc: e.vpc, subnet: "subnet-0000000000000000a", groups: []string{e.web}},
		{id: "eni-0000000000000000b", vpc: e.vpc, subnet: "subnet-0000000000000000b", groups: []string{e.web, e.db}},
	}}
	return e
}

// setup is a kumo client without recorder or stubs, for arranging and reading back.
func (e *containEnv) setup() *ec2.Client { return ec2.NewFromConfig(bottest.Config(e.url)) }

func (e *containEnv) createGroup(name string) string {
	e.t.Helper()
	out, err := e.setup().CreateSecurityGroup(context.Background(), &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(name), VpcId: aws.String(e.vpc)})
	if err != nil {
		e.t.Fatalf("kumo CreateSecurityGroup %s: %v", name, err)
	}
	return aws.ToString(out.GroupId)
}

// cfg is the configuration a bot runs with: its recorder first, then pre (error stubs that must win),
// then the fake instance and its tags; everything else goes to kumo.
func (e *containEnv) cfg(bot string, pre ...func(*middleware.Stack) error) aws.Config {
	rec := e.recs[bot]
	if rec == nil {
		rec = bottest.NewRecorder(bot)
		e.recs[bot] = rec
	}
	opts := append([]func(*middleware.Stack) error{rec.Option}, pre...)
	opts = append(opts, e.inst.stubs()...)
	opts = append(opts, kumoGroupNameFilter)
	// kumo's CreateTags rejects ids it does not know, such as the fake instance's: answer those here.
	opts = append(opts, bottest.StubCall("ec2:CreateTags", func(in any) (any, error) {
		p := in.(*ec2.CreateTagsInput)
		if !slices.Equal(p.Resources, []string{e.inst.id}) {
			_, err := e.setup().CreateTags(context.Background(), p)
			return &ec2.CreateTagsOutput{}, err
		}
		e.tags = append(e.tags, p)
		return &ec2.CreateTagsOutput{}, nil
	}))
	return bottest.Config(e.url, opts...)
}

// kumoGroupNameFilter moves a DescribeSecurityGroups group-name filter into GroupNames. kumo ignores
// Filters and returns every group in the process, and its response breaks ("use of closed network
// connection") beyond a few dozen groups; EC2 itself needs the filter (GroupNames only works in a default
// VPC), so the bot keeps sending it and this adapter makes kumo filter as EC2 would.
func kumoGroupNameFilter(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("kumo group-name filter", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if p, ok := in.Parameters.(*ec2.DescribeSecurityGroupsInput); ok {
			q := *p
			q.Filters = nil
			for _, f := range p.Filters {
				if aws.ToString(f.Name) == "group-name" {
					q.GroupNames = append(q.GroupNames, f.Values...)
				}
			}
			in.Parameters = &q
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (e *containEnv) request(bot string, dryRun bool, pre ...func(*middleware.Stack) error) bots.Request {
	return bots.Request{
		Finding: &finding.Finding{
			ID: "5eb3c6d1a2f0e4b7c8d9e0f1a2b3c4d5", Type: "Backdoor:EC2/C&CActivity.B!DNS",
			AccountID: bottest.Account, Region: bottest.Region, Partition: "aws", ResourceRole: "TARGET",
			ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: e.inst.id, State: "running"},
		},
		DryRun:    dryRun,
		AWS:       e.cfg(bot, pre...),
		Execution: bottest.Execution,
		State:     e.store,
	}
}

// group reads a group back from kumo by name in the env's VPC (nil when absent).
func (e *containEnv) group(name string) *ec2types.SecurityGroup {
	e.t.Helper()
	out, err := e.setup().DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{GroupNames: []string{name}})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range out.SecurityGroups {
		if aws.ToString(out.SecurityGroups[i].VpcId) == e.vpc {
			return &out.SecurityGroups[i]
		}
	}
	return nil
}

// guardbotsGroups counts the quarantine's groups in the env's VPC.
func (e *containEnv) guardbotsGroups() int {
	n := 0
	for _, name := range []string{isolationGroupPrefix + e.vpc, untrackGroupPrefix + e.vpc} {
		if e.group(name) != nil {
			n++
		}
	}
	return n
}

func (e *containEnv) ops(bot string) []string {
	if r := e.recs[bot]; r != nil {
		return r.Ops()
	}
	return nil
}

const quarantineBot = "ec2_quarantine_instance"

func TestQuarantine_MovesEveryENIThroughUntrackToIsolationAndRecordsOriginals(t *testing.T) {
	e := newContainEnv(t)
	key := quarantineKey(bottest.Account, bottest.Region, e.inst.id)
	e.inst.onModify = func(n int, _ *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if _, ok, _ := e.store.Get(context.Background(), key); n == 0 && !ok {
			t.Error("an ENI was changed before its original groups were recorded")
		}
		return nil
	}
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	iso, untrack := e.group(isolationGroupPrefix+e.vpc), e.group(untrackGroupPrefix+e.vpc)
	if iso == nil || untrack == nil {
		t.Fatalf("groups after the run: isolation %v, untrack %v", iso, untrack)
	}
	if len(iso.IpPermissions) != 0 || len(iso.IpPermissionsEgress) != 0 {
		t.Errorf("isolation group has rules: in %v out %v", iso.IpPermissions, iso.IpPermissionsEgress)
	}
	if missingAllowAll4(untrack.IpPermissions) || missingAllowAll4(untrack.IpPermissionsEgress) {
		t.Errorf("untrack group does not allow all traffic: in %v out %v", untrack.IpPermissions, untrack.IpPermissionsEgress)
	}
	isoID, untrackID := aws.ToString(iso.GroupId), aws.ToString(untrack.GroupId)
	// Per ENI: untrack first (connections become untracked), then isolation.
	want := []string{
		"eni-0000000000000000a→" + untrackID, "eni-0000000000000000a→" + isoID,
		"eni-0000000000000000b→" + untrackID, "eni-0000000000000000b→" + isoID,
	}
	if got := e.inst.moves(); !slices.Equal(got, want) {
		t.Errorf("ModifyNetworkInterfaceAttribute calls\n got %v\nwant %v", got, want)
	}
	for _, eni := range e.inst.enis {
		if got := e.inst.groupsOf(eni.id); !slices.Equal(got, []string{isoID}) {
			t.Errorf("%s ends on %v, want only the isolation group", eni.id, got)
		}
	}
	var rec quarantineRecord
	raw, ok, _ := e.store.Get(context.Background(), key)
	if !ok || json.Unmarshal(raw, &rec) != nil {
		t.Fatalf("no quarantine record under %s: %q", key, raw)
	}
	wantENIs := []eniRecord{
		{ID: "eni-0000000000000000a", VpcID: e.vpc, Groups: []string{e.web}},
		{ID: "eni-0000000000000000b", VpcID: e.vpc, Groups: []string{e.web, e.db}},
	}
	if !sameENIRecords(rec.ENIs, wantENIs) || rec.IsolationGroups[e.vpc] != isoID || rec.FindingID == "" {
		t.Errorf("record = %+v, want originals %+v and isolation %s", rec, wantENIs, isoID)
	}
	if len(e.tags) == 0 || !slices.Equal(e.tags[len(e.tags)-1].Resources, []string{e.inst.id}) {
		t.Fatalf("instance not tagged: %+v", e.tags)
	}
	tags := map[string]string{}
	for _, tg := range e.tags[len(e.tags)-1].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags[bots.TagBot] != quarantineBot || tags[bots.TagFindingID] != "5eb3c6d1a2f0e4b7c8d9e0f1a2b3c4d5" {
		t.Errorf("instance tags = %v", tags)
	}
	if res.Before["eni-0000000000000000b"] != e.web+","+e.db || res.After["eni-0000000000000000b"] != isoID {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
}

func missingAllowAll4(perms []ec2types.IpPermission) bool {
	for _, p := range perms {
		if aws.ToString(p.IpProtocol) == "-1" && slices.ContainsFunc(p.IpRanges, func(r ec2types.IpRange) bool { return aws.ToString(r.CidrIp) == "0.0.0.0/0" }) {
			return false
		}
	}
	return true
}

func TestQuarantine_SecondRunIsAlreadyDoneAndKeepsTheRecord(t *testing.T) {
	e := newContainEnv(t)
	if _, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false)); err != nil {
		t.Fatal(err)
	}
	before, puts, moves := len(e.ops(quarantineBot)), e.store.puts, len(e.inst.moves())
	record := e.store.snapshot()
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone {
		t.Fatalf("second run = %s (%s), want already-done", res.Status, res.Reason)
	}
	if ops := e.ops(quarantineBot)[before:]; slices.ContainsFunc(ops, func(op string) bool { return !strings.Contains(op, ":Describe") }) {
		t.Errorf("second run called %v, want reads only", ops)
	}
	if e.store.puts != puts || len(e.inst.moves()) != moves || !maps.Equal(record, e.store.snapshot()) {
		t.Error("second run wrote the record or moved an ENI")
	}
}

func TestQuarantine_NewGroupsDefaultEgressRuleIsRevoked(t *testing.T) {
	e := newContainEnv(t)
	// EC2 gives a new group an allow-all egress rule; kumo does not, so add it as EC2 would.
	awsDefaultEgress := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("aws default egress", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if c, ok := out.Result.(*ec2.CreateSecurityGroupOutput); ok && err == nil {
				if _, aerr := e.setup().AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: c.GroupId,
					IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); aerr != nil {
					t.Fatal(aerr)
				}
			}
			return out, md, err
		}), middleware.After)
	}
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false, awsDefaultEgress))
	if err != nil {
		t.Fatal(err)
	}
	iso := e.group(isolationGroupPrefix + e.vpc)
	if len(iso.IpPermissionsEgress) != 0 {
		t.Errorf("isolation group kept egress %v", iso.IpPermissionsEgress)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "revoked 1 outbound rule(s) of isolation group") }) {
		t.Errorf("changes %q do not report the revoked default egress rule", res.Changes)
	}
}

func TestQuarantine_ReusedIsolationGroupWithAddedRulesHasThemRevoked(t *testing.T) {
	e := newContainEnv(t)
	isoID := e.createGroup(isolationGroupPrefix + e.vpc)
	ctx := context.Background()
	if _, err := e.setup().AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(isoID),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.setup().AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(isoID),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	iso := e.group(isolationGroupPrefix + e.vpc)
	if aws.ToString(iso.GroupId) != isoID {
		t.Errorf("isolation group %s, want the existing %s reused", aws.ToString(iso.GroupId), isoID)
	}
	if len(iso.IpPermissions)+len(iso.IpPermissionsEgress) != 0 {
		t.Errorf("reused isolation group still has rules: in %v out %v", iso.IpPermissions, iso.IpPermissionsEgress)
	}
	for _, want := range []string{"revoked 1 inbound rule(s) of isolation group " + isoID, "revoked 1 outbound rule(s) of isolation group " + isoID} {
		if !slices.Contains(res.Changes, want) {
			t.Errorf("changes %q lack %q", res.Changes, want)
		}
	}
	if got := e.inst.groupsOf("eni-0000000000000000a"); !slices.Equal(got, []string{isoID}) {
		t.Errorf("ENI on %v, want the reused isolation group", got)
	}
}

func TestQuarantine_RulesAddedAfterQuarantineAreRevokedOnTheNextRun(t *testing.T) {
	e := newContainEnv(t)
	if _, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false)); err != nil {
		t.Fatal(err)
	}
	iso := e.group(isolationGroupPrefix + e.vpc)
	if _, err := e.setup().AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: iso.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	moves := len(e.inst.moves())
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || len(e.group(isolationGroupPrefix+e.vpc).IpPermissions) != 0 {
		t.Errorf("status %s, isolation rules %v: want the added rule revoked", res.Status, e.group(isolationGroupPrefix+e.vpc).IpPermissions)
	}
	if len(e.inst.moves()) != moves {
		t.Error("ENIs already isolated were moved again")
	}
}

func TestQuarantine_DryRunReportsThePlanAndChangesNothing(t *testing.T) {
	e := newContainEnv(t)
	groups := e.guardbotsGroups()
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, true))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusDryRun || !res.DryRun {
		t.Fatalf("status = %s, want dry-run", res.Status)
	}
	for _, want := range []string{
		"would create isolation group " + isolationGroupPrefix + e.vpc + " (no rules)",
		"would create untrack group " + untrackGroupPrefix + e.vpc + " (all traffic in and out)",
		"would move eni-0000000000000000b from [" + e.web + "," + e.db + "] to " + untrackGroupPrefix + e.vpc + ", then to " + isolationGroupPrefix + e.vpc,
	} {
		if !slices.Contains(res.Changes, want) {
			t.Errorf("plan %q lacks %q", res.Changes, want)
		}
	}
	if e.guardbotsGroups() != groups || len(e.inst.moves()) != 0 || e.store.puts != 0 || len(e.tags) != 0 {
		t.Errorf("dry run changed something: groups %d→%d, moves %v, puts %d, tags %d", groups, e.guardbotsGroups(), e.inst.moves(), e.store.puts, len(e.tags))
	}
	if ops := e.ops(quarantineBot); slices.ContainsFunc(ops, func(op string) bool { return !strings.Contains(op, ":Describe") }) {
		t.Errorf("dry run called %v, want reads only", ops)
	}
}

func TestQuarantine_DryRunNeedsNoStateTable(t *testing.T) {
	e := newContainEnv(t)
	req := e.request(quarantineBot, true)
	req.State = nil
	if res, err := bottest.Run(t, quarantineBot, req); err != nil || res.Status != bots.StatusDryRun {
		t.Errorf("result %+v, err %v; want a dry-run plan", res, err)
	}
}

func TestQuarantine_WithoutStateTableFailsNamingTheVariableBeforeAnyCall(t *testing.T) {
	e := newContainEnv(t)
	req := e.request(quarantineBot, false)
	req.State = nil
	_, err := bottest.Run(t, quarantineBot, req)
	if err == nil || !strings.Contains(err.Error(), statetable.EnvTable) || faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v, want a Failed error naming %s", err, statetable.EnvTable)
	}
	if ops := e.ops(quarantineBot); len(ops) != 0 {
		t.Errorf("called %v without a state table", ops)
	}
}

func TestQuarantine_MissingInstanceIsSkipped(t *testing.T) {
	e := newContainEnv(t)
	e.inst.gone = true
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "instance "+e.inst.id+" no longer exists" {
		t.Errorf("result %s %q, err %v; want skipped because it no longer exists", res.Status, res.Reason, err)
	}
}

func TestQuarantine_InstanceUnknownToKumoIsSkipped(t *testing.T) {
	srv := bottest.NewKumo(t)
	req := bots.Request{
		Finding: &finding.Finding{ID: "f", AccountID: bottest.Account, Region: bottest.Region, ResourceKind: finding.KindInstance,
			Instance: &finding.Instance{ID: "i-0123456789abcdef0"}},
		AWS:   bottest.Config(srv.URL, bottest.NewRecorder(quarantineBot).Option),
		State: newMemStore(),
	}
	res, err := bottest.Run(t, quarantineBot, req)
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("result %+v, err %v; want skipped", res, err)
	}
}

func TestQuarantine_TerminatedInstanceIsSkipped(t *testing.T) {
	e := newContainEnv(t)
	e.inst.state = ec2types.InstanceStateNameTerminated
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "terminated") {
		t.Errorf("result %s %q, err %v; want skipped naming the state", res.Status, res.Reason, err)
	}
}

func TestQuarantine_AccessDeniedIsAFailedErrorSayingWhatWasDone(t *testing.T) {
	e := newContainEnv(t)
	_, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false,
		bottest.StubError("ec2:ModifyNetworkInterfaceAttribute", "UnauthorizedOperation", "You are not authorized to perform this operation.")))
	if err == nil {
		t.Fatal("want an error")
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("Classify = %s, want %s", k, faults.Failed)
	}
	for _, want := range []string{e.inst.id, bottest.Account, "UnauthorizedOperation", "eni-0000000000000000a", "recorded original groups"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestQuarantine_ThrottlingIsAThrottledError(t *testing.T) {
	e := newContainEnv(t)
	_, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false, bottest.StubError("ec2:DescribeSecurityGroups", "RequestLimitExceeded", "Request limit exceeded.")))
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

func TestQuarantine_StateTableFailureStopsBeforeAnyENIChange(t *testing.T) {
	e := newContainEnv(t)
	e.store.putErr = fmt.Errorf("dynamodb: %w", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: "slow down"})
	_, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err == nil || !strings.Contains(err.Error(), "record original groups") {
		t.Fatalf("err = %v, want a record failure", err)
	}
	if moves := e.inst.moves(); len(moves) != 0 {
		t.Errorf("ENIs changed without a record: %v", moves)
	}
}

func TestQuarantine_RerunAfterPartialFailureKeepsTheRecordedOriginals(t *testing.T) {
	e := newContainEnv(t)
	// The third modify (second ENI → untrack) fails once: the first ENI is isolated, the second not.
	failed := false
	e.inst.onModify = func(n int, _ *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if n == 2 && !failed {
			failed = true
			return &smithy.GenericAPIError{Code: "InternalError", Message: "boom", Fault: smithy.FaultServer}
		}
		return nil
	}
	if _, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false)); err == nil {
		t.Fatal("first run: want an error")
	}
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	var rec quarantineRecord
	raw, _, _ := e.store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id))
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	want := []eniRecord{
		{ID: "eni-0000000000000000a", VpcID: e.vpc, Groups: []string{e.web}},
		{ID: "eni-0000000000000000b", VpcID: e.vpc, Groups: []string{e.web, e.db}},
	}
	if !sameENIRecords(rec.ENIs, want) {
		t.Errorf("record after re-run = %+v, want the originals %+v (not the isolation group)", rec.ENIs, want)
	}
}

func TestQuarantine_InstanceWithoutENIsIsSkipped(t *testing.T) {
	e := newContainEnv(t)
	e.inst.enis = nil
	res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no network interfaces") {
		t.Errorf("result %s %q, err %v", res.Status, res.Reason, err)
	}
}

func TestQuarantine_MalformedInstanceIDIsRejected(t *testing.T) {
	e := newContainEnv(t)
	req := e.request(quarantineBot, false)
	req.Finding.Instance.ID = "i-99999999; drop"
	if _, err := bottest.Run(t, quarantineBot, req); faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v, want a rejection", err)
	}
}
