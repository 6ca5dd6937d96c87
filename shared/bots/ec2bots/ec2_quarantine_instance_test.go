package ec2bots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
)

var _ = bottest.RegisterContract(quarantineBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		return containWorld(ec2test.NewContainEnv(t), quarantineBot, stubs)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:ModifyNetworkInterfaceAttribute",
	Throttle: "ec2:DescribeSecurityGroups",
})

func TestQuarantine_MovesEveryENIThroughUntrackToIsolationAndRecordsOriginals(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	key := quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)
	e.Inst.OnModify = func(n int, _ *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if _, ok, _ := e.Store.Get(context.Background(), key); n == 0 && !ok {
			t.Error("an ENI was changed before its original groups were recorded")
		}
		return nil
	}
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	iso, untrack := e.Group(isolationGroupPrefix+e.VPC), e.Group(untrackGroupPrefix+e.VPC)
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
	if got := e.Inst.Moves(); !slices.Equal(got, want) {
		t.Errorf("ModifyNetworkInterfaceAttribute calls\n got %v\nwant %v", got, want)
	}
	for _, eni := range e.Inst.ENIs {
		if got := e.Inst.GroupsOf(eni.ID); !slices.Equal(got, []string{isoID}) {
			t.Errorf("%s ends on %v, want only the isolation group", eni.ID, got)
		}
	}
	var rec quarantineRecord
	raw, ok, _ := e.Store.Get(context.Background(), key)
	if !ok || json.Unmarshal(raw, &rec) != nil {
		t.Fatalf("no quarantine record under %s: %q", key, raw)
	}
	wantENIs := []eniRecord{
		{ID: "eni-0000000000000000a", VpcID: e.VPC, Groups: []string{e.Web}},
		{ID: "eni-0000000000000000b", VpcID: e.VPC, Groups: []string{e.Web, e.DB}},
	}
	if !sameENIRecords(rec.ENIs, wantENIs) || rec.IsolationGroups[e.VPC] != isoID || rec.FindingID == "" {
		t.Errorf("record = %+v, want originals %+v and isolation %s", rec, wantENIs, isoID)
	}
	if len(e.Tagged()) == 0 || !slices.Equal(e.Tagged()[len(e.Tagged())-1].Resources, []string{e.Inst.ID}) {
		t.Fatalf("instance not tagged: %+v", e.Tagged())
	}
	tags := map[string]string{}
	for _, tg := range e.Tagged()[len(e.Tagged())-1].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags[bots.TagBot] != quarantineBot || tags[bots.TagFindingID] != "5eb3c6d1a2f0e4b7c8d9e0f1a2b3c4d5" {
		t.Errorf("instance tags = %v", tags)
	}
	if res.Before["eni-0000000000000000b"] != e.Web+","+e.DB || res.After["eni-0000000000000000b"] != isoID {
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

func TestQuarantine_NewGroupsDefaultEgressRuleIsRevoked(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	// EC2 gives a new group an allow-all egress rule; kumo does not, so add it as EC2 would.
	awsDefaultEgress := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("aws default egress", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if c, ok := out.Result.(*ec2.CreateSecurityGroupOutput); ok && err == nil {
				if _, aerr := e.Kumo().AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: c.GroupId,
					IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); aerr != nil {
					t.Fatal(aerr)
				}
			}
			return out, md, err
		}), middleware.After)
	}
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false, awsDefaultEgress))
	if err != nil {
		t.Fatal(err)
	}
	iso := e.Group(isolationGroupPrefix + e.VPC)
	if len(iso.IpPermissionsEgress) != 0 {
		t.Errorf("isolation group kept egress %v", iso.IpPermissionsEgress)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "revoked 1 outbound rule(s) of isolation group") }) {
		t.Errorf("changes %q do not report the revoked default egress rule", res.Changes)
	}
}

func TestQuarantine_ReusedIsolationGroupWithAddedRulesHasThemRevoked(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	isoID := e.CreateGroup(isolationGroupPrefix + e.VPC)
	ctx := context.Background()
	if _, err := e.Kumo().AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(isoID),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Kumo().AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(isoID),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	iso := e.Group(isolationGroupPrefix + e.VPC)
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
	if got := e.Inst.GroupsOf("eni-0000000000000000a"); !slices.Equal(got, []string{isoID}) {
		t.Errorf("ENI on %v, want the reused isolation group", got)
	}
}

func TestQuarantine_RulesAddedAfterQuarantineAreRevokedOnTheNextRun(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	if _, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false)); err != nil {
		t.Fatal(err)
	}
	iso := e.Group(isolationGroupPrefix + e.VPC)
	if _, err := e.Kumo().AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: iso.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	moves := len(e.Inst.Moves())
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || len(e.Group(isolationGroupPrefix+e.VPC).IpPermissions) != 0 {
		t.Errorf("status %s, isolation rules %v: want the added rule revoked", res.Status, e.Group(isolationGroupPrefix+e.VPC).IpPermissions)
	}
	if len(e.Inst.Moves()) != moves {
		t.Error("ENIs already isolated were moved again")
	}
}

func TestQuarantine_DryRunReportsThePlan(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, true))
	if err != nil || res.Status != bots.StatusDryRun {
		t.Fatalf("result %+v, %v; want a dry run", res, err)
	}
	for _, want := range []string{
		"would create isolation group " + isolationGroupPrefix + e.VPC + " (no rules)",
		"would create untrack group " + untrackGroupPrefix + e.VPC + " (all traffic in and out)",
		"would move eni-0000000000000000b from [" + e.Web + "," + e.DB + "] to " + untrackGroupPrefix + e.VPC + ", then to " + isolationGroupPrefix + e.VPC,
	} {
		if !slices.Contains(res.Changes, want) {
			t.Errorf("plan %q lacks %q", res.Changes, want)
		}
	}
}

func TestQuarantine_DryRunNeedsNoStateTable(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	req := e.Request(quarantineBot, true)
	req.State = nil
	if res, err := bottest.Run(t, quarantineBot, req); err != nil || res.Status != bots.StatusDryRun {
		t.Errorf("result %+v, err %v; want a dry-run plan", res, err)
	}
}

func TestQuarantine_WithoutStateTableFailsNamingTheVariableBeforeAnyCall(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	req := e.Request(quarantineBot, false)
	req.State = nil
	_, err := bottest.Run(t, quarantineBot, req)
	if err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) || faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v, want a Failed error naming %s", err, deployment.EnvStateTable)
	}
	if ops := e.Rec(quarantineBot).Ops(); len(ops) != 0 {
		t.Errorf("called %v without a state table", ops)
	}
}

func TestQuarantine_AccessDeniedIsAFailedErrorSayingWhatWasDone(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	_, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false,
		bottest.StubError("ec2:ModifyNetworkInterfaceAttribute", "UnauthorizedOperation", "You are not authorized to perform this operation.")))
	if err == nil {
		t.Fatal("want an error")
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("Classify = %s, want %s", k, faults.Failed)
	}
	for _, want := range []string{e.Inst.ID, bottest.Account, "UnauthorizedOperation", "eni-0000000000000000a", "recorded original groups"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestQuarantine_StateTableFailureStopsBeforeAnyENIChange(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.Store.PutErr = fmt.Errorf("dynamodb: %w", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: "slow down"})
	_, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err == nil || !strings.Contains(err.Error(), "record original groups") {
		t.Fatalf("err = %v, want a record failure", err)
	}
	if moves := e.Inst.Moves(); len(moves) != 0 {
		t.Errorf("ENIs changed without a record: %v", moves)
	}
}

func TestQuarantine_RerunAfterPartialFailureKeepsTheRecordedOriginals(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	// The third modify (second ENI → untrack) fails once: the first ENI is isolated, the second not.
	failed := false
	e.Inst.OnModify = func(n int, _ *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if n == 2 && !failed {
			failed = true
			return &smithy.GenericAPIError{Code: "InternalError", Message: "boom", Fault: smithy.FaultServer}
		}
		return nil
	}
	if _, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false)); err == nil {
		t.Fatal("first run: want an error")
	}
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	var rec quarantineRecord
	raw, _, _ := e.Store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID))
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	want := []eniRecord{
		{ID: "eni-0000000000000000a", VpcID: e.VPC, Groups: []string{e.Web}},
		{ID: "eni-0000000000000000b", VpcID: e.VPC, Groups: []string{e.Web, e.DB}},
	}
	if !sameENIRecords(rec.ENIs, want) {
		t.Errorf("record after re-run = %+v, want the originals %+v (not the isolation group)", rec.ENIs, want)
	}
}

func TestQuarantine_InstanceWithoutENIsIsSkipped(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.Inst.ENIs = nil
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no network interfaces") {
		t.Errorf("result %s %q, err %v", res.Status, res.Reason, err)
	}
}

// moveFault makes the moves to the group named prefix+VPC fail with err while fail says so (attempt
// counts the attempts at that group, retries included).
func moveFault(e *ec2test.ContainEnv, prefix string, fail func(attempt int) error) func(int, *ec2.ModifyNetworkInterfaceAttributeInput) error {
	attempt := 0
	return func(_ int, in *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if g := e.Group(prefix + e.VPC); g != nil && slices.Equal(in.Groups, []string{aws.ToString(g.GroupId)}) {
			attempt++
			return fail(attempt)
		}
		return nil
	}
}

// onAllowAll lists the ENIs left on the untrack (allow-all) group.
func onAllowAll(e *ec2test.ContainEnv) []string {
	untrack := e.Group(untrackGroupPrefix + e.VPC)
	var out []string
	for _, eni := range e.Inst.ENIs {
		if g := e.Inst.GroupsOf(eni.ID); untrack != nil && slices.Contains(g, aws.ToString(untrack.GroupId)) {
			out = append(out, eni.ID)
		}
	}
	return out
}

var errInternal = &smithy.GenericAPIError{Code: "InternalError", Message: "We encountered an internal error.", Fault: smithy.FaultServer}

func TestQuarantine_AFailedFirstMoveLeavesTheENIOnItsOwnGroups(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.Inst.OnModify = moveFault(e, untrackGroupPrefix, func(int) error { return errInternal })
	_, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err == nil || !strings.Contains(err.Error(), "move eni-0000000000000000a to the untrack group") {
		t.Fatalf("err = %v, want the failed move to the untrack group", err)
	}
	if got := e.Inst.GroupsOf("eni-0000000000000000a"); !slices.Equal(got, []string{e.Web}) || len(e.Inst.Moves()) != 0 {
		t.Errorf("ENI on %v after moves %v, want untouched on its own group", got, e.Inst.Moves())
	}
}

func TestQuarantine_AFailedMoveToIsolationIsTriedAgain(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.Inst.OnModify = moveFault(e, isolationGroupPrefix, func(attempt int) error {
		if attempt == 1 {
			return errInternal
		}
		return nil
	})
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result %+v, %v; want remediated", res, err)
	}
	iso := aws.ToString(e.Group(isolationGroupPrefix + e.VPC).GroupId)
	for _, eni := range e.Inst.ENIs {
		if got := e.Inst.GroupsOf(eni.ID); !slices.Equal(got, []string{iso}) {
			t.Errorf("%s on %v, want the isolation group", eni.ID, got)
		}
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool {
		return strings.Contains(c, "on a second attempt") && strings.Contains(c, "InternalError")
	}) {
		t.Errorf("changes %q do not say the first attempt failed", res.Changes)
	}
}

func TestQuarantine_WhenIsolationFailsAgainTheENIGoesBackToItsRecordedGroups(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.Inst.OnModify = moveFault(e, isolationGroupPrefix, func(int) error { return errInternal })
	_, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err == nil || !strings.Contains(err.Error(), "it was put back on its recorded groups ["+e.Web+"]") {
		t.Fatalf("err = %v, want an error saying the ENI went back", err)
	}
	if got := e.Inst.GroupsOf("eni-0000000000000000a"); !slices.Equal(got, []string{e.Web}) || len(onAllowAll(e)) != 0 {
		t.Errorf("ENI on %v, ENIs on the allow-all group %v; want it back on its own group", got, onAllowAll(e))
	}
	// Run again (a retry, or the next delivery): the record still holds the originals, and the
	// quarantine completes.
	e.Inst.OnModify = nil
	if res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false)); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	if len(onAllowAll(e)) != 0 {
		t.Errorf("after the retry ENIs are on the allow-all group: %v", onAllowAll(e))
	}
}

func TestQuarantine_WhenEvenTheWayBackFailsTheErrorSaysTheENIIsOnTheAllowAllGroup(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	isolating := moveFault(e, isolationGroupPrefix, func(int) error { return errInternal })
	e.Inst.OnModify = func(n int, in *ec2.ModifyNetworkInterfaceAttributeInput) error {
		if slices.Equal(in.Groups, []string{e.Web}) {
			return errInternal // the way back
		}
		return isolating(n, in)
	}
	_, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err == nil || !strings.Contains(err.Error(), "eni-0000000000000000a is ON THE ALLOW-ALL GROUP") || !strings.Contains(err.Error(), "move it by hand") {
		t.Fatalf("err = %v, want it to say loudly which ENI is left on the allow-all group", err)
	}
}

// InvalidGroup.NotFound is what EC2 answers for a while after a group is created: the client's retryer
// retries it (with its attempts and backoff), where before it failed the quarantine.
func TestQuarantine_AGroupNotVisibleYetIsRetriedByTheSDK(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	e.WithRetries(3)
	attempts := 0
	e.Inst.OnModify = moveFault(e, isolationGroupPrefix, func(attempt int) error {
		attempts = attempt
		if attempt <= 2 {
			return &smithy.GenericAPIError{Code: "InvalidGroup.NotFound", Message: "The security group does not exist", Fault: smithy.FaultClient}
		}
		return nil
	})
	res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result %+v, %v; want remediated", res, err)
	}
	if attempts != 4 || slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "second attempt") }) {
		t.Errorf("%d attempts at the isolation group, changes %q: want the SDK's retries (3 for the first ENI, 1 for the second) and no second attempt of the bot's", attempts, res.Changes)
	}
}

// The Lambda's deadline passing between an ENI's two moves must not leave it on the allow-all group.
func TestQuarantine_ADeadlinePastTheFirstMoveStillTakesTheENIOffTheAllowAllGroup(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Inst.OnModify = moveFault(e, untrackGroupPrefix, func(int) error { cancel(); return nil })
	b, _ := bots.Lookup(quarantineBot)
	req := e.Request(quarantineBot, false)
	if skip, err := b.Resolve(ctx, &req); err != nil || skip != "" {
		t.Fatal(skip, err)
	}
	if _, err := b.Run(ctx, req); err == nil {
		t.Fatal("want an error: the context ended")
	}
	iso := aws.ToString(e.Group(isolationGroupPrefix + e.VPC).GroupId)
	if got := e.Inst.GroupsOf("eni-0000000000000000a"); !slices.Equal(got, []string{iso}) || len(onAllowAll(e)) != 0 {
		t.Errorf("ENI a on %v, on the allow-all group %v: want it isolated despite the deadline", got, onAllowAll(e))
	}
}
