package statetable

import (
	"github.com/guardbots/guardbots/shared/deployment"

	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The audit trail is its own table (GUARDBOTS_AUDIT_TABLE), not the state table: it needs a sort key
// (the state table has only pk), a longer retention, and the bot Lambdas may only append to it
// (dynamodb:PutItem under attribute_not_exists), never delete, so a bot cannot erase its own traces.
//
//	pk         S  "finding#<finding id>"                       partition key: every action on a finding
//	sk         S  "<RFC 3339 nano time>#<bot>#<execution>"      sort key: in time order
//	resource   S  "<account>#<region>#<kind>#<id>"             partition key of GSI "byResource" (sort: sk)
//	expiresAt  N  epoch seconds, TTL (GUARDBOTS_AUDIT_RETENTION, default 365 days)
//	and the record's fields below (before/after as maps of strings).
const (
	AuditSortKey     = "sk"
	AuditResourceKey = "resource"
	AuditResourceGSI = "byResource"
)

// AuditRecord is one action's outcome: planned (dry-run), done, skipped or failed.
type AuditRecord struct {
	FindingID   string
	FindingType string
	MappingKey  string
	Execution   string
	Bot         string
	Role        string
	Impact      string
	Account     string
	Region      string
	Kind        string
	ResourceIDs []string
	Status      string
	Reason      string
	DryRun      bool
	Held        bool
	Changes     []string
	Before      map[string]string
	After       map[string]string
	Error       string
	// ApproverClaimed is the name an approver typed into their answer (APPROVE mode, or a blast-radius
	// hold): their claim, not an authenticated identity. Approval says where the execution history shows
	// that answer, and where the authenticated sender is (the SendTaskSuccess caller in CloudTrail).
	ApproverClaimed string
	Approval        string
	Time            time.Time
}

// ResourceKey is the GSI key of the record: the first resource (a finding with several buckets is
// indexed under its first; all of them are in resourceIds).
func (r AuditRecord) ResourceKey() string {
	id := ""
	if len(r.ResourceIDs) > 0 {
		id = r.ResourceIDs[0]
	}
	return AuditResource(r.Account, r.Region, r.Kind, id)
}

// AuditResource is the value of the resource attribute for a query by resource.
func AuditResource(account, region, kind, id string) string {
	return account + "#" + region + "#" + kind + "#" + id
}

// AuditAPI is the part of the DynamoDB client the audit trail uses.
type AuditAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Audit writes and reads the audit table.
type Audit struct {
	Client    AuditAPI
	Name      string
	Retention time.Duration // 0: deployment.DefaultAuditRetention
}

// Write appends rec. It never overwrites: two records with the same key are an error.
func (a *Audit) Write(ctx context.Context, rec AuditRecord) error {
	if a == nil || a.Client == nil || a.Name == "" {
		return errors.New("audit table is not configured (set " + deployment.EnvAuditTable + ")")
	}
	if rec.FindingID == "" || rec.Bot == "" || rec.Time.IsZero() {
		return fmt.Errorf("audit table %s: record needs a finding id, a bot and a time", a.Name)
	}
	item := rec.item()
	retention := a.Retention
	if retention <= 0 {
		retention = deployment.DefaultAuditRetention
	}
	item[PartitionKey] = s("finding#" + rec.FindingID)
	item[AuditSortKey] = s(rec.Time.UTC().Format(time.RFC3339Nano) + "#" + rec.Bot + "#" + rec.Execution)
	item[AuditResourceKey] = s(rec.ResourceKey())
	item[TTLAttribute] = n(rec.Time.Add(retention).Unix())
	if _, err := a.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(a.Name),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey},
	}); err != nil {
		return fmt.Errorf("audit table %s: write record of %s on finding %s: %w", a.Name, rec.Bot, rec.FindingID, err)
	}
	return nil
}

// ByFinding returns every record of a finding, oldest first.
func (a *Audit) ByFinding(ctx context.Context, findingID string) ([]AuditRecord, error) {
	return a.query(ctx, "", PartitionKey, "finding#"+findingID)
}

// ByResource returns every record of a resource (see AuditResource), oldest first.
func (a *Audit) ByResource(ctx context.Context, resource string) ([]AuditRecord, error) {
	return a.query(ctx, AuditResourceGSI, AuditResourceKey, resource)
}

func (a *Audit) query(ctx context.Context, index, attr, value string) ([]AuditRecord, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(a.Name),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s(value)},
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	var out []AuditRecord
	p := dynamodb.NewQueryPaginator(a.Client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit table %s: query %s = %q: %w", a.Name, attr, value, err)
		}
		for _, it := range page.Items {
			out = append(out, recordFrom(it))
		}
	}
	return out, nil
}

// ParseRetention reads GUARDBOTS_AUDIT_RETENTION's value: a Go duration ("8760h") or a number of
// days ("365d"); empty means the default.
func ParseRetention(v string) (time.Duration, error) {
	if v == "" {
		return deployment.DefaultAuditRetention, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(days)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s=%q: want a positive number of days (365d) or a duration (8760h)", deployment.EnvAuditRetention, v)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number of days (365d) or a duration (8760h)", deployment.EnvAuditRetention, v)
	}
	return d, nil
}

// item encodes the record's own attributes (the keys and expiry are added by Write).
func (r AuditRecord) item() map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"findingId": s(r.FindingID), "bot": s(r.Bot), "status": s(r.Status),
		"dryRun": &types.AttributeValueMemberBOOL{Value: r.DryRun}, "held": &types.AttributeValueMemberBOOL{Value: r.Held},
		"time": s(r.Time.UTC().Format(time.RFC3339Nano)),
	}
	for k, v := range map[string]string{"findingType": r.FindingType, "mappingKey": r.MappingKey, "execution": r.Execution,
		"role": r.Role, "impact": r.Impact, "account": r.Account, "region": r.Region, "resourceKind": r.Kind,
		"reason": r.Reason, "error": r.Error, "approverClaimed": r.ApproverClaimed, "approval": r.Approval} {
		if v != "" {
			it[k] = s(v)
		}
	}
	if len(r.ResourceIDs) > 0 {
		it["resourceIds"] = list(r.ResourceIDs)
	}
	if len(r.Changes) > 0 {
		it["changes"] = list(r.Changes)
	}
	// before and after are written even when empty, so a reader can tell "no state" from "not recorded".
	it["before"] = strMap(r.Before)
	it["after"] = strMap(r.After)
	return it
}

func recordFrom(it map[string]types.AttributeValue) AuditRecord {
	r := AuditRecord{
		FindingID: str(it["findingId"]), FindingType: str(it["findingType"]), MappingKey: str(it["mappingKey"]),
		Execution: str(it["execution"]), Bot: str(it["bot"]), Role: str(it["role"]), Impact: str(it["impact"]),
		Account: str(it["account"]), Region: str(it["region"]), Kind: str(it["resourceKind"]),
		Status: str(it["status"]), Reason: str(it["reason"]), Error: str(it["error"]),
		ApproverClaimed: str(it["approverClaimed"]), Approval: str(it["approval"]),
		ResourceIDs: strList(it["resourceIds"]), Changes: strList(it["changes"]),
		Before: fromStrMap(it["before"]), After: fromStrMap(it["after"]),
	}
	if b, ok := it["dryRun"].(*types.AttributeValueMemberBOOL); ok {
		r.DryRun = b.Value
	}
	if b, ok := it["held"].(*types.AttributeValueMemberBOOL); ok {
		r.Held = b.Value
	}
	r.Time, _ = time.Parse(time.RFC3339Nano, str(it["time"]))
	return r
}

func list(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = s(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func strList(v types.AttributeValue) []string {
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, e := range l.Value {
		out = append(out, str(e))
	}
	return out
}

func strMap(m map[string]string) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = s(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

func fromStrMap(v types.AttributeValue) map[string]string {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, e := range m.Value {
		out[k] = str(e)
	}
	return out
}
