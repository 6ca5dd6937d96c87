package finding

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/guardbots/guardbots/shared/faults"
)

// A Target is one resource an action touches, resolved once: from the finding by Targets (taken,
// validated, its ARN built), or, for the related targets a bot declares (Relations), live by the bot
// runner. The runner hands the bot exactly these, and the exemption rail reads exactly these, addressed
// as the bot addresses them; no bot takes an identifier from the finding itself.
type Target struct {
	Kind TargetKind `json:"kind"`
	// ID is how the bot's API calls name it: instance id, user or role name, bucket name, function name,
	// DB identifier.
	ID string `json:"id"`
	// ARN is built from the validated identifier and the finding's partition, account and region (never
	// copied from the finding), or read live for a related target.
	ARN       string `json:"arn,omitempty"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Partition string `json:"partition"`
	// Via says how a related target was reached ("instance profile web of instance i-0abc"); empty for
	// the finding's own targets.
	Via string `json:"via,omitempty"`
	// Version is an S3 object target's version id ("" when its bucket was never versioned).
	Version string `json:"version,omitempty"`
}

// String is how rails and notifications name a target: "instance i-0abc", "bucket logs".
func (t Target) String() string { return string(t.Kind) + " " + t.ID }

// Object splits an s3-object target's ID into its bucket and key.
func (t Target) Object() (bucket, key string) {
	bucket, key, _ = strings.Cut(t.ID, "/")
	return bucket, key
}

// Where is what a person reads in a message: "instance i-0abc in 111122223333/us-east-1".
func (t Target) Where() string {
	return fmt.Sprintf("%s %s in %s/%s", Spec(t.Kind).Noun, t.ID, t.Account, t.Region)
}

// TargetKind is what a target is, which decides how it is validated, how its exemption tag is read and
// how bots mark it.
type TargetKind string

const (
	TargetInstance TargetKind = "instance"
	TargetIAMUser  TargetKind = "iam-user"
	TargetIAMRole  TargetKind = "iam-role"
	// TargetInstanceProfile is never acted on: it is the way from an instance to its role.
	TargetInstanceProfile TargetKind = "instance-profile"
	// TargetAccessKey is the credentials of a principal with nothing taggable to act on (a federated
	// user, an AWS service, a principal type this version does not know).
	TargetAccessKey TargetKind = "access-key"
	// TargetSession is the temporary credentials of one principal, as IAM's aws:userId names them (the
	// finding's principalId): "<role id>:<session name>" for a role session, the user's id for an IAM
	// user's GetSessionToken credentials. Nothing to tag: bots deny it on its role or user.
	TargetSession TargetKind = "session"
	TargetRoot    TargetKind = "root"
	TargetBucket  TargetKind = "bucket"
	// TargetS3Object is one object version, ID "<bucket>/<key>" and Version its version id. It has no
	// exemption tag of its own: object tags are written by whoever may write the object (the uploader
	// of the malware included), so an object is exempt when its bucket is, and every S3Object finding
	// also names its bucket as a target.
	TargetS3Object TargetKind = "s3-object"
	// TargetTrail is a CloudTrail trail, ID its name or ARN as the finding gives it.
	TargetTrail          TargetKind = "cloudtrail-trail"
	TargetLambdaFunction TargetKind = "lambda-function"
	TargetRDSDB          TargetKind = "rds-db"
	TargetRDSCluster     TargetKind = "rds-cluster"
)

// TargetSpec is one kind of target: how its identifier is validated, which operation reads its
// exemption tag, and whether bots mark it.
type TargetSpec struct {
	// Noun names the kind in messages ("instance", "role", "DB instance").
	Noun string
	// Valid is the identifier's pattern: loose where AWS's own is (an emulator's ids), it only has to
	// keep garbage (a sample finding's placeholder, an injected string) out of the API calls.
	Valid Pattern
	// TagRead is the operation ("service:Operation", the SDK's names) that reads the exemption tag, and
	// TagReadAction the IAM action it needs; empty when the kind has nothing taggable. A package under
	// shared/exempt implements each operation.
	TagRead, TagReadAction string
	// Marked says whether bots tag a target of this kind they changed (bots.Markers): not buckets,
	// whose PutBucketTagging replaces the owner's whole tag set.
	Marked bool
	// Refused, when set, is why no bot ever acts on this kind.
	Refused string
}

// Pattern is an identifier's characters (a regular expression) and its length in bytes (every pattern
// here is ASCII). The bounds are kept apart because regexp compiles a counted repetition such as
// {1,256} into one instruction per count: the patterns written that way cost every Lambda that links
// this package 1.5 ms of CPU at its cold start.
type Pattern struct {
	re       *regexp.Regexp
	min, max int
	parts    func(string) bool // further bounds, when the pattern has parts; nil: none
}

func pattern(expr string, minLen, maxLen int) Pattern {
	return Pattern{re: regexp.MustCompile(expr), min: minLen, max: maxLen}
}

// sessionID is an assumed-role session's aws:userId (AROA… unique id, ':', session name) or an IAM user's
// unique id (AIDA…): each part's bounds are checked apart, for the reason Pattern gives.
var sessionID = Pattern{re: regexp.MustCompile(`^(AROA[A-Z0-9-]+:[\w+=,.@-]+|AIDA[A-Z0-9-]+)$`), min: 8, max: 4 + 128 + 1 + 64,
	parts: func(s string) bool {
		id, name, isRole := strings.Cut(s, ":")
		if len(id) < 4+4 || len(id) > 4+128 {
			return false
		}
		return !isRole || len(name) >= 1 && len(name) <= 64
	}}

// MatchString reports whether s has the pattern's characters and length.
func (p Pattern) MatchString(s string) bool {
	return len(s) >= p.min && len(s) <= p.max && p.re.MatchString(s) && (p.parts == nil || p.parts(s))
}

var (
	iamName = pattern(`^[\w+=,.@-]+$`, 1, 64)
	dbID    = pattern(`^[a-zA-Z][a-zA-Z0-9-]*$`, 1, 63)
	keyID   = pattern(`^[\w+=,.@:/-]+$`, 1, 256)
	bucket  = pattern(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`, 3, 63)
	// s3Object is "<bucket>/<key>": the bucket's bounds are checked apart; the key's length (S3's 1,024
	// bytes) and UTF-8 where the target is taken (s3Objects), so the pattern sets no maximum.
	s3Object = Pattern{re: regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]/[^\x00-\x1f\x7f]+$`), min: 3 + 1 + 1, max: math.MaxInt,
		parts: func(s string) bool {
			b, _, _ := strings.Cut(s, "/")
			return len(b) >= 3 && len(b) <= 63
		}}
	// trail is a trail's name or ARN: the region's first part (2 letters) and number (1 or 2 digits), the
	// account (12 digits) and the name (3 to 128) are checked apart.
	trail = Pattern{re: regexp.MustCompile(`^(arn:aws[a-z-]*:cloudtrail:[a-z]+(-[a-z]+)+-\d+:\d+:trail/)?[A-Za-z0-9][A-Za-z0-9._-]+$`), min: 3, max: math.MaxInt,
		parts: func(s string) bool {
			name := s
			if f := strings.Split(s, ":"); len(f) == 6 {
				region := f[3]
				first, _, _ := strings.Cut(region, "-")
				num := region[strings.LastIndex(region, "-")+1:]
				if len(first) != 2 || len(num) > 2 || len(f[4]) != 12 {
					return false
				}
				name = strings.TrimPrefix(f[5], "trail/")
			}
			return len(name) >= 3 && len(name) <= 128
		}}
)

// targetSpecs is the table of target kinds. Adding a kind of resource is an entry here and in
// resourceTargets (and, for a Relation, in relationSpecs).
var targetSpecs = map[TargetKind]TargetSpec{
	TargetInstance: {Noun: "instance", Valid: pattern(`^i-[0-9a-f-]+$`, 2+8, 2+32),
		TagRead: "ec2:DescribeTags", TagReadAction: "ec2:DescribeTags", Marked: true},
	TargetIAMUser: {Noun: "user", Valid: iamName,
		TagRead: "iam:ListUserTags", TagReadAction: "iam:ListUserTags", Marked: true},
	TargetIAMRole: {Noun: "role", Valid: iamName,
		TagRead: "iam:ListRoleTags", TagReadAction: "iam:ListRoleTags", Marked: true},
	TargetInstanceProfile: {Noun: "instance profile", Valid: iamName},
	TargetAccessKey:       {Noun: "access key", Valid: keyID},
	// A role's or user's unique id, then for a role the session name (IAM's pattern; the emulator's ids
	// carry dashes).
	TargetSession: {Noun: "session", Valid: sessionID},
	TargetRoot: {Noun: "root user", Valid: keyID,
		Refused: "root credentials are never acted on: a member-account role cannot manage the root user's " +
			"credentials, and acting on root needs a human (notify only)"},
	TargetBucket: {Noun: "bucket", Valid: bucket,
		TagRead: "s3:GetBucketTagging", TagReadAction: "s3:GetBucketTagging"},
	TargetS3Object: {Noun: "object", Valid: s3Object},
	// Tags of a trail are read by its ARN in its home region (the ARN's).
	TargetTrail: {Noun: "trail", Valid: trail,
		TagRead: "cloudtrail:ListTags", TagReadAction: "cloudtrail:ListTags"},
	// A function is addressed by its unqualified name: reserved concurrency and tags are per function.
	TargetLambdaFunction: {Noun: "function", Valid: pattern(`^[a-zA-Z0-9_-]+$`, 1, 64),
		TagRead: "lambda:ListTags", TagReadAction: "lambda:ListTags", Marked: true},
	TargetRDSDB: {Noun: "DB instance", Valid: dbID,
		TagRead: "rds:ListTagsForResource", TagReadAction: "rds:ListTagsForResource", Marked: true},
	TargetRDSCluster: {Noun: "DB cluster", Valid: dbID,
		TagRead: "rds:ListTagsForResource", TagReadAction: "rds:ListTagsForResource", Marked: true},
}

// resourceTargets takes, per resource kind, the targets a finding names (their IDs, unvalidated); a
// kind without an entry names none (EKS, containers, …: notify only).
var resourceTargets = map[ResourceKind]func(f *Finding) ([]Target, error){
	KindInstance: func(f *Finding) ([]Target, error) {
		if f.Instance == nil || f.Instance.ID == "" {
			return nil, nil
		}
		return []Target{{Kind: TargetInstance, ID: f.Instance.ID}}, nil
	},
	// The principal behind the key, and the trail the call acted on (Stealth:IAMUser/CloudTrailLoggingDisabled).
	KindAccessKey: func(f *Finding) ([]Target, error) {
		out := principal(f.AccessKey)
		if f.Action != nil && f.Action.Trail != "" {
			out = append(out, Target{Kind: TargetTrail, ID: f.Action.Trail})
		}
		return out, nil
	},
	// Policy:S3/* findings name one bucket; data-access findings may name several.
	KindS3Bucket: func(f *Finding) ([]Target, error) {
		var out []Target
		for _, b := range f.Buckets {
			if b.Name != "" && !slices.ContainsFunc(out, func(t Target) bool { return t.ID == b.Name }) {
				out = append(out, Target{Kind: TargetBucket, ID: b.Name})
			}
		}
		return out, nil
	},
	KindS3Object:       s3Objects,
	KindLambdaFunction: lambdaTargets,
	KindRDSDBInstance: func(f *Finding) ([]Target, error) {
		switch r := f.RDS; {
		case r == nil:
		case r.InstanceID != "":
			return []Target{{Kind: TargetRDSDB, ID: r.InstanceID}}, nil
		case r.ClusterID != "":
			return []Target{{Kind: TargetRDSCluster, ID: r.ClusterID}}, nil
		}
		return nil, nil
	},
}

// ResourceKinds are every resource kind, in the catalogue's order.
var ResourceKinds = []ResourceKind{
	KindInstance, KindAccessKey, KindS3Bucket, KindS3Object, KindEKSCluster, KindRDSDBInstance, KindLambdaFunction,
	KindContainer, KindECSCluster, KindAttackSequence, KindOther,
}

// principal is the target behind an access key: the IAM user, the role of a role session, or the
// credentials themselves when nothing taggable stands behind them; then the session, when the
// credentials are temporary ones IAM can name (aws:userId): a role session's "<role id>:<name>", or an
// IAM user's GetSessionToken credentials (an ASIA key), whose aws:userId is the user's id.
func principal(k *AccessKey) []Target {
	if k == nil {
		return nil
	}
	switch {
	case k.UserType == UserTypeRoot:
		return []Target{{Kind: TargetRoot, ID: firstOf(k.AccessKeyID, k.PrincipalID, "root")}}
	case k.UserType == UserTypeIAMUser && k.UserName != "":
		out := []Target{{Kind: TargetIAMUser, ID: k.UserName}}
		if strings.HasPrefix(k.AccessKeyID, "ASIA") && strings.HasPrefix(k.PrincipalID, "AIDA") {
			out = append(out, Target{Kind: TargetSession, ID: k.PrincipalID})
		}
		return out
	// For an assumed role GuardDuty's userName is the role's name; a principal id that is not a role's
	// (AROA…:session) says it is something else named alike.
	case k.UserType == UserTypeAssumedRole && k.UserName != "" && (k.PrincipalID == "" || strings.HasPrefix(k.PrincipalID, "AROA")),
		k.UserType == UserTypeRole && k.UserName != "":
		out := []Target{{Kind: TargetIAMRole, ID: k.UserName}}
		if strings.HasPrefix(k.PrincipalID, "AROA") && strings.Contains(k.PrincipalID, ":") {
			out = append(out, Target{Kind: TargetSession, ID: k.PrincipalID})
		}
		return out
	}
	if id := firstOf(k.AccessKeyID, k.PrincipalID, k.UserName); id != "" {
		return []Target{{Kind: TargetAccessKey, ID: id}}
	}
	return nil
}

// SessionName is the session name of a role session target ("AROA…:i-0abc" → "i-0abc"), "" for an IAM
// user's session.
func (t Target) SessionName() string {
	if t.Kind != TargetSession {
		return ""
	}
	_, name, _ := strings.Cut(t.ID, ":")
	return name
}

// PrincipalUniqueID is the role's unique id of a role session target ("AROA…:i-0abc" → "AROA…"), or the user's id
// for an IAM user's session: the principal the credentials belong to.
func (t Target) PrincipalUniqueID() string {
	id, _, _ := strings.Cut(t.ID, ":")
	return id
}

// versionRE is what S3 version ids are made of ("null" for an object written while versioning was off).
var versionRE = regexp.MustCompile(`^[A-Za-z0-9._+=/-]+$`)

// s3Objects names each object version of an S3Object finding, then each object's bucket (whose tag is
// the objects' exemption). An object ARN in the finding must name the same bucket and key in the
// finding's partition: the object read is the object the finding names.
func s3Objects(f *Finding) ([]Target, error) {
	var objs, buckets []Target
	for _, o := range f.S3Objects {
		if o.Bucket == "" || o.Key == "" {
			continue
		}
		switch {
		case len(o.Key) > 1024 || !utf8.ValidString(o.Key):
			return nil, faults.Rejectf("object key %.64q… in bucket %s is not an S3 key (at most 1,024 bytes of UTF-8)", o.Key, o.Bucket)
		case o.VersionID != "" && (len(o.VersionID) > 1024 || !versionRE.MatchString(o.VersionID)):
			return nil, faults.Rejectf("%.64q is not an S3 version id", o.VersionID)
		}
		if o.Arn != "" {
			partition := f.Partition
			if partition == "" {
				partition = PartitionOf(f.Region)
			}
			if want := fmt.Sprintf("arn:%s:s3:::%s/%s", partition, o.Bucket, o.Key); o.Arn != want {
				return nil, faults.Rejectf("object ARN %.128q does not name object %s/%.64q", o.Arn, o.Bucket, o.Key)
			}
		}
		objs = append(objs, Target{Kind: TargetS3Object, ID: o.Bucket + "/" + o.Key, Version: o.VersionID})
		if !slices.ContainsFunc(buckets, func(t Target) bool { return t.ID == o.Bucket }) {
			buckets = append(buckets, Target{Kind: TargetBucket, ID: o.Bucket})
		}
	}
	return append(objs, buckets...), nil
}

// lambdaTargets names the function by its name. An ARN in the finding must name the same function in
// the finding's account and region: the exemption tag is read by the ARN built from the name, so the
// function read is the function changed.
func lambdaTargets(f *Finding) ([]Target, error) {
	l := f.Lambda
	if l == nil || l.FunctionName == "" && l.FunctionArn == "" {
		return nil, nil
	}
	name := l.FunctionName
	if l.FunctionArn != "" {
		p := strings.Split(l.FunctionArn, ":")
		if len(p) < 7 || p[0] != "arn" || p[2] != "lambda" || p[5] != "function" {
			return nil, faults.Rejectf("%q is not a Lambda function ARN", l.FunctionArn)
		}
		if name == "" {
			name = p[6]
		}
		if p[6] != name || p[3] != f.Region || p[4] != f.AccountID {
			return nil, faults.Rejectf("function ARN %s does not name function %s in %s/%s", l.FunctionArn, name, f.AccountID, f.Region)
		}
	}
	return []Target{{Kind: TargetLambdaFunction, ID: name}}, nil
}

var (
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
)

// Targets resolves the resources the finding names: taken per its resource kind, each identifier
// validated against its kind, placed in the finding's partition, account and region and given its ARN.
// A malformed identifier, account, region or partition is an error (a rejection): nothing downstream
// may send it to AWS.
func Targets(f *Finding) ([]Target, error) {
	if f == nil {
		return nil, nil
	}
	take := resourceTargets[f.ResourceKind]
	if take == nil {
		return nil, nil
	}
	ts, err := take(f)
	if err != nil || len(ts) == 0 {
		return nil, err
	}
	partition := f.Partition
	if partition == "" {
		partition = PartitionOf(f.Region)
	}
	switch {
	case !accountRE.MatchString(f.AccountID):
		return nil, faults.Rejectf("%q is not an AWS account id", f.AccountID)
	case !regionRE.MatchString(f.Region):
		return nil, faults.Rejectf("%q is not an AWS region", f.Region)
	case !partitionRE.MatchString(partition):
		return nil, faults.Rejectf("%q is not an AWS partition", partition)
	}
	for i := range ts {
		ts[i].Account, ts[i].Region, ts[i].Partition = f.AccountID, f.Region, partition
		if err := ts[i].Validate(); err != nil {
			return nil, err
		}
		ts[i].ARN = ts[i].builtARN()
	}
	return ts, nil
}

// Validate checks the target's identifier against its kind's pattern.
func (t Target) Validate() error {
	s, ok := targetSpecs[t.Kind]
	if !ok {
		return faults.Rejectf("%q is not a kind of target", t.Kind)
	}
	if !s.Valid.MatchString(t.ID) {
		return faults.Rejectf("%q is not a valid %s", t.ID, s.Noun)
	}
	return nil
}

// builtARN is the target's ARN from its validated parts, "" where the ID does not decide it (an IAM
// principal's path is not in the finding).
func (t Target) builtARN() string {
	switch t.Kind {
	case TargetInstance:
		return fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", t.Partition, t.Region, t.Account, t.ID)
	case TargetBucket, TargetS3Object:
		return fmt.Sprintf("arn:%s:s3:::%s", t.Partition, t.ID)
	case TargetTrail:
		if strings.HasPrefix(t.ID, "arn:") {
			return t.ID
		}
		return fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", t.Partition, t.Region, t.Account, t.ID)
	case TargetLambdaFunction:
		return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", t.Partition, t.Region, t.Account, t.ID)
	case TargetRDSDB:
		return fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", t.Partition, t.Region, t.Account, t.ID)
	case TargetRDSCluster:
		return fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", t.Partition, t.Region, t.Account, t.ID)
	}
	return ""
}

// Spec is the table entry of kind k (the zero TargetSpec, Noun the kind itself, for an unknown kind).
func Spec(k TargetKind) TargetSpec {
	s, ok := targetSpecs[k]
	if !ok {
		s.Noun = string(k)
	}
	return s
}

// KnownTarget reports whether k is in the table.
func KnownTarget(k TargetKind) bool { _, ok := targetSpecs[k]; return ok }

// ReadActions maps every operation the runner makes on targets before a bot (each kind's tag read,
// each relation's lookup) to the IAM action it needs.
func ReadActions() map[string][]string {
	out := map[string][]string{}
	for _, s := range targetSpecs {
		if s.TagRead != "" {
			out[s.TagRead] = []string{s.TagReadAction}
		}
	}
	for _, r := range relationSpecs {
		out[r.Lookup] = []string{r.LookupAction}
	}
	return out
}

// Relation names a target a bot acts on that the finding does not name itself but leads to, found live
// by the runner before any rail (the role behind an instance's instance profile).
type Relation string

const (
	RelInstanceProfileRole Relation = "instance-profile-role"
	// RelSessionInstance is the instance whose credentials an instance-credential finding's session
	// holds: EC2 names an instance role's session after the instance id.
	RelSessionInstance Relation = "session-instance"
)

// RelationSpec is one relation: the target it starts from, what the finding says of the way there
// (validated), and the operation that reads the way live and names the related targets.
type RelationSpec struct {
	From, To TargetKind
	// Via is the resource the lookup reads, from the finding; skip says why the finding names none.
	Via func(f *Finding, from Target) (via Target, skip string, err error)
	// Lookup is the operation that reads Via and names the related targets ("service:Operation"),
	// LookupAction its IAM action. shared/exempt/<service>tags implements it (bots.RegisterLookup).
	Lookup, LookupAction string
	// Summary says what the related target is, for the catalogue.
	Summary string
}

var relationSpecs = map[Relation]RelationSpec{
	RelInstanceProfileRole: {From: TargetInstance, To: TargetIAMRole, Via: instanceProfile,
		Lookup: "iam:GetInstanceProfile", LookupAction: "iam:GetInstanceProfile",
		Summary: "the role of the instance's instance profile"},
	RelSessionInstance: {From: TargetSession, To: TargetInstance, Via: sessionInstance,
		Lookup: "ec2:DescribeInstances", LookupAction: "ec2:DescribeInstances",
		Summary: "the instance of an instance-credential finding's session"},
}

// RelationOf is the table entry of r, and whether it has one.
func RelationOf(r Relation) (RelationSpec, bool) { s, ok := relationSpecs[r]; return s, ok }

// instanceProfile is the instance profile the finding gives the instance, in the instance's account.
func instanceProfile(f *Finding, from Target) (Target, string, error) {
	if f.Instance == nil || f.Instance.InstanceProfileArn == "" {
		return Target{}, fmt.Sprintf("instance %s has no instance profile", from.ID), nil
	}
	a := f.Instance.InstanceProfileArn
	p := strings.SplitN(a, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] != from.Partition || p[2] != "iam" || p[4] != from.Account || !strings.HasPrefix(p[5], "instance-profile/") {
		return Target{}, "", faults.Rejectf("%q is not an instance profile ARN in account %s", a, from.Account)
	}
	via := Target{Kind: TargetInstanceProfile, ID: p[5][strings.LastIndex(p[5], "/")+1:], ARN: a,
		Account: from.Account, Region: from.Region, Partition: from.Partition, Via: from.String()}
	if err := via.Validate(); err != nil {
		return Target{}, "", err
	}
	return via, "", nil
}

// InstanceCredentialFamily is the threat family of GuardDuty's findings on an EC2 instance's role
// credentials used elsewhere (UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS and
// .InsideAWS).
const InstanceCredentialFamily = "InstanceCredentialExfiltration"

// sessionInstance is the instance a role session is named after, on an instance-credential finding:
// there GuardDuty says the credentials are an instance's, whose session EC2 names after the instance id.
// On any other finding a session name is whatever the caller of AssumeRole chose, and leads nowhere.
func sessionInstance(f *Finding, from Target) (Target, string, error) {
	name := from.SessionName()
	switch {
	case f.TypeParts.ThreatFamily != InstanceCredentialFamily:
		return Target{}, fmt.Sprintf("only an instance-credential finding says whose instance a session is (%s is a %s finding; a session's name is chosen by whoever assumed the role)", from, f.Type), nil
	case !targetSpecs[TargetInstance].Valid.MatchString(name):
		return Target{}, fmt.Sprintf("%s is not named after an instance id, so it is not an instance's credentials", from), nil
	case f.Instance != nil && f.Instance.ID != "" && f.Instance.ID != name:
		return Target{}, fmt.Sprintf("the finding names instance %s but its session is named %s: neither is acted on", f.Instance.ID, name), nil
	}
	via := Target{Kind: TargetInstance, ID: name, Account: from.Account, Region: from.Region, Partition: from.Partition, Via: from.String()}
	via.ARN = via.builtARN()
	return via, "", nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
