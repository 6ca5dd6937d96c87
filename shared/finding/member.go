package finding

import (
	"fmt"
	"strings"

	"github.com/guardbots/guardbots/shared/faults"
)

// Member names the resource of an attack sequence one (action, member) pair acts on: its place in the
// sequence's resources and what is there. The index decides; the rest lets a person (and a check)
// read which resource it is. A bot acts on a member only through MemberView of the finding verify read
// back from GuardDuty, so the member is always one GuardDuty named.
type Member struct {
	Index   int          `json:"index"`
	Kind    ResourceKind `json:"kind"`
	ID      string       `json:"id"`
	Account string       `json:"account"`
	Region  string       `json:"region"`
}

// String is how messages name a member: "member 3 (Instance i-0abc in 444455556666/eu-west-1)".
func (m Member) String() string {
	return fmt.Sprintf("member %d (%s %s in %s/%s)", m.Index+1, m.Kind, m.ID, m.Account, m.Region)
}

// MemberOf is the i-th resource of f's attack sequence as a Member.
func MemberOf(f *Finding, i int) Member {
	r := f.Sequence.Resources[i]
	return Member{Index: i, Kind: r.Kind, ID: r.ID, Account: r.Account, Region: r.Region}
}

// MemberView is f seen as one of its attack sequence's members: the member's resource kind, account and
// region, and its identifier where that kind keeps it (Instance, Buckets, AccessKey), so that Targets,
// the rails and the bot read exactly the member, in its own account and region. Everything else a bot
// could act on (the action's remote IPs, a trail, other resources) is left out. m must be the
// sequence's resource at m.Index exactly; anything else is a rejection.
func MemberView(f *Finding, m Member) (*Finding, error) {
	if f == nil || f.ResourceKind != KindAttackSequence || f.Sequence == nil {
		return nil, faults.Rejectf("%s: the finding is not an attack sequence with members", m)
	}
	if m.Index < 0 || m.Index >= len(f.Sequence.Resources) {
		return nil, faults.Rejectf("%s: the attack sequence has %d members", m, len(f.Sequence.Resources))
	}
	if got := MemberOf(f, m.Index); got != m {
		return nil, faults.Rejectf("%s: the attack sequence's member %d is %s", m, m.Index+1, got)
	}
	v := &Finding{
		ID: f.ID, Arn: f.Arn, Type: f.Type, TypeParts: f.TypeParts, Title: f.Title,
		Severity: f.Severity, SeverityLabel: f.SeverityLabel,
		AccountID: m.Account, Region: m.Region, Partition: f.Partition,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen,
		Count: f.Count, Archived: f.Archived, Sample: f.Sample, DetectorID: f.DetectorID, Source: f.Source,
		ResourceKind: m.Kind, ResourceType: f.Sequence.Resources[m.Index].Type, ResourceRole: f.ResourceRole,
	}
	if v.Partition == "" {
		v.Partition = PartitionOf(v.Region)
	}
	if fill := memberFills[m.Kind]; fill != nil {
		if err := fill(v, f.Sequence.Resources[m.Index], f.Sequence); err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
	}
	return v, nil
}

// memberFills put a member's identifier where its kind keeps it, checking an ARN against the member's
// partition, account and region. A kind without an entry names no target (S3 objects: the sequence
// gives no version or ETag, so nothing could check it is the object GuardDuty saw; EKS, ECS,
// containers, other types).
var memberFills = map[ResourceKind]func(v *Finding, r SequenceResource, q *Sequence) error{
	KindInstance: func(v *Finding, r SequenceResource, _ *Sequence) error {
		id, err := memberARN(r.ID, v, "ec2", "instance/")
		if err == nil {
			v.Instance = &Instance{ID: id}
		}
		return err
	},
	KindS3Bucket: func(v *Finding, r SequenceResource, _ *Sequence) error {
		name := r.ID
		if strings.HasPrefix(name, "arn:") {
			p := strings.SplitN(name, ":", 6)
			if len(p) != 6 || p[1] != v.Partition || p[2] != "s3" || p[3] != "" || p[4] != "" || strings.Contains(p[5], "/") {
				return faults.Rejectf("%.128q is not a bucket ARN in partition %s", r.ID, v.Partition)
			}
			name = p[5]
		}
		if r.Name != "" && r.Name != name {
			return faults.Rejectf("bucket ARN %.128q does not name bucket %.64q", r.ID, r.Name)
		}
		v.Buckets = []Bucket{{Name: name}}
		return nil
	},
	// An access key is its principal's as the sequence's actors say (the session whose credential it is,
	// in the member's account): an IAM user, a role, or, when no actor names it, the key alone, which no
	// bot acts on.
	KindAccessKey: func(v *Finding, r SequenceResource, q *Sequence) error {
		k := &AccessKey{AccessKeyID: r.ID}
		for _, s := range q.Sessions {
			if s.Credential == r.ID && (s.Account == "" || s.Account == v.AccountID) {
				k.UserName, k.PrincipalID, k.UserType, k.RawUserType = s.User, s.UserID, userType(s.UserType), s.UserType
				break
			}
		}
		v.AccessKey = k
		return nil
	},
}

// memberARN takes a member's identifier from an ARN of service with a resource prefix (checked against
// the member's partition, account and region), or as it is.
func memberARN(id string, v *Finding, service, prefix string) (string, error) {
	if !strings.HasPrefix(id, "arn:") {
		return id, nil
	}
	p := strings.SplitN(id, ":", 6)
	if len(p) != 6 || p[1] != v.Partition || p[2] != service || p[3] != v.Region || p[4] != v.AccountID || !strings.HasPrefix(p[5], prefix) {
		return "", faults.Rejectf("%.128q is not a %s ARN in %s/%s", id, strings.TrimSuffix(prefix, "/"), v.AccountID, v.Region)
	}
	return strings.TrimPrefix(p[5], prefix), nil
}
