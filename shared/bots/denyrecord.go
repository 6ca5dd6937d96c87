package bots

import (
	"context"
	"strings"
	"time"
)

// DenyRecord is the state table's record of one inline deny policy an IAM deny bot (iam_deny_session,
// iam_deny_source_ip) wrote on a role or a user: what its undo bot removes, and what the scheduled
// clean-up plans from (the verify step reads the records whose deny has expired and signs, per
// principal, the deny bot's pruneOnly action). The statement on the principal says when it expires as
// well, so a lost record never keeps a deny forever.
type DenyRecord struct {
	Bot         string `json:"bot"`
	FindingID   string `json:"findingId"`
	FindingType string `json:"findingType"`
	Execution   string `json:"execution"`
	Account     string `json:"account"`
	Region      string `json:"region"`
	Partition   string `json:"partition"`
	// Principal is "role" or "user"; Name its name and ARN its ARN.
	Principal string `json:"principal"`
	Name      string `json:"name"`
	ARN       string `json:"arn"`
	// Policy is the inline policy's name, Document its document as written.
	Policy    string    `json:"policy"`
	Document  string    `json:"document"`
	AddedAt   time.Time `json:"addedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PruneOnlyParam is the parameter of the bots that can remove the expired denies of a principal and add
// nothing (the deny bots): the scheduled clean-up runs them with it.
const PruneOnlyParam = "pruneOnly"

// Prunes reports whether b takes PruneOnlyParam: the bots the scheduled clean-up may run.
func (b Bot) Prunes() bool {
	for _, p := range b.Params {
		if p.Name == PruneOnlyParam && p.Type == TypeBool {
			return true
		}
	}
	return false
}

// DenyRecordPrefix starts the state-table key of every deny record: "iam-deny#<kind>#<partition>#<account>#
// <role|user>#<name>#<finding id>".
const DenyRecordPrefix = "iam-deny#"

// DenyRecordKey is the key of the record of a deny of kind ("session", "source-ip") for findingID on the
// principal (a role or user target; IAM is global: no region).
func DenyRecordKey(kind, partition, account, principal, name, findingID string) string {
	return DenyRecordPrefix + strings.Join([]string{kind, partition, account, principal, name, findingID}, "#")
}

// DenyRecordGrace is how long after a deny's expiry its record is kept for the scheduled clean-up to
// retry (a principal that was exempt, gone or unreachable): after it the planner leaves the record
// alone and the state table's TTL removes it. The deny's own statement still says it expired, so the
// next write of a deny bot on the principal removes it whatever became of its record.
const DenyRecordGrace = 24 * time.Hour

// ExpiringStore is a StateStore that can give one record its own expiry (the state table's TTL): what
// the deny bots use when the orchestrator's store offers it.
type ExpiringStore interface {
	PutExpiring(ctx context.Context, key string, value []byte, expires time.Time) error
}
