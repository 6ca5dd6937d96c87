package s3bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// quarantineObjectBot is the bot's name, in its messages and its declaration.
const quarantineObjectBot = "s3_quarantine_object"

func init() {
	bots.Register(bots.Bot{
		Name: quarantineObjectBot,
		Summary: "Copy the malicious object version to the account's quarantine bucket in its region (created on " +
			"first use: versioned, encrypted, public access blocked, readable only by the readers and guardbots' " +
			"object bots), check the copy's checksum, record both, then delete that version from its bucket. " +
			"Object Lock, MFA Delete, customer-key, archived and unusable-KMS objects are skipped with the reason.",
		Resources: []finding.ResourceKind{finding.KindS3Object},
		// The object, and its bucket, whose guardbots:exempt tag exempts the objects in it.
		Targets: []finding.TargetKind{finding.TargetS3Object, finding.TargetBucket},
		Params: []bots.Param{{Name: "readers", Type: bots.TypeStrings,
			Description: "ARNs of the IAM roles or users of the security team who may read the quarantine bucket " +
				"(its policy denies reads to everyone else but guardbots' object bots)"}},
		Impact: bots.ImpactDisruptive,
		Operations: []string{
			"s3:HeadObject", "s3:GetBucketVersioning", "s3:CopyObject", "s3:CreateMultipartUpload", "s3:UploadPartCopy",
			"s3:CompleteMultipartUpload", "s3:AbortMultipartUpload", "s3:DeleteObject",
			"s3:HeadBucket", "s3:CreateBucket", "s3:GetPublicAccessBlock", "s3:PutPublicAccessBlock",
			"s3:GetBucketEncryption", "s3:PutBucketEncryption", "s3:PutBucketVersioning", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
		},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return quarantineObject(ctx, s3.NewFromConfig(req.AWS), req)
		},
	})
}

// quarantineAPI is what s3_quarantine_object calls.
type quarantineAPI interface {
	objectAPI
	GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	quarantineBucketAPI
}

// objectRecord is what the quarantine remembers so s3_release_object can undo it.
type objectRecord struct {
	Source objectRef `json:"source"`
	Copy   objectRef `json:"copy"`
	// Checksum is the source's, which the copy was checked against.
	Checksum checksum `json:"checksum"`
	Size     int64    `json:"size"`
	ETag     string   `json:"eTag"`
	// Encryption is how the source was encrypted (the copy is encrypted with S3-managed keys).
	Encryption string `json:"encryption,omitempty"`
	KMSKeyID   string `json:"kmsKeyId,omitempty"`
	FindingID  string `json:"findingId"`
	Execution  string `json:"execution,omitempty"`
	RecordedAt string `json:"recordedAt"`
	// Deleted is set once the source version is deleted.
	Deleted bool `json:"deleted"`
}

// readerRE is an IAM role or user ARN, with a path or not; isReader bounds the path and name (512
// characters) apart, as a counted repetition ({1,512}) compiles into 512 copies of its class, built by
// the Lambda at every start.
var readerRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(?:role|user)/([\w+=,.@/-]+)$`)

func isReader(s string) bool {
	m := readerRE.FindStringSubmatch(s)
	return m != nil && len(m[1]) <= 512
}

// quarantineObject moves one object version into quarantine. Order: read and decide (skips before any
// change), the quarantine bucket, the copy, its checksum, the record, and only then the delete: a
// failure at any step leaves the source in place, and a re-run resumes from the record.
func quarantineObject(ctx context.Context, api quarantineAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(quarantineObjectBot, req, finding.TargetS3Object)
	if err != nil {
		return res, err
	}
	if n := len(req.TargetsOf(finding.TargetS3Object)); n > 1 {
		return res, bots.Skip("the finding names %d objects; %s moves the one object a Malware Protection finding names, so these need a person", n, quarantineObjectBot)
	}
	if req.State == nil && !req.DryRun {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: no state table to record the quarantine in: set %s", quarantineObjectBot, deployment.EnvStateTable))
	}
	readers, err := parseReaders(req.Params.Strings("readers"), t.Partition)
	if err != nil {
		return bots.Result{}, err
	}
	bucket, key := t.Object()
	src, owner, where := objectRef{Bucket: bucket, Key: key, Version: t.Version}, t.Account, t.Where()
	qb := quarantineBucket{Name: quarantineBucketName(t.Account, t.Region), Account: t.Account, Region: t.Region,
		Partition: t.Partition, Readers: readers, RolePrefix: rolePrefix()}
	fail := func(what string, err error) (bots.Result, error) {
		return bots.Result{}, fmt.Errorf("%s: %s %s: %w", quarantineObjectBot, what, where, err)
	}

	rkey := objectRecordKey(t.Account, t.Region, src)
	var rec objectRecord
	recorded := false
	if req.State != nil {
		raw, found, err := req.State.Get(ctx, rkey)
		if err != nil {
			return fail("read the quarantine record of", err)
		}
		if found {
			if err := json.Unmarshal(raw, &rec); err != nil {
				return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: quarantine record %s is not valid JSON: %w", quarantineObjectBot, where, rkey, err))
			}
			recorded = true
		}
	}

	h, gone, err := head(ctx, api, src, owner)
	if err != nil {
		return fail("read", err)
	}
	if gone {
		if recorded {
			res.Status = bots.StatusAlreadyDone
			res.Reason = fmt.Sprintf("%s was quarantined to %s at %s", src, rec.Copy, rec.RecordedAt)
			return res, nil
		}
		return res, bots.Skip("%s no longer exists", src)
	}
	if src.Version == "" {
		src.Version = aws.ToString(h.VersionId) // "null" in a bucket whose versioning was suspended
	}
	res.Resources = []string{src.String()}
	res.Before = map[string]string{"object": src.String(), "eTag": aws.ToString(h.ETag),
		"size": fmt.Sprint(aws.ToInt64(h.ContentLength)), "encryption": string(h.ServerSideEncryption)}
	if why := unmovable(h, scannedETag(req.Finding, bucket, key)); why != "" {
		return res, bots.Skip("%s %s", src, why)
	}
	v, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket), ExpectedBucketOwner: aws.String(owner)})
	if err != nil {
		return fail("read the versioning of the bucket of", err)
	}
	if v.MFADelete == s3types.MFADeleteStatusEnabled {
		return res, bots.Skip("bucket %s has MFA Delete on: deleting a version needs the bucket owner's MFA code, so a person must "+
			"copy %s aside and run: aws s3api delete-object --bucket %s --key %q --version-id %s --mfa \"<device-arn> <code>\"",
			bucket, src, bucket, key, src.Version)
	}
	sum, why := fullChecksum(h)
	if why == "" && aws.ToInt64(h.ContentLength) > copyLimit && !sum.multipartable() {
		why = fmt.Sprintf("it is larger than one copy allows (%d bytes) and its %s cannot be carried through a multipart copy", aws.ToInt64(h.ContentLength), sum.kind())
	}
	if why != "" {
		return res, bots.Skip("%s is not moved: a copy could not be checked against it: %s", src, why)
	}
	cp := objectRef{Bucket: qb.Name, Key: quarantineKey(src)}
	if recorded {
		cp = rec.Copy
	}

	if req.DryRun {
		res.Status = bots.StatusDryRun
		if exists, err := qb.exists(ctx, api); err != nil {
			return fail("read quarantine bucket "+qb.Name+" for", err)
		} else if !exists {
			res.Changes = append(res.Changes, fmt.Sprintf("would create quarantine bucket %s in %s (versioned, SSE-S3, public access blocked, readable only by %s)", qb.Name, t.Region, qb.readersText()))
		}
		res.Changes = append(res.Changes,
			fmt.Sprintf("would copy %s to s3://%s/%s and check the copy's %s", src, cp.Bucket, cp.Key, sum.kind()),
			fmt.Sprintf("would delete %s, recorded for %s", src, releaseObjectBot))
		return res, nil
	}

	changes, err := qb.ensure(ctx, api)
	res.Changes = append(res.Changes, changes...)
	if err != nil {
		return fail("prepare quarantine bucket "+qb.Name+" for", err)
	}
	copied := recorded && rec.Copy.Bucket != ""
	if copied {
		// A re-run after a failed delete: the recorded copy must still be there and match.
		if err := verifyCopy(ctx, api, rec.Copy, rec.Checksum, owner); err != nil {
			copied = false
		}
	}
	if !copied {
		version, err := copyObject(ctx, api, src, cp, h, sum, owner)
		if err != nil {
			if why := uncopyable(err, h); why != "" {
				return res, bots.Skip("%s %s", src, why)
			}
			return fail("copy to quarantine bucket "+qb.Name, err)
		}
		cp.Version = version
		if err := verifyCopy(ctx, api, cp, sum, owner); err != nil {
			return fail("check the quarantine copy of (the source is left in place)", err)
		}
		res.Changes = append(res.Changes, fmt.Sprintf("copied %s to %s; the copy's %s matches", src, cp, sum.kind()))
		rec = objectRecord{Source: src, Copy: cp, Checksum: sum, Size: aws.ToInt64(h.ContentLength), ETag: aws.ToString(h.ETag),
			Encryption: string(h.ServerSideEncryption), KMSKeyID: aws.ToString(h.SSEKMSKeyId), FindingID: req.Finding.ID,
			Execution: req.Execution, RecordedAt: time.Now().UTC().Format(time.RFC3339)}
		if err := putRecord(ctx, req.State, rkey, rec); err != nil {
			return fail(fmt.Sprintf("record the quarantine (the copy %s exists, the source is left in place) of", cp), err)
		}
	}
	if err := deleteVersion(ctx, api, src, aws.ToString(h.ETag), owner); err != nil {
		if bots.APIErrorCode(err) == "AccessDenied" && h.ObjectLockMode != "" {
			return res, bots.Skip("%s is protected by Object Lock (%s): the copy %s is kept, the source could not be deleted", src, h.ObjectLockMode, rec.Copy)
		}
		return fail(fmt.Sprintf("delete (copied to %s, recorded) the source version of", rec.Copy), err)
	}
	rec.Deleted = true
	if err := putRecord(ctx, req.State, rkey, rec); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the source was deleted but the record could not be marked so: %v", err))
	}
	slog.InfoContext(ctx, "object quarantined", "bot", quarantineObjectBot, "finding", req.Finding.ID, "account", owner, "bucket", bucket, "copy", rec.Copy.String())
	res.Status = bots.StatusRemediated
	res.After = map[string]string{"object": "deleted", "quarantine": rec.Copy.String(), "checksum": rec.Checksum.String()}
	res.Changes = append(res.Changes, fmt.Sprintf("deleted %s (undo: %s)", src, releaseObjectBot))
	return res, nil
}

// unmovable says why the object version h cannot be moved, "" when it can: it is not the content that
// was scanned, or Object Lock, a customer-provided key or an archive tier keeps it where it is.
func unmovable(h *s3.HeadObjectOutput, scanned string) string {
	switch {
	case scanned != "" && strings.Trim(scanned, `"`) != strings.Trim(aws.ToString(h.ETag), `"`):
		return fmt.Sprintf("has ETag %s, not the scanned %s: it was replaced since the scan, so it is not the content GuardDuty found malicious", aws.ToString(h.ETag), scanned)
	case h.ObjectLockLegalHoldStatus == s3types.ObjectLockLegalHoldStatusOn:
		return "is under an Object Lock legal hold: it cannot be deleted until a person with s3:PutObjectLegalHold removes the hold"
	case h.ObjectLockRetainUntilDate != nil && h.ObjectLockRetainUntilDate.After(time.Now()):
		return fmt.Sprintf("is retained by Object Lock (%s mode) until %s: it cannot be deleted before then (in GOVERNANCE mode a person with s3:BypassGovernanceRetention can)",
			h.ObjectLockMode, h.ObjectLockRetainUntilDate.UTC().Format(time.RFC3339))
	case aws.ToString(h.SSECustomerAlgorithm) != "":
		return "is encrypted with a customer-provided key (SSE-C), which only its owner holds: it cannot be copied"
	case h.ArchiveStatus != "" || (h.StorageClass == s3types.StorageClassGlacier || h.StorageClass == s3types.StorageClassDeepArchive) && !strings.Contains(aws.ToString(h.Restore), `ongoing-request="false"`):
		return fmt.Sprintf("is in an archive tier (%s%s) and not restored: it cannot be copied until it is", h.StorageClass, h.ArchiveStatus)
	}
	return ""
}

// uncopyable turns a copy error that is the object's doing into the reason to skip it.
func uncopyable(err error, h *s3.HeadObjectOutput) string {
	code := bots.APIErrorCode(err)
	kms := h.ServerSideEncryption == s3types.ServerSideEncryptionAwsKms || h.ServerSideEncryption == s3types.ServerSideEncryptionAwsKmsDsse
	switch {
	case kms && (code == "AccessDenied" || strings.HasPrefix(code, "KMS.")):
		return fmt.Sprintf("is encrypted with KMS key %s, which the bot cannot use (%s): let its role decrypt with the key in the key policy, or move it by hand",
			aws.ToString(h.SSEKMSKeyId), code)
	case code == "InvalidObjectState":
		return "is in an archive tier and not restored: it cannot be copied until it is"
	case code == "PreconditionFailed":
		return "changed while it was being copied: it is not the content that was read, so nothing was deleted"
	}
	return ""
}

// scannedETag is the ETag GuardDuty scanned for the object, "" when the finding does not say.
func scannedETag(f *finding.Finding, bucket, key string) string {
	for _, o := range f.S3Objects {
		if o.Bucket == bucket && o.Key == key {
			return o.ETag
		}
	}
	return ""
}

// quarantineKey is where an object version goes in the quarantine bucket: under its bucket and version,
// readable; hashed when that would be longer than S3's 1,024-byte key limit.
func quarantineKey(o objectRef) string {
	v := o.Version
	if v == "" {
		v = "unversioned"
	}
	k := o.Bucket + "/" + v + "/" + o.Key
	if len(k) > 1024 {
		sum := sha256.Sum256([]byte(o.Key))
		k = o.Bucket + "/" + v[:min(len(v), 64)] + "/sha256-" + hex.EncodeToString(sum[:])
	}
	return k
}

func putRecord(ctx context.Context, st bots.StateStore, key string, rec objectRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return st.Put(ctx, key, raw)
}

// parseReaders validates the readers parameter: IAM role or user ARNs in the finding's partition.
func parseReaders(in []string, partition string) ([]string, error) {
	var out []string
	for _, r := range in {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !isReader(r) || !strings.HasPrefix(r, "arn:"+partition+":") {
			return nil, faults.Rejectf("%s: reader %q is not an IAM role or user ARN in partition %s", quarantineObjectBot, r, partition)
		}
		out = append(out, r)
	}
	return out, nil
}

func rolePrefix() string {
	if p := os.Getenv(deployment.EnvRolePrefix); p != "" {
		return p
	}
	return deployment.DefaultRolePrefix
}

// quarantineBucketAPI is what preparing the quarantine bucket calls.
type quarantineBucketAPI interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	GetBucketEncryption(context.Context, *s3.GetBucketEncryptionInput, ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	PutBucketEncryption(context.Context, *s3.PutBucketEncryptionInput, ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error)
	GetBucketVersioning(context.Context, *s3.GetBucketVersioningInput, ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	PutBucketVersioning(context.Context, *s3.PutBucketVersioningInput, ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
}

// quarantineBucket is the one quarantine bucket of an account and region. The member roles are deployed
// in one region, but objects live in every region and a copy stays in its object's region (data
// residency, and no cross-region transfer), so the bucket is created by the bot the first time it
// quarantines an object in that account and region, under a name derived from both. Every call names
// the account as the expected owner: a bucket of that name in another account (bucket names are
// global) is never written to, and the quarantine fails saying so.
type quarantineBucket struct {
	Name, Account, Region, Partition string
	Readers                          []string
	RolePrefix                       string
}

// quarantineBucketName is guardbots-quarantine-<account>-<region> (at most 49 characters).
func quarantineBucketName(account, region string) string {
	return "guardbots-quarantine-" + account + "-" + region
}

func (q quarantineBucket) exists(ctx context.Context, api quarantineBucketAPI) (bool, error) {
	_, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(q.Name), ExpectedBucketOwner: aws.String(q.Account)})
	switch code := bots.APIErrorCode(err); {
	case err == nil:
		return true, nil
	case code == "NotFound" || code == "NoSuchBucket":
		return false, nil
	case code == "Forbidden" || code == "AccessDenied":
		return false, faults.Fail(fmt.Errorf("bucket %s is not account %s's (its name is taken in another account) or may not be read: %w", q.Name, q.Account, err))
	default:
		return false, err
	}
}

// ensure creates the bucket when it does not exist and brings its safety settings to what they must be
// (each read first, written only when it differs): public access blocked, SSE-S3 by default, versioning
// on, and guardbots' policy. The policy is guardbots' own: an edit of it is put back on the next
// quarantine, and its readers come from the readers parameter.
func (q quarantineBucket) ensure(ctx context.Context, api quarantineBucketAPI) ([]string, error) {
	var changes []string
	b, owner := aws.String(q.Name), aws.String(q.Account)
	exists, err := q.exists(ctx, api)
	if err != nil {
		return nil, err
	}
	if !exists {
		in := &s3.CreateBucketInput{Bucket: b, ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced}
		if q.Region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(q.Region)}
		}
		if _, err := api.CreateBucket(ctx, in); err != nil && bots.APIErrorCode(err) != "BucketAlreadyOwnedByYou" {
			if bots.APIErrorCode(err) == "BucketAlreadyExists" {
				return changes, faults.Fail(fmt.Errorf("create bucket %s: its name is taken in another account: %w", q.Name, err))
			}
			return changes, fmt.Errorf("create bucket %s: %w", q.Name, err)
		}
		changes = append(changes, fmt.Sprintf("created quarantine bucket %s in %s", q.Name, q.Region))
	}
	full := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
	pab, err := api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b, ExpectedBucketOwner: owner})
	if err != nil && bots.APIErrorCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		return changes, fmt.Errorf("read the public access block of %s: %w", q.Name, err)
	}
	if err != nil || !fullyBlocked(pab.PublicAccessBlockConfiguration) {
		if _, err := api.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, ExpectedBucketOwner: owner, PublicAccessBlockConfiguration: full}); err != nil {
			return changes, fmt.Errorf("block public access to %s: %w", q.Name, err)
		}
		changes = append(changes, "blocked all public access to "+q.Name)
	}
	enc, err := api.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b, ExpectedBucketOwner: owner})
	if err != nil && bots.APIErrorCode(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		return changes, fmt.Errorf("read the default encryption of %s: %w", q.Name, err)
	}
	if err != nil || enc.ServerSideEncryptionConfiguration == nil || len(enc.ServerSideEncryptionConfiguration.Rules) == 0 {
		if _, err := api.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ExpectedBucketOwner: owner,
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
			}}}}); err != nil {
			return changes, fmt.Errorf("set the default encryption of %s: %w", q.Name, err)
		}
		changes = append(changes, "set default encryption SSE-S3 on "+q.Name)
	}
	v, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b, ExpectedBucketOwner: owner})
	if err != nil {
		return changes, fmt.Errorf("read the versioning of %s: %w", q.Name, err)
	}
	if v.Status != s3types.BucketVersioningStatusEnabled {
		// A copy is never overwritten by a later one of the same key.
		if _, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, ExpectedBucketOwner: owner,
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return changes, fmt.Errorf("turn on versioning of %s: %w", q.Name, err)
		}
		changes = append(changes, "turned on versioning of "+q.Name)
	}
	want := q.policy()
	cur, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b, ExpectedBucketOwner: owner})
	if err != nil && bots.APIErrorCode(err) != "NoSuchBucketPolicy" {
		return changes, fmt.Errorf("read the policy of %s: %w", q.Name, err)
	}
	if err != nil || !samePolicy(aws.ToString(cur.Policy), want) {
		if _, err := api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, ExpectedBucketOwner: owner, Policy: aws.String(want)}); err != nil {
			return changes, fmt.Errorf("set the policy of %s: %w", q.Name, err)
		}
		changes = append(changes, fmt.Sprintf("set the policy of %s: readable only by %s", q.Name, q.readersText()))
	}
	return changes, nil
}

// movers are the roles of guardbots' object bots in the bucket's account: the member roles, and the
// bots' Lambda roles for the orchestrator's own account.
func (q quarantineBucket) movers() []string {
	var out []string
	for _, bot := range []string{quarantineObjectBot, releaseObjectBot} {
		for _, name := range []string{q.RolePrefix + "-" + bot, q.RolePrefix + "-lambda-" + bot} {
			out = append(out, fmt.Sprintf("arn:%s:iam::%s:role/%s", q.Partition, q.Account, name))
		}
	}
	return out
}

func (q quarantineBucket) readersText() string {
	if len(q.Readers) == 0 {
		return "guardbots' object bots (no readers configured)"
	}
	return strings.Join(q.Readers, ", ") + " and guardbots' object bots"
}

// policy is the quarantine bucket's policy: TLS only; reading objects denied to every principal but the
// readers and the object bots; writing and deleting objects denied to all but the object bots; and,
// for readers in other accounts, the grant to read.
func (q quarantineBucket) policy() string {
	arn := "arn:" + q.Partition + ":s3:::" + q.Name
	objects := arn + "/*"
	movers := q.movers()
	stmts := []map[string]any{
		{"Sid": "GuardbotsTLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": []string{arn, objects},
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
		{"Sid": "GuardbotsReadOnlyBySecurityTeam", "Effect": "Deny", "Principal": "*",
			"Action":    []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"},
			"Resource":  objects,
			"Condition": map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": append(append([]string{}, q.Readers...), movers...)}}},
		{"Sid": "GuardbotsWriteOnlyByGuardbots", "Effect": "Deny", "Principal": "*",
			"Action":    []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"},
			"Resource":  objects,
			"Condition": map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": movers}}},
	}
	if len(q.Readers) > 0 {
		var accounts []string
		for _, r := range q.Readers {
			root := "arn:" + q.Partition + ":iam::" + strings.Split(r, ":")[4] + ":root"
			if !strings.Contains(strings.Join(accounts, " "), root) {
				accounts = append(accounts, root)
			}
		}
		stmts = append(stmts, map[string]any{"Sid": "GuardbotsSecurityTeamReads", "Effect": "Allow",
			"Principal": map[string]any{"AWS": accounts},
			"Action":    []string{"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"},
			"Resource":  []string{arn, objects},
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": q.Readers}}})
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return string(b)
}

// samePolicy compares two policy documents as JSON values (S3 may return its own spacing).
func samePolicy(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
