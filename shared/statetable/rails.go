package statetable

import (
	"github.com/guardbots/guardbots/shared/deployment"

	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
//	blast#<account>                                  blast-radius sliding window per account (Rails.TakeSlot)
//	blast#global                                     the same for every account
//	  s0 … s<max-1>  N  epoch ms each slot was last taken (absent: never)
//	  expiresAt      N  a day after the last take (clean-up only)
//
// expiresAt is both the TTL attribute and the claim's validity: the conditional writes compare it with
// the caller's clock, because TTL deletion lags by up to days and must never decide anything.
const (
	ExecutionAttribute = "execution"
	StateAttribute     = "state"
	ClaimedAttribute   = "claimedAt"
	DoneAttribute      = "doneAt"
	// SlotPrefix names a sliding window's slot attributes: s0, s1, …
	SlotPrefix = "s"
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

// Slot is one slot of a sliding window, as TakeSlot took it.
type Slot struct {
	Key   string
	Index int
	// Stamp is when the slot was taken, epoch ms: GiveSlot frees it only while it still holds this.
	Stamp int64
}

// slotTakeAttempts bounds how often TakeSlot reads the window again after others took the slots it saw
// free: a window that busy for that long is reported as an error (the action fails closed and is retried).
const slotTakeAttempts = 3

// TakeSlot counts one action in the sliding window under key: at most max actions in any span of
// length window. The window is one item with a slot per allowed action, each holding when it was last
// taken; a slot is free when it was never taken or was taken at least window ago. TakeSlot reads the
// item (strongly consistent) to see which slots are free, then takes one with a conditional write that
// succeeds only if the slot is still free — two callers can never take the same slot, and no count is
// read, changed and written back. taken is false when every slot was taken less than window ago.
//
// Why this is exact: a slot is taken at most once in any span shorter than window, so max slots bound
// the actions in it. A counter per clock hour (what this replaces) allowed max at 10:59 and max again
// at 11:00.
func (r *Rails) TakeSlot(ctx context.Context, key string, max int, now time.Time, window time.Duration) (Slot, bool, error) {
	if err := r.check(key); err != nil {
		return Slot{}, false, err
	}
	if max < 1 || window <= 0 {
		return Slot{}, false, fmt.Errorf("state table %s: window %q: want at least one slot and a positive length", r.Name, key)
	}
	stamp, cutoff := now.UnixMilli(), now.Add(-window).UnixMilli()
	for range slotTakeAttempts {
		slots, err := r.slots(ctx, key)
		if err != nil {
			return Slot{}, false, err
		}
		free := freeSlots(slots, max, cutoff)
		if len(free) == 0 {
			return Slot{}, false, nil
		}
		for _, i := range free {
			attr := slotAttribute(i)
			_, err := r.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                aws.String(r.Name),
				Key:                      map[string]types.AttributeValue{PartitionKey: s(key)},
				UpdateExpression:         aws.String("SET #slot = :now, #exp = :exp"),
				ConditionExpression:      aws.String("attribute_not_exists(#slot) OR #slot <= :cutoff"),
				ExpressionAttributeNames: map[string]string{"#slot": attr, "#exp": TTLAttribute},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":now": n(stamp), ":cutoff": n(cutoff), ":exp": n(now.Add(window).Add(24 * time.Hour).Unix()),
				},
			})
			if err == nil {
				return Slot{Key: key, Index: i, Stamp: stamp}, true, nil
			}
			if !conditionFailed(err) {
				return Slot{}, false, fmt.Errorf("state table %s: take a slot of %q: %w", r.Name, key, err)
			}
			// Another caller took it between the read and the write: try the next free one.
		}
	}
	return Slot{}, false, fmt.Errorf("state table %s: window %q: every free slot was taken by others %d times in a row", r.Name, key, slotTakeAttempts)
}

// GiveSlot frees a slot TakeSlot took (an action that was not run, or changed nothing), unless it was
// taken again since (it then holds another time: nothing of ours to give back).
func (r *Rails) GiveSlot(ctx context.Context, slot Slot) error {
	if err := r.check(slot.Key); err != nil {
		return err
	}
	_, err := r.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.Name),
		Key:                       map[string]types.AttributeValue{PartitionKey: s(slot.Key)},
		UpdateExpression:          aws.String("REMOVE #slot"),
		ConditionExpression:       aws.String("#slot = :stamp"),
		ExpressionAttributeNames:  map[string]string{"#slot": slotAttribute(slot.Index)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stamp": n(slot.Stamp)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("state table %s: give back slot %d of %q: %w", r.Name, slot.Index, slot.Key, err)
	}
	return nil
}

// InWindow counts the actions in the window under key at now: slots taken less than window ago.
func (r *Rails) InWindow(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	if err := r.check(key); err != nil {
		return 0, err
	}
	slots, err := r.slots(ctx, key)
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-window).UnixMilli()
	count := 0
	for _, at := range slots {
		if at > cutoff {
			count++
		}
	}
	return count, nil
}

// slots reads the window's slot times, by index.
func (r *Rails) slots(ctx context.Context, key string) (map[int]int64, error) {
	out, err := r.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Name),
		Key: map[string]types.AttributeValue{PartitionKey: s(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("state table %s: read window %q: %w", r.Name, key, err)
	}
	slots := map[int]int64{}
	for name, v := range out.Item {
		idx, ok := strings.CutPrefix(name, SlotPrefix)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		nv, isN := v.(*types.AttributeValueMemberN)
		if err != nil || !isN {
			continue
		}
		at, err := strconv.ParseInt(nv.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("state table %s: window %q: slot %s is %q", r.Name, key, name, nv.Value)
		}
		slots[i] = at
	}
	return slots, nil
}

// freeSlots are the indexes below max free at cutoff, the longest free first (spreading takes over the
// slots), in a stable order.
func freeSlots(slots map[int]int64, max int, cutoff int64) []int {
	var free []int
	for i := range max {
		if at, taken := slots[i]; !taken || at <= cutoff {
			free = append(free, i)
		}
	}
	sort.SliceStable(free, func(a, b int) bool { return slots[free[a]] < slots[free[b]] })
	return free
}

func slotAttribute(i int) string { return SlotPrefix + strconv.Itoa(i) }

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
