package bots

import "context"

// StateStore keeps what a bot must remember to undo its work (original security groups per ENI, the
// network ACL entries it added), in the orchestrator's DynamoDB state table — never only in tags on the
// resource, which are limited to 256 characters and editable by whoever controls the resource.
//
// Keys are chosen by the bot (e.g. "ec2_quarantine_instance#111122223333#us-east-1#i-0abc…"); values
// are the bot's own JSON documents.
type StateStore interface {
	// Put stores value under key, replacing any previous value.
	Put(ctx context.Context, key string, value []byte) error
	// Get returns the value under key; found is false when there is none.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Delete removes key (no error when absent).
	Delete(ctx context.Context, key string) error
}
