package statetable

import (
	"github.com/guardbots/guardbots/shared/deployment"

	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The safety rails' items live in the state table beside the bots' undo records, told apart by the
// prefix of pk:
//
//	claim#<account>#<finding id>#<bot>#<resource>   duplicate suppression (Rails.Claim)
//	  execution  S  the execution ARN that owns the claim
//	  state      S  "in-progress" or "done"
//	  claimedAt  S  RFC 3339, when the owner claimed it
//	  doneAt     S  RFC 3339, when the owner finished
//	  expiresAt  N  epoch seconds: the lease end while in-progress, the window end once done
//	blast#<account>#<yyyy-mm-ddThh>                 blast-radius counter per account and hour (Rails.Take)
//	blast#global#<yyyy-mm-ddThh>                     the same for every account
//	  n          N  actions counted
//	  expiresAt  N  a day after the hour (clean-up only)
//
// expiresAt is both the TTL attribute and the claim's validity: the conditional writes compare it with
// the caller's clock, because TTL deletion lags by up to days and must never decide anything.
const (
	ExecutionAttribute = "execution"
	StateAttribute     = "state"
	ClaimedAttribute   = "claimedAt"
	DoneAttribute      = "doneAt"
	CountAttribute     = "n"
)

// Claim states.
const (
	ClaimInProgress = "in-progress"
	ClaimDone       = "done"
)

// RailsAPI is the part of the DynamoDB client the rails use.
type RailsAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Rails holds the duplicate-suppression claims and blast-radius counters in the state table.
type Rails struct {
	Client RailsAPI
	Name   string
}

// Claim is a duplicate-suppression claim as stored.
type Claim struct {
	Execution string
	State     string
	ClaimedAt time.Time
	DoneAt    time.Time
	ExpiresAt time.Time
}

// Claim takes key for execution, in-progress until now+lease, when no claim exists, the existing one has
// expired (a finished window or an abandoned lease), or execution already owns it (a Step Functions
// retry of the same execution). granted is false when another execution holds a live claim; holder is
// that claim then.
func (r *Rails) Claim(ctx context.Context, key, execution string, now time.Time, lease time.Duration) (holder Claim, granted bool, err error) {
	if err := r.check(key); err != nil {
		return Claim{}, false, err
	}
	if execution == "" {
		return Claim{}, false, fmt.Errorf("state table %s: claim %q: no execution id to own it", r.Name, key)
	}
	// A claim can vanish between the refused write and the read of its holder (released by its owner):
	// try again a few times rather than report a holder that does not exist.
	for range 3 {
		_, err := r.Client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(r.Name),
			Item: map[string]types.AttributeValue{
				PartitionKey:       s(key),
				ExecutionAttribute: s(execution),
				StateAttribute:     s(ClaimInProgress),
				ClaimedAttribute:   s(now.UTC().Format(time.RFC3339)),
				TTLAttribute:       n(now.Add(lease).Unix()),
			},
			ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp < :now OR #exec = :me"),
			ExpressionAttributeNames: map[string]string{
				"#pk": PartitionKey, "#exp": TTLAttribute, "#exec": ExecutionAttribute,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now.Unix()), ":me": s(execution)},
		})
		if err == nil {
			return Claim{}, true, nil
		}
		if !conditionFailed(err) {
			return Claim{}, false, fmt.Errorf("state table %s: claim %q for %s: %w", r.Name, key, execution, err)
		}
		c, found, err := r.read(ctx, key)
		if err != nil {
			return Claim{}, false, err
		}
		if found {
			return c, false, nil
		}
	}
	return Claim{}, false, fmt.Errorf("state table %s: claim %q: refused, but no holder could be read", r.Name, key)
}

// Finish marks execution's claim done: no other execution may act on key until now+window.
func (r *Rails) Finish(ctx context.Context, key, execution string, now time.Time, window time.Duration) error {
	if err := r.check(key); err != nil {
		return err
	}
	_, err := r.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(r.Name),
		Key:                 map[string]types.AttributeValue{PartitionKey: s(key)},
		UpdateExpression:    aws.String("SET #state = :done, #doneAt = :at, #exp = :exp"),
		ConditionExpression: aws.String("#exec = :me"),
		ExpressionAttributeNames: map[string]string{
			"#state": StateAttribute, "#doneAt": DoneAttribute, "#exp": TTLAttribute, "#exec": ExecutionAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": s(ClaimDone), ":at": s(now.UTC().Format(time.RFC3339)), ":exp": n(now.Add(window).Unix()), ":me": s(execution),
		},
	})
	if err != nil {
		if conditionFailed(err) {
			return fmt.Errorf("state table %s: finish claim %q: no longer owned by %s (its lease expired and another execution took it)", r.Name, key, execution)
		}
		return fmt.Errorf("state table %s: finish claim %q: %w", r.Name, key, err)
	}
	return nil
}

// Release deletes execution's claim so the next delivery may act. A claim another execution owns is
// left alone (not an error: there is nothing of ours to release).
func (r *Rails) Release(ctx context.Context, key, execution string) error {
	if err := r.check(key); err != nil {
		return err
	}
	_, err := r.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(r.Name),
		Key:                       map[string]types.AttributeValue{PartitionKey: s(key)},
		ConditionExpression:       aws.String("#exec = :me"),
		ExpressionAttributeNames:  map[string]string{"#exec": ExecutionAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": s(execution)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state table %s: release claim %q: %w", r.Name, key, err)
	}
	return nil
}

// Take adds one to the counter under key unless it already reached max, atomically (one conditional
// ADD): taken is false when the limit is reached. The item expires (clean-up only) at expires.
func (r *Rails) Take(ctx context.Context, key string, max int, expires time.Time) (taken bool, err error) {
	if err := r.check(key); err != nil {
		return false, err
	}
	_, err = r.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(r.Name),
		Key:                      map[string]types.AttributeValue{PartitionKey: s(key)},
		UpdateExpression:         aws.String("ADD #n :one SET #exp = :exp"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :max"),
		ExpressionAttributeNames: map[string]string{"#n": CountAttribute, "#exp": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": n(1), ":max": n(int64(max)), ":exp": n(expires.Unix()),
		},
	})
	if err != nil {
		if conditionFailed(err) {
			return false, nil
		}
		return false, fmt.Errorf("state table %s: count %q: %w", r.Name, key, err)
	}
	return true, nil
}

// Give returns one taken by Take (an action that was not run, or changed nothing).
func (r *Rails) Give(ctx context.Context, key string) error {
	if err := r.check(key); err != nil {
		return err
	}
	_, err := r.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.Name),
		Key:                       map[string]types.AttributeValue{PartitionKey: s(key)},
		UpdateExpression:          aws.String("ADD #n :minus"),
		ConditionExpression:       aws.String("#n > :zero"),
		ExpressionAttributeNames:  map[string]string{"#n": CountAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":zero": n(0)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state table %s: uncount %q: %w", r.Name, key, err)
	}
	return nil
}

// Count returns the counter under key (0 when absent).
func (r *Rails) Count(ctx context.Context, key string) (int, error) {
	if err := r.check(key); err != nil {
		return 0, err
	}
	out, err := r.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Name),
		Key: map[string]types.AttributeValue{PartitionKey: s(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("state table %s: read counter %q: %w", r.Name, key, err)
	}
	v, ok := out.Item[CountAttribute].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	c, err := strconv.Atoi(v.Value)
	if err != nil {
		return 0, fmt.Errorf("state table %s: counter %q is %q: %w", r.Name, key, v.Value, err)
	}
	return c, nil
}

func (r *Rails) read(ctx context.Context, key string) (Claim, bool, error) {
	out, err := r.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Name),
		Key: map[string]types.AttributeValue{PartitionKey: s(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Claim{}, false, fmt.Errorf("state table %s: read claim %q: %w", r.Name, key, err)
	}
	if len(out.Item) == 0 {
		return Claim{}, false, nil
	}
	c := Claim{Execution: str(out.Item[ExecutionAttribute]), State: str(out.Item[StateAttribute])}
	c.ClaimedAt, _ = time.Parse(time.RFC3339, str(out.Item[ClaimedAttribute]))
	c.DoneAt, _ = time.Parse(time.RFC3339, str(out.Item[DoneAttribute]))
	if v, ok := out.Item[TTLAttribute].(*types.AttributeValueMemberN); ok {
		if sec, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			c.ExpiresAt = time.Unix(sec, 0).UTC()
		}
	}
	return c, true, nil
}

func (r *Rails) check(key string) error {
	if r == nil || r.Client == nil || r.Name == "" {
		return errors.New("state table is not configured for the safety rails (set " + deployment.EnvStateTable + ")")
	}
	if key == "" {
		return fmt.Errorf("state table %s: empty key", r.Name)
	}
	return nil
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func str(v types.AttributeValue) string {
	if sv, ok := v.(*types.AttributeValueMemberS); ok {
		return sv.Value
	}
	return ""
}
