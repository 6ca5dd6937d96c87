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
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/statetable"
)

// quarantined is an env whose instance ec2_quarantine_instance has isolated.
func quarantined(t *testing.T) (*ec2test.ContainEnv, string) {
	t.Helper()
	e := ec2test.NewContainEnv(t)
	if res, err := bottest.Run(t, quarantineBot, e.Request(quarantineBot, false)); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("quarantine: %+v, %v", res, err)
	}
	return e, aws.ToString(e.Group(isolationGroupPrefix + e.VPC).GroupId)
}

var _ = bottest.RegisterContract(releaseBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e, _ := quarantined(t)
		return containWorld(e, releaseBot, stubs)
	},
	Again:    bots.StatusSkipped, // the first run deleted the record
	Deny:     "ec2:ModifyNetworkInterfaceAttribute",
	Throttle: "ec2:DescribeInstances",
})

func TestRelease_RestoresRecordedGroupsAndDeletesTheRecord(t *testing.T) {
	e, iso := quarantined(t)
	moves := len(e.Inst.Moves())
	res, err := bottest.Run(t, releaseBot, e.Request(releaseBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status %s (%s), want remediated", res.Status, res.Reason)
	}
	want := []string{"eni-0000000000000000a→" + e.Web, "eni-0000000000000000b→" + e.Web + "," + e.DB}
	if got := e.Inst.Moves()[moves:]; !slices.Equal(got, want) {
		t.Errorf("restores = %v, want %v", got, want)
	}
	if _, ok, _ := e.Store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)); ok {
		t.Error("record not deleted")
	}
	if res.Before["eni-0000000000000000a"] != iso || res.After["eni-0000000000000000b"] != e.Web+","+e.DB {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
	tagged := e.Tagged()[len(e.Tagged())-1]
	if !slices.ContainsFunc(tagged.Tags, func(tg ec2types.Tag) bool { return aws.ToString(tg.Value) == releaseBot }) {
		t.Errorf("instance not tagged by the release: %+v", tagged)
	}
}

func TestRelease_ENIChangedByOthersIsLeftAndReported(t *testing.T) {
	e, _ := quarantined(t)
	e.Inst.SetGroups("eni-0000000000000000b", e.DB)
	moves := len(e.Inst.Moves())
	res, err := bottest.Run(t, releaseBot, e.Request(releaseBot, false))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Inst.Moves()[moves:]; !slices.Equal(got, []string{"eni-0000000000000000a→" + e.Web}) {
		t.Errorf("restores = %v, want only the ENI still isolated", got)
	}
	if !slices.ContainsFunc(res.Changes, func(c string) bool {
		return strings.Contains(c, "eni-0000000000000000b was changed by someone else since the quarantine (now ["+e.DB+"])")
	}) {
		t.Errorf("changes %q do not report the ENI changed by others", res.Changes)
	}
}

func TestRelease_AllENIsRestoredByHandIsAlreadyDoneAndClearsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	e.Inst.SetGroups("eni-0000000000000000a", e.Web)
	e.Inst.SetGroups("eni-0000000000000000b", e.Web, e.DB)
	res, err := bottest.Run(t, releaseBot, e.Request(releaseBot, false))
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Fatalf("result %s %q, %v; want already-done", res.Status, res.Reason, err)
	}
	if _, ok, _ := e.Store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)); ok {
		t.Error("record kept")
	}
}

func TestRelease_MissingInstanceIsSkippedAndKeepsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	e.Inst.Gone = true
	res, err := bottest.Run(t, releaseBot, e.Request(releaseBot, false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "no longer exists") {
		t.Errorf("result %s %q, %v", res.Status, res.Reason, err)
	}
	if _, ok, _ := e.Store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)); !ok {
		t.Error("record deleted for a missing instance")
	}
}

func TestRelease_WithoutStateTableFailsNamingTheVariable(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	req := e.Request(releaseBot, false)
	req.State = nil
	if _, err := bottest.Run(t, releaseBot, req); err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) {
		t.Errorf("err = %v, want one naming %s", err, deployment.EnvStateTable)
	}
}

func TestRelease_AccessDeniedIsAFailedErrorAndKeepsTheRecord(t *testing.T) {
	e, _ := quarantined(t)
	_, err := bottest.Run(t, releaseBot, e.Request(releaseBot, false, bottest.StubError("ec2:ModifyNetworkInterfaceAttribute", "UnauthorizedOperation", "not authorized")))
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("err = %v, want Failed", err)
	}
	if _, ok, _ := e.Store.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)); !ok {
		t.Error("record deleted although nothing was restored")
	}
}

// The whole round trip through the real state table code against kumo's DynamoDB.
func TestRelease_RoundTripThroughStateTableOnKumo(t *testing.T) {
	e := ec2test.NewContainEnv(t)
	db := dynamodb.NewFromConfig(aws.Config{Region: bottest.Region, BaseEndpoint: aws.String(e.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	name := "state-" + e.VPC
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []dbtypes.AttributeDefinition{{AttributeName: aws.String(statetable.PartitionKey), AttributeType: dbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dbtypes.KeySchemaElement{{AttributeName: aws.String(statetable.PartitionKey), KeyType: dbtypes.KeyTypeHash}},
		BillingMode:          dbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	table := &statetable.Table{Client: db, Name: name}
	q := e.Request(quarantineBot, false)
	q.State = table
	if res, err := bottest.Run(t, quarantineBot, q); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("quarantine: %+v, %v", res, err)
	}
	r := e.Request(releaseBot, false)
	r.State = table
	if res, err := bottest.Run(t, releaseBot, r); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("release: %+v, %v", res, err)
	}
	if got := e.Inst.GroupsOf("eni-0000000000000000b"); !slices.Equal(got, []string{e.Web, e.DB}) {
		t.Errorf("ENI b on %v after the round trip, want its originals", got)
	}
	if _, ok, err := table.Get(context.Background(), quarantineKey(bottest.Account, bottest.Region, e.Inst.ID)); ok || err != nil {
		t.Errorf("record still there (%v, %v)", ok, err)
	}
}
