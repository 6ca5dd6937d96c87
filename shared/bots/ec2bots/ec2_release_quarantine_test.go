package ec2bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/statetable"
)

const releaseBot = "ec2_release_quarantine"

// quarantined is a containEnv whose instance ec2_quarantine_instance has isolated.
func quarantined(t *testing.T) (*containEnv, string) {
	t.Helper()
	e := newContainEnv(t)
	if res, err := bottest.Run(t, quarantineBot, e.request(quarantineBot, false)); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("quarantine: %+v, %v", res, err)
	}
	return e, aws.ToString(e.group(isolationGroupPrefix + e.vpc).GroupId)
}

func TestRelease_RestoresRecordedGroupsAndDeletesTheRecord(t *testing.T) {
	e, iso := quarantined(t)
	moves := len(e.inst.moves())
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status %s (%s), want remediated", res.Status, res.Reason)
	}
	want := []string{"eni-0000000000000000a→" + e.web, "eni-0000000000000000b→" + e.web + "," + e.db}
	if got := e.inst.moves()[moves:]; !slices.Equal(got, want) {
		t.Errorf("restores = %v, want %v", got, want)
	}
	if _, ok, _ := e.store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id)); ok {
		t.Error("record not deleted")
	}
	if res.Before["eni-0000000000000000a"] != iso || res.After["eni-0000000000000000b"] != e.web+","+e.db {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
	tagged := e.tags[len(e.tags)-1]
	if !slices.ContainsFunc(tagged.Tags, func(tg ec2types.Tag) bool { return aws.ToString(tg.Value) == releaseBot }) {
		t.Errorf("instance not tagged by the release: %+v", tagged)
	}
}

func TestRelease_ENIChangedByOthersIsLeftAndReported(t *testing.T) {
	e, _ := quarantined(t)
	e.inst.setGroups("eni-0000000000000000b", e.db)
	moves := len(e.inst.moves())
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.inst.moves()[moves:]; !slices.Equal(got, []string{"eni-0000000000000000a→" + e.web}) {
		t.Errorf("restores = %v, want only the ENI still isolated", got)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool {
		return strings.Contains(c, "eni-0000000000000000b was changed by someone else since the quarantine (now ["+e.db+"])")
	}) {
		t.Errorf("changes %q do not report the ENI changed by others", res.Changes)
	}
}

func TestRelease_SecondRunIsSkippedForNoRecord(t *testing.T) {
	e, _ := quarantined(t)
	if _, err := bottest.Run(t, releaseBot, e.request(releaseBot, false)); err != nil {
		t.Fatal(err)
	}
	moves := len(e.inst.moves())
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no quarantine record for "+e.inst.id) {
		t.Errorf("second release = %s %q, %v; want skipped for no record", res.Status, res.Reason, err)
	}
	if len(e.inst.moves()) != moves {
		t.Error("second release changed an ENI")
	}
}

func TestRelease_AllENIsRestoredByHandIsAlreadyDoneAndClearsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	e.inst.setGroups("eni-0000000000000000a", e.web)
	e.inst.setGroups("eni-0000000000000000b", e.web, e.db)
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, false))
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Fatalf("result %s %q, %v; want already-done", res.Status, res.Reason, err)
	}
	if _, ok, _ := e.store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id)); ok {
		t.Error("record kept")
	}
}

func TestRelease_DryRunChangesNothing(t *testing.T) {
	e, iso := quarantined(t)
	moves, record := len(e.inst.moves()), e.store.snapshot()
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, true))
	if err != nil || res.Status != bots.StatusDryRun {
		t.Fatalf("result %+v, %v; want dry-run", res, err)
	}
	if want := "would move eni-0000000000000000a from " + iso + " back to [" + e.web + "]"; !slices.Contains(res.Changes, want) {
		t.Errorf("plan %q lacks %q", res.Changes, want)
	}
	if len(e.inst.moves()) != moves || len(e.store.snapshot()) != len(record) {
		t.Error("dry run changed an ENI or the record")
	}
}

func TestRelease_MissingInstanceIsSkippedAndKeepsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	e.inst.gone = true
	res, err := bottest.Run(t, releaseBot, e.request(releaseBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no longer exists") {
		t.Errorf("result %s %q, %v", res.Status, res.Reason, err)
	}
	if _, ok, _ := e.store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id)); !ok {
		t.Error("record deleted for a missing instance")
	}
}

func TestRelease_WithoutStateTableFailsNamingTheVariable(t *testing.T) {
	e := newContainEnv(t)
	req := e.request(releaseBot, false)
	req.State = nil
	if _, err := bottest.Run(t, releaseBot, req); err == nil || !strings.Contains(err.Error(), statetable.EnvTable) {
		t.Errorf("err = %v, want one naming %s", err, statetable.EnvTable)
	}
}

func TestRelease_AccessDeniedIsAFailedErrorAndKeepsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	_, err := bottest.Run(t, releaseBot, e.request(releaseBot, false, bottest.StubError("ec2:ModifyNetworkInterfaceAttribute", "UnauthorizedOperation", "not authorized")))
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("err = %v, want Failed", err)
	}
	if _, ok, _ := e.store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id)); !ok {
		t.Error("record deleted although nothing was restored")
	}
}

func TestRelease_ThrottlingIsAThrottledError(t *testing.T) {
	e, _ := quarantined(t)
	_, err := bottest.Run(t, releaseBot, e.request(releaseBot, false, bottest.StubError("ec2:DescribeInstances", "RequestLimitExceeded", "Request limit exceeded.")))
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

// The whole round trip through the real state table code against kumo's DynamoDB.
func TestRelease_RoundTripThroughStateTableOnKumo(t *testing.T) {
	e := newContainEnv(t)
	db := dynamodb.NewFromConfig(aws.Config{Region: bottest.Region, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	name := "state-" + e.vpc
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String(statetable.PartitionKey), AttributeType: dbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String(statetable.PartitionKey), KeyType: dbtypes.KeyTypeHash}},
		BillingMode:          dbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	table := &statetable.Table{Client: db, Name: name}
	q := e.request(quarantineBot, false)
	q.State = table
	if res, err := bottest.Run(t, quarantineBot, q); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("quarantine: %+v, %v", res, err)
	}
	r := e.request(releaseBot, false)
	r.State = table
	if res, err := bottest.Run(t, releaseBot, r); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("release: %+v, %v", res, err)
	}
	if got := e.inst.groupsOf("eni-0000000000000000b"); !slices.Equal(got, []string{e.web, e.db}) {
		t.Errorf("ENI b on %v after the round trip, want its originals", got)
	}
	if _, ok, err := table.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.inst.id)); ok || err != nil {
		t.Errorf("record still there (%v, %v)", ok, err)
	}
}
