package statetable_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/statetable"
)

var (
	_ bots.StateStore    = (*statetable.Table)(nil)
	_ bots.ExpiringStore = (*statetable.Table)(nil)
)

// newTable starts kumo in-process and creates the table as the CDK app does (pk, TTL on expiresAt).
// kumo's storage is shared by every server in the process, so each test gets its own table name.
func newTable(t *testing.T) (*statetable.Table, *dynamodb.Client) {
	t.Helper()
	tableName := "guardbots-state-" + t.Name()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	client := dynamodb.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	}, func(o *dynamodb.Options) {
		// kumo's responses do not carry DynamoDB's CRC32 header value the SDK expects.
		o.DisableValidateResponseChecksum = true
	})
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(tableName),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(statetable.PartitionKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(statetable.PartitionKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("kumo CreateTable: %v", err)
	}
	if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(tableName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(statetable.TTLAttribute), Enabled: aws.Bool(true)},
	}); err != nil {
		t.Fatalf("kumo UpdateTimeToLive: %v", err)
	}
	return &statetable.Table{Client: client, Name: tableName}, client
}

func TestTable_PutGetDeleteRoundTrip(t *testing.T) {
	tab, _ := newTable(t)
	ctx := context.Background()
	key := "quarantine#111122223333#us-east-1#i-0abc"
	if err := tab.Put(ctx, key, []byte(`{"enis":[]}`)); err != nil {
		t.Fatal(err)
	}
	got, found, err := tab.Get(ctx, key)
	if err != nil || !found || string(got) != `{"enis":[]}` {
		t.Fatalf("Get = %q, %v, %v; want the value put", got, found, err)
	}
	if err := tab.Put(ctx, key, []byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := tab.Get(ctx, key); string(got) != `{"v":2}` {
		t.Errorf("after a second Put, Get = %q, want the new value", got)
	}
	if err := tab.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, found, err := tab.Get(ctx, key); err != nil || found || got != nil {
		t.Errorf("after Delete, Get = %q, %v, %v; want not found", got, found, err)
	}
}

func TestTable_GetMissingKeyIsNotFound(t *testing.T) {
	tab, _ := newTable(t)
	if _, found, err := tab.Get(context.Background(), "nothing-here"); err != nil || found {
		t.Errorf("Get = found %v, err %v; want not found and no error", found, err)
	}
}

func TestTable_DeleteMissingKeyIsNotAnError(t *testing.T) {
	tab, _ := newTable(t)
	if err := tab.Delete(context.Background(), "nothing-here"); err != nil {
		t.Errorf("Delete of an absent key: %v", err)
	}
}

func TestTable_BinaryValueSurvivesUnchanged(t *testing.T) {
	tab, _ := newTable(t)
	ctx := context.Background()
	val := []byte{0, 1, 2, 0xff, '"', '\n'}
	if err := tab.Put(ctx, "bin", val); err != nil {
		t.Fatal(err)
	}
	if got, _, err := tab.Get(ctx, "bin"); err != nil || !bytes.Equal(got, val) {
		t.Errorf("Get = %v, %v; want %v", got, err, val)
	}
}

func TestTable_ItemCarriesUpdatedAtAndExpiresAtOnlyWithTTL(t *testing.T) {
	tab, client := newTable(t)
	tableName := tab.Name
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tab.Now = func() time.Time { return now }
	ctx := context.Background()
	raw := func(key string) map[string]types.AttributeValue {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tableName),
			Key: map[string]types.AttributeValue{statetable.PartitionKey: &types.AttributeValueMemberS{Value: key}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}

	if err := tab.Put(ctx, "no-ttl", []byte("x")); err != nil {
		t.Fatal(err)
	}
	item := raw("no-ttl")
	if u, ok := item[statetable.UpdatedAttribute].(*types.AttributeValueMemberS); !ok || u.Value != "2026-03-01T12:00:00Z" {
		t.Errorf("updatedAt = %#v", item[statetable.UpdatedAttribute])
	}
	if _, ok := item[statetable.TTLAttribute]; ok {
		t.Errorf("expiresAt set without a TTL: undo records must not expire by default")
	}

	tab.TTL = 48 * time.Hour
	if err := tab.Put(ctx, "ttl", []byte("x")); err != nil {
		t.Fatal(err)
	}
	exp, ok := raw("ttl")[statetable.TTLAttribute].(*types.AttributeValueMemberN)
	if want := strconv.FormatInt(now.Add(48*time.Hour).Unix(), 10); !ok || exp.Value != want {
		t.Errorf("expiresAt = %#v, want N %s", raw("ttl")[statetable.TTLAttribute], want)
	}
}

func TestTable_StringValueIsReadToo(t *testing.T) {
	tab, client := newTable(t)
	ctx := context.Background()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tab.Name), Item: map[string]types.AttributeValue{
		statetable.PartitionKey: &types.AttributeValueMemberS{Value: "s"},
		"value":                 &types.AttributeValueMemberS{Value: `{"by":"hand"}`},
	}}); err != nil {
		t.Fatal(err)
	}
	if got, found, err := tab.Get(ctx, "s"); err != nil || !found || string(got) != `{"by":"hand"}` {
		t.Errorf("Get = %q, %v, %v", got, found, err)
	}
}

func TestTable_MissingTableIsAnErrorNamingIt(t *testing.T) {
	tab, _ := newTable(t)
	tab.Name = "no-such-table"
	err := tab.Put(context.Background(), "k", []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "no-such-table") {
		t.Errorf("err = %v, want an error naming the table", err)
	}
}

func TestTable_UnconfiguredTableNamesTheVariable(t *testing.T) {
	var tab *statetable.Table
	_, _, err := tab.Get(context.Background(), "k")
	if err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) {
		t.Errorf("err = %v, want one naming %s", err, deployment.EnvStateTable)
	}
	if err := (&statetable.Table{}).Delete(context.Background(), "k"); err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) {
		t.Errorf("err = %v", err)
	}
}

// Records written with their own expiry carry it in the TTL attribute, and a scan by prefix finds them
// and nothing else (kumo's DynamoDB).
func TestTable_PutExpiringAndScanPrefix(t *testing.T) {
	tbl, client := newTable(t)
	ctx := context.Background()
	expires := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for k, v := range map[string]string{"iam-deny#a": "1", "iam-deny#b": "2", "claim#x": "3"} {
		if err := tbl.PutExpiring(ctx, k, []byte(v), expires); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl.Name),
		Key: map[string]types.AttributeValue{statetable.PartitionKey: &types.AttributeValueMemberS{Value: "iam-deny#a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := out.Item[statetable.TTLAttribute].(*types.AttributeValueMemberN); !ok || n.Value != strconv.FormatInt(expires.Unix(), 10) {
		t.Errorf("TTL attribute %v, want %d", out.Item[statetable.TTLAttribute], expires.Unix())
	}
	got, err := statetable.ScanPrefix(ctx, client, tbl.Name, "iam-deny#")
	if err != nil || len(got) != 2 || string(got["iam-deny#a"]) != "1" || string(got["iam-deny#b"]) != "2" {
		t.Errorf("scan = %v, %v", got, err)
	}
	if err := tbl.PutExpiring(ctx, "k", nil, time.Time{}); err == nil {
		t.Error("a record without an expiry was accepted")
	}
	if _, err := statetable.ScanPrefix(ctx, nil, "", "x"); err == nil {
		t.Error("an unconfigured table scanned")
	}
}
