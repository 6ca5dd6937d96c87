package statetable_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/statetable"
)

func newRails(t *testing.T) *statetable.Rails {
	t.Helper()
	tab, client := newTable(t)
	return &statetable.Rails{Client: client, Name: tab.Name}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRails_ClaimIsRefusedToAnotherExecutionAndNamesTheHolder(t *testing.T) {
	r := newRails(t)
	ctx := context.Background()
	if _, ok, err := r.Claim(ctx, "claim#k", "exec-1", t0, 15*time.Minute); err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	holder, ok, err := r.Claim(ctx, "claim#k", "exec-2", t0.Add(time.Minute), 15*time.Minute)
	if err != nil || ok {
		t.Fatalf("second claim = %v, %v; want refused", ok, err)
	}
	if holder.Execution != "exec-1" || holder.State != statetable.ClaimInProgress || !holder.ClaimedAt.Equal(t0) {
		t.Errorf("holder = %+v", holder)
	}
	// The owner's own retry is granted.
	if _, ok, err := r.Claim(ctx, "claim#k", "exec-1", t0.Add(2*time.Minute), 15*time.Minute); err != nil || !ok {
		t.Fatalf("retry by the owner = %v, %v", ok, err)
	}
}

func TestRails_AbandonedLeaseIsTakenOverButAFinishedWindowIsNot(t *testing.T) {
	r := newRails(t)
	ctx := context.Background()
	if _, ok, _ := r.Claim(ctx, "claim#lease", "crashed", t0, 15*time.Minute); !ok {
		t.Fatal("first claim refused")
	}
	if _, ok, err := r.Claim(ctx, "claim#lease", "exec-2", t0.Add(16*time.Minute), 15*time.Minute); err != nil || !ok {
		t.Fatalf("takeover after the lease = %v, %v", ok, err)
	}
	if err := r.Finish(ctx, "claim#lease", "exec-2", t0.Add(17*time.Minute), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The crashed owner cannot finish or release a claim it lost.
	if err := r.Finish(ctx, "claim#lease", "crashed", t0.Add(18*time.Minute), 24*time.Hour); err == nil {
		t.Error("a lost claim was finished by its former owner")
	}
	if err := r.Release(ctx, "claim#lease", "crashed"); err != nil {
		t.Fatal(err)
	}
	holder, ok, err := r.Claim(ctx, "claim#lease", "exec-3", t0.Add(23*time.Hour), 15*time.Minute)
	if err != nil || ok || holder.Execution != "exec-2" || holder.State != statetable.ClaimDone {
		t.Fatalf("claim inside the window = %+v, %v, %v; want refused, held done by exec-2", holder, ok, err)
	}
	if _, ok, err := r.Claim(ctx, "claim#lease", "exec-3", t0.Add(25*time.Hour), 15*time.Minute); err != nil || !ok {
		t.Fatalf("claim after the window = %v, %v", ok, err)
	}
}

func TestRails_ReleaseLetsTheNextExecutionClaim(t *testing.T) {
	r := newRails(t)
	ctx := context.Background()
	r.Claim(ctx, "claim#rel", "exec-1", t0, 15*time.Minute)
	if err := r.Release(ctx, "claim#rel", "exec-2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.Claim(ctx, "claim#rel", "exec-2", t0, 15*time.Minute); ok {
		t.Fatal("a release by another execution removed the owner's claim")
	}
	if err := r.Release(ctx, "claim#rel", "exec-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.Claim(ctx, "claim#rel", "exec-2", t0, 15*time.Minute); err != nil || !ok {
		t.Fatalf("claim after release = %v, %v", ok, err)
	}
}

func TestRails_SlidingWindowRefusesTheTakeAfterMaxUntilASlotIsAWindowOld(t *testing.T) {
	r := newRails(t)
	ctx := context.Background()
	var taken []statetable.Slot
	for i := range 3 {
		sl, ok, err := r.TakeSlot(ctx, "blast#x", 3, t0.Add(time.Duration(i)*time.Minute), time.Hour)
		if err != nil || !ok {
			t.Fatalf("take %d = %v, %v", i+1, ok, err)
		}
		taken = append(taken, sl)
	}
	if _, ok, err := r.TakeSlot(ctx, "blast#x", 3, t0.Add(59*time.Minute), time.Hour); err != nil || ok {
		t.Fatalf("4th take within the hour = %v, %v; want refused", ok, err)
	}
	if c, err := r.InWindow(ctx, "blast#x", t0.Add(59*time.Minute), time.Hour); err != nil || c != 3 {
		t.Fatalf("in the window = %d, %v", c, err)
	}
	// The first slot frees exactly an hour after it was taken, and only it.
	if _, ok, err := r.TakeSlot(ctx, "blast#x", 3, t0.Add(time.Hour), time.Hour); err != nil || !ok {
		t.Fatalf("an hour after the first = %v, %v", ok, err)
	}
	if _, ok, err := r.TakeSlot(ctx, "blast#x", 3, t0.Add(time.Hour+30*time.Second), time.Hour); err != nil || ok {
		t.Fatalf("before the second frees = %v, %v; want refused", ok, err)
	}
	// A slot given back is free again at once; giving back a slot retaken since frees nothing.
	if err := r.GiveSlot(ctx, taken[2]); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.TakeSlot(ctx, "blast#x", 3, t0.Add(time.Hour+time.Minute), time.Hour); err != nil || !ok {
		t.Fatalf("take after give = %v, %v", ok, err)
	}
	before, _ := r.InWindow(ctx, "blast#x", t0.Add(time.Hour+time.Minute), time.Hour)
	if err := r.GiveSlot(ctx, taken[0]); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.InWindow(ctx, "blast#x", t0.Add(time.Hour+time.Minute), time.Hour); c != before || c != 2 {
		t.Fatalf("a stale give changed the window: %d in it, %d before", c, before)
	}
	// A lower limit counts only its slots; an absent window is empty.
	if _, ok, err := r.TakeSlot(ctx, "blast#x", 1, t0.Add(time.Hour+2*time.Minute), time.Hour); err != nil || ok {
		t.Fatalf("limit lowered to 1 = %v, %v; want refused", ok, err)
	}
	if c, err := r.InWindow(ctx, "blast#absent", t0, time.Hour); err != nil || c != 0 {
		t.Fatalf("absent window = %d, %v", c, err)
	}
}

// Callers racing for the last slots: conditional writes, so exactly max get one, whatever the
// interleaving (kumo serializes the writes as DynamoDB does per item).
func TestRails_SlidingWindowUnderConcurrentTakesGrantsExactlyMax(t *testing.T) {
	r := newRails(t)
	ctx := context.Background()
	const callers, max = 24, 5
	var mu sync.Mutex
	granted, refused := 0, 0
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			_, ok, err := r.TakeSlot(ctx, "blast#race", max, t0.Add(time.Duration(i)*time.Millisecond), time.Hour)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				// Every free slot taken by others three times in a row: the action fails closed.
				refused++
			case ok:
				granted++
			default:
				refused++
			}
		})
	}
	wg.Wait()
	if granted != max || granted+refused != callers {
		t.Errorf("granted %d, refused %d, want exactly %d granted", granted, refused, max)
	}
	if c, _ := r.InWindow(ctx, "blast#race", t0.Add(time.Second), time.Hour); c != max {
		t.Errorf("in the window: %d", c)
	}
}

func TestRails_UnconfiguredNamesTheVariable(t *testing.T) {
	var r *statetable.Rails
	if _, _, err := r.Claim(context.Background(), "k", "e", t0, time.Minute); err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) {
		t.Errorf("err = %v", err)
	}
}

// newAudit creates the audit table as the CDK app must: pk/sk, GSI byResource (resource, sk), TTL.
func newAudit(t *testing.T) *statetable.Audit {
	t.Helper()
	name := "guardbots-audit-" + t.Name()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	client := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(srv.URL)},
		func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	createAuditTable(t, client, name)
	return &statetable.Audit{Client: client, Name: name}
}

// createAuditTable creates the audit table's layout in kumo.
func createAuditTable(t *testing.T, client *dynamodb.Client, name string) {
	t.Helper()
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	if _, err := client.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{str(statetable.PartitionKey), str(statetable.AuditSortKey),
			str(statetable.AuditResourceKey)},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(statetable.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(statetable.AuditSortKey), KeyType: types.KeyTypeRange}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(statetable.AuditResourceGSI),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(statetable.AuditResourceKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(statetable.AuditSortKey), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		BillingMode: types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("kumo CreateTable %s: %v", name, err)
	}
}

func TestAudit_RecordsAreQueryableByFindingAndByResource(t *testing.T) {
	a := newAudit(t)
	ctx := context.Background()
	rec := func(finding, bot, id string, at time.Time) statetable.AuditRecord {
		return statetable.AuditRecord{FindingID: finding, FindingType: "Recon:EC2/PortProbeUnprotectedPort", Bot: bot,
			Execution: "arn:exec:1", Account: "111122223333", Region: "us-east-1", Kind: "Instance", ResourceIDs: []string{id},
			Status: "remediated", Before: map[string]string{"state": "running"}, After: map[string]string{"state": "stopped"}, Time: at}
	}
	for _, r := range []statetable.AuditRecord{
		rec("f1", "ec2_tag_instance", "i-1", t0), rec("f1", "ec2_stop_instance", "i-1", t0.Add(time.Second)),
		rec("f2", "ec2_stop_instance", "i-2", t0), rec("f3", "ec2_stop_instance", "i-1", t0.Add(time.Hour)),
	} {
		if err := a.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.ByFinding(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Bot != "ec2_tag_instance" || got[1].Bot != "ec2_stop_instance" {
		t.Fatalf("by finding f1 = %+v", got)
	}
	if got[1].Before["state"] != "running" || got[1].After["state"] != "stopped" || !got[1].Time.Equal(t0.Add(time.Second)) ||
		got[1].FindingType != "Recon:EC2/PortProbeUnprotectedPort" || got[1].Execution != "arn:exec:1" {
		t.Errorf("record = %+v", got[1])
	}
	byRes, err := a.ByResource(ctx, statetable.AuditResource("111122223333", "us-east-1", "Instance", "i-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(byRes) != 3 {
		t.Fatalf("by resource i-1 = %d records, want 3: %+v", len(byRes), byRes)
	}
}

func TestAudit_RecordExpiresAfterTheRetention(t *testing.T) {
	a := newAudit(t)
	a.Retention = 48 * time.Hour
	if err := a.Write(context.Background(), statetable.AuditRecord{FindingID: "f", Bot: "b", Status: "skipped", Time: t0}); err != nil {
		t.Fatal(err)
	}
	out, err := a.Client.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(a.Name),
		KeyConditionExpression:    aws.String("pk = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "finding#f"}}})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("query = %v, %v", out, err)
	}
	exp, ok := out.Items[0][statetable.TTLAttribute].(*types.AttributeValueMemberN)
	if !ok || exp.Value != "1772539200" { // t0 + 48h
		t.Errorf("expiresAt = %#v", out.Items[0][statetable.TTLAttribute])
	}
}

func TestParseRetention_DaysOrDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 365 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "48h": 48 * time.Hour} {
		if got, err := statetable.ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0d", "-1h", "year"} {
		if _, err := statetable.ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
}
