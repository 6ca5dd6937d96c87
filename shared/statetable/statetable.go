// Package statetable is the orchestrator's DynamoDB state table: what a bot must remember to undo its
// work (original security groups per ENI, the network ACL entries it added). It implements
// bots.StateStore.
//
// Item layout (the CDK app creates the table with these names; keep them in sync):
//
//	pk         S  the bot's key (partition key)
//	value      B  the bot's own JSON document (a string value is read too)
//	updatedAt  S  RFC 3339 time of the last Put
//	expiresAt  N  optional, epoch seconds; the table's TTL attribute
//
// TTL deletion is clean-up only: DynamoDB deletes expired items up to days late, and a bot must never
// rely on an item being gone (or present) because of it. Undo records are written without expiry unless
// Table.TTL is set.
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

// Attribute names of the table. PartitionKey and TTLAttribute are part of the infrastructure contract.
const (
	PartitionKey     = "pk"
	TTLAttribute     = "expiresAt"
	ValueAttribute   = "value"
	UpdatedAttribute = "updatedAt"
)

// API is the part of the DynamoDB client the table uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Table stores bot state in one DynamoDB table.
type Table struct {
	Client API
	Name   string
	// TTL, when positive, sets expiresAt on every Put (clean-up of forgotten records only).
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Put stores value under key, replacing any previous value.
func (t *Table) Put(ctx context.Context, key string, value []byte) error {
	return t.put(ctx, key, value, time.Time{})
}

// PutExpiring stores value under key until expires (the TTL attribute), whatever the table's TTL:
// clean-up only, as for every TTL (bots.ExpiringStore).
func (t *Table) PutExpiring(ctx context.Context, key string, value []byte, expires time.Time) error {
	if expires.IsZero() {
		return fmt.Errorf("state table %s: put %q: no expiry", t.Name, key)
	}
	return t.put(ctx, key, value, expires)
}

func (t *Table) put(ctx context.Context, key string, value []byte, expires time.Time) error {
	if err := t.check(key); err != nil {
		return err
	}
	now := t.now()
	item := map[string]types.AttributeValue{
		PartitionKey:     &types.AttributeValueMemberS{Value: key},
		ValueAttribute:   &types.AttributeValueMemberB{Value: value},
		UpdatedAttribute: &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339)},
	}
	if expires.IsZero() && t.TTL > 0 {
		expires = now.Add(t.TTL)
	}
	if !expires.IsZero() {
		item[TTLAttribute] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)}
	}
	if _, err := t.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.Name), Item: item}); err != nil {
		return fmt.Errorf("state table %s: put %q: %w", t.Name, key, err)
	}
	return nil
}

// Get returns the value under key; found is false when there is none. The read is strongly consistent:
// a release that runs right after a quarantine must see the record it wrote.
func (t *Table) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := t.check(key); err != nil {
		return nil, false, err
	}
	out, err := t.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.Name),
		Key:            t.key(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, fmt.Errorf("state table %s: get %q: %w", t.Name, key, err)
	}
	if len(out.Item) == 0 {
		return nil, false, nil
	}
	switch v := out.Item[ValueAttribute].(type) {
	case *types.AttributeValueMemberB:
		return v.Value, true, nil
	case *types.AttributeValueMemberS:
		return []byte(v.Value), true, nil
	case nil:
		return nil, false, fmt.Errorf("state table %s: item %q has no %s attribute", t.Name, key, ValueAttribute)
	default:
		return nil, false, fmt.Errorf("state table %s: item %q: %s is a %T, want binary or string", t.Name, key, ValueAttribute, v)
	}
}

// Delete removes key; deleting an absent key is not an error.
func (t *Table) Delete(ctx context.Context, key string) error {
	if err := t.check(key); err != nil {
		return err
	}
	if _, err := t.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(t.Name), Key: t.key(key)}); err != nil {
		return fmt.Errorf("state table %s: delete %q: %w", t.Name, key, err)
	}
	return nil
}

func (t *Table) key(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PartitionKey: &types.AttributeValueMemberS{Value: key}}
}

func (t *Table) check(key string) error {
	if t == nil || t.Client == nil || t.Name == "" {
		return errors.New("state table is not configured (set " + deployment.EnvStateTable + ")")
	}
	if key == "" {
		return fmt.Errorf("state table %s: empty key", t.Name)
	}
	return nil
}

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// ScanAPI is the DynamoDB call ScanPrefix makes.
type ScanAPI interface {
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ScanPrefix returns every value whose key starts with prefix, by key. A Scan reads the whole table (the
// claims, counters and undo records beside them: a small table), consistently, so a record written
// just before is seen.
func ScanPrefix(ctx context.Context, client ScanAPI, table, prefix string) (map[string][]byte, error) {
	if client == nil || table == "" {
		return nil, errors.New("state table is not configured (set " + deployment.EnvStateTable + ")")
	}
	out := map[string][]byte{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(#pk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": PartitionKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":prefix": &types.AttributeValueMemberS{Value: prefix}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("state table %s: scan %q: %w", table, prefix, err)
		}
		for _, item := range page.Items {
			k, ok := item[PartitionKey].(*types.AttributeValueMemberS)
			if !ok || !strings.HasPrefix(k.Value, prefix) {
				continue
			}
			switch v := item[ValueAttribute].(type) {
			case *types.AttributeValueMemberB:
				out[k.Value] = v.Value
			case *types.AttributeValueMemberS:
				out[k.Value] = []byte(v.Value)
			}
		}
	}
	return out, nil
}
