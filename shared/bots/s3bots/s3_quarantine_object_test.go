package s3bots

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
)

var _ = bottest.RegisterContract(quarantineObjectBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newObjectEnv(t, quarantineObjectBot, stubs...)
		return bottest.World{
			Request: e.request,
			Rec:     e.Rec,
			State:   e.state,
			Gone:    func(req *bots.Request) { req.Finding.S3Objects[0].Key = "never/uploaded.zip" },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "s3:CopyObject",
	Throttle: "s3:HeadObject",
})

func TestQuarantineObject_MovesTheScannedVersionAndRecordsBoth(t *testing.T) {
	e := newObjectEnv(t, quarantineObjectBot)
	req := e.request(false)
	req.Params = bots.Params{"readers": []string{"arn:aws:iam::999988887777:role/security-forensics"}}
	res, err := bottest.Run(t, quarantineObjectBot, req)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if e.get(e.bucket, e.key, e.bad) != nil {
		t.Error("the scanned version is still in its bucket")
	}
	if got := e.get(e.bucket, e.key, e.good); string(got) != string(e.goodBody) {
		t.Errorf("the later clean version reads %q: another version than the scanned one was touched", got)
	}
	qkey := e.bucket + "/" + e.bad + "/" + e.key
	if got := e.get(e.qbucket, qkey, ""); string(got) != string(e.badBody) {
		t.Errorf("quarantine copy s3://%s/%s reads %q", e.qbucket, qkey, got)
	}
	var rec objectRecord
	raw, ok, _ := e.store.Get(context.Background(), objectRecordKey(e.account, bottest.Region, objectRef{e.bucket, e.key, e.bad}))
	if !ok || json.Unmarshal(raw, &rec) != nil || !rec.Deleted || rec.Copy.Key != qkey || rec.Checksum.Algorithm != "SHA256" || rec.Source.Version != e.bad {
		t.Errorf("record = %s", raw)
	}
	ops := e.Rec.Ops()
	if i, j := slices.Index(ops, "s3:PutBucketPolicy"), slices.Index(ops, "s3:CopyObject"); i < 0 || j < i {
		t.Errorf("calls %v: the bucket's policy must be in place before the copy", ops)
	}
	if i, j := slices.Index(ops, "s3:CopyObject"), slices.Index(ops, "s3:DeleteObject"); j < i || e.store.Puts < 1 {
		t.Errorf("calls %v (%d record writes): the delete must follow the copy and its record", ops, e.store.Puts)
	}
	// The quarantine bucket as kumo holds it.
	ctx := context.Background()
	pab, err := e.admin.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(e.qbucket)})
	if err != nil || !fullyBlocked(pab.PublicAccessBlockConfiguration) {
		t.Errorf("quarantine bucket public access block: %+v, %v", pab, err)
	}
	enc, err := e.admin.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(e.qbucket)})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != s3types.ServerSideEncryptionAes256 {
		t.Errorf("quarantine bucket encryption: %+v, %v", enc, err)
	}
	v, err := e.admin.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(e.qbucket)})
	if err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Errorf("quarantine bucket versioning: %+v, %v", v, err)
	}
	pol, err := e.admin.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(e.qbucket)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Sid, Effect string
			Action      any
			Condition   map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil {
		t.Fatal(err)
	}
	readers := ""
	for _, s := range doc.Statement {
		if s.Sid == "GuardbotsReadOnlyBySecurityTeam" {
			b, _ := json.Marshal(s.Condition["ArnNotLike"]["aws:PrincipalArn"])
			readers = string(b)
		}
	}
	for _, want := range []string{"arn:aws:iam::999988887777:role/security-forensics", "arn:aws:iam::" + e.account + ":role/guardbots-s3_release_object"} {
		if !strings.Contains(readers, want) {
			t.Errorf("the read-deny spares %s, not %s", readers, want)
		}
	}
}

func TestQuarantineObject_AnExistingQuarantineBucketIsReusedAndRepaired(t *testing.T) {
	e := newObjectEnv(t, quarantineObjectBot)
	ctx := context.Background()
	if _, err := e.admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.qbucket)}); err != nil {
		t.Fatal(err)
	}
	// Someone loosened it: no public access block, an open policy.
	if _, err := e.admin.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(e.qbucket), Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, quarantineObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if slices.Contains(e.Rec.Ops(), "s3:CreateBucket") {
		t.Error("an existing quarantine bucket was created again")
	}
	joined := strings.Join(res.Changes, "\n")
	for _, want := range []string{"blocked all public access to " + e.qbucket, "set the policy of " + e.qbucket} {
		if !strings.Contains(joined, want) {
			t.Errorf("changes %q do not say %q", joined, want)
		}
	}
}

func TestQuarantineObject_SkipsWithTheReasonAndChangesNothing(t *testing.T) {
	future := time.Now().Add(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name  string
		setup func(e *objectEnv) []func(*middleware.Stack) error
		want  string
	}{
		{"ReplacedSinceTheScan", func(e *objectEnv) []func(*middleware.Stack) error {
			e.badETag = `"0123456789abcdef0123456789abcdef"`
			return nil
		}, "replaced since the scan"},
		{"LegalHold", func(e *objectEnv) []func(*middleware.Stack) error {
			e.headExtra = func(_ *s3.HeadObjectInput, h *s3.HeadObjectOutput) {
				h.ObjectLockLegalHoldStatus = s3types.ObjectLockLegalHoldStatusOn
			}
			return nil
		}, "legal hold"},
		{"Retention", func(e *objectEnv) []func(*middleware.Stack) error {
			e.headExtra = func(_ *s3.HeadObjectInput, h *s3.HeadObjectOutput) {
				h.ObjectLockMode, h.ObjectLockRetainUntilDate = s3types.ObjectLockModeCompliance, &future
			}
			return nil
		}, "retained by Object Lock (COMPLIANCE mode)"},
		{"MFADelete", func(e *objectEnv) []func(*middleware.Stack) error {
			return []func(*middleware.Stack) error{bottest.StubCall("s3:GetBucketVersioning", func(any) (any, error) {
				return &s3.GetBucketVersioningOutput{Status: s3types.BucketVersioningStatusEnabled, MFADelete: s3types.MFADeleteStatusEnabled}, nil
			})}
		}, "MFA Delete"},
		{"CustomerKey", func(e *objectEnv) []func(*middleware.Stack) error {
			e.headExtra = func(_ *s3.HeadObjectInput, h *s3.HeadObjectOutput) { h.SSECustomerAlgorithm = aws.String("AES256") }
			return nil
		}, "customer-provided key"},
		{"KMSKeyTheBotCannotUse", func(e *objectEnv) []func(*middleware.Stack) error {
			e.headExtra = func(_ *s3.HeadObjectInput, h *s3.HeadObjectOutput) {
				h.ServerSideEncryption, h.SSEKMSKeyId = s3types.ServerSideEncryptionAwsKms, aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd")
			}
			return []func(*middleware.Stack) error{bottest.StubError("s3:CopyObject", "AccessDenied", "Access Denied")}
		}, "KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd, which the bot cannot use"},
		{"NoChecksumToCheckACopyBy", func(e *objectEnv) []func(*middleware.Stack) error {
			e.alg = ""
			e.headExtra = func(_ *s3.HeadObjectInput, h *s3.HeadObjectOutput) {
				h.ETag = aws.String(`"9b2cf535f27731c974343645a3985328-3"`)
			}
			e.badETag = ""
			return nil
		}, "not an MD5 of its content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stubs []func(*middleware.Stack) error
			e := newObjectEnv(t, quarantineObjectBot, func(st *middleware.Stack) error {
				for _, s := range stubs {
					if err := s(st); err != nil {
						return err
					}
				}
				return nil
			})
			stubs = tc.setup(e)
			before := e.sourceState(t)
			res, err := bottest.Run(t, quarantineObjectBot, e.request(false))
			if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, tc.want) {
				t.Fatalf("result = %+v, %v; want skipped saying %q", res, err, tc.want)
			}
			if after := e.sourceState(t); after != before {
				t.Errorf("the skip changed things:\nbefore %s\n after %s", before, after)
			}
			if w := bottest.Writes(e.Rec.Ops()); slices.Contains(w, "s3:DeleteObject") {
				t.Errorf("a skipped object was deleted: %v", w)
			}
		})
	}
}

func TestQuarantineObject_WithoutAChecksumTheMD5ETagChecksTheCopy(t *testing.T) {
	e := newObjectEnv(t, quarantineObjectBot)
	e.alg = ""
	res, err := bottest.Run(t, quarantineObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusRemediated || !strings.Contains(res.After["checksum"], "MD5 ETag "+strings.Trim(e.badETag, `"`)) {
		t.Fatalf("result = %+v, %v", res, err)
	}
}

func TestQuarantineObject_LargeObjectIsCopiedInPartsWithItsCRC(t *testing.T) {
	defer func(l, p int64) { copyLimit, partSize = l, p }(copyLimit, partSize)
	copyLimit, partSize = 16, 20 // the 68-byte test file in four parts
	e := newObjectEnv(t, quarantineObjectBot)
	e.alg = "CRC32"
	var complete *s3.CompleteMultipartUploadInput
	e.Config.APIOptions = append(e.Config.APIOptions, bottest.ObserveOp("s3:CompleteMultipartUpload", func(in any) { complete = in.(*s3.CompleteMultipartUploadInput) }))
	res, err := bottest.Run(t, quarantineObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	ops := e.Rec.Ops()
	if slices.Contains(ops, "s3:CopyObject") || countOf(ops, "s3:UploadPartCopy") != 4 || !slices.Contains(ops, "s3:CompleteMultipartUpload") {
		t.Errorf("calls %v, want a multipart copy of four parts and no CopyObject", ops)
	}
	if complete == nil || aws.ToString(complete.ChecksumCRC32) != crc32b64(e.badBody) || complete.ChecksumType != s3types.ChecksumTypeFullObject {
		t.Errorf("CompleteMultipartUpload did not carry the source's full-object CRC32 %s: %+v", crc32b64(e.badBody), complete)
	}
	if got := e.get(e.qbucket, e.bucket+"/"+e.bad+"/"+e.key, ""); string(got) != string(e.badBody) {
		t.Errorf("the multipart copy reads %q", got)
	}
}

func TestQuarantineObject_AFailedPartAbortsTheUploadAndKeepsTheSource(t *testing.T) {
	defer func(l, p int64) { copyLimit, partSize = l, p }(copyLimit, partSize)
	copyLimit, partSize = 16, 20
	parts := 0
	e := newObjectEnv(t, quarantineObjectBot, bottest.StubCall("s3:UploadPartCopy", func(in any) (any, error) {
		if parts++; parts == 2 {
			return nil, bottest.APIError("InternalError", "We encountered an internal error")
		}
		return &s3.UploadPartCopyOutput{CopyPartResult: &s3types.CopyPartResult{ETag: aws.String(`"p"`)}}, nil
	}))
	e.alg = "CRC32"
	if _, err := bottest.Run(t, quarantineObjectBot, e.request(false)); err == nil || !strings.Contains(err.Error(), "copy part 2") {
		t.Fatalf("err = %v, want the failed part named", err)
	}
	if !slices.Contains(e.Rec.Ops(), "s3:AbortMultipartUpload") {
		t.Errorf("calls %v: the upload was not aborted", e.Rec.Ops())
	}
	if e.get(e.bucket, e.key, e.bad) == nil || len(e.store.Snapshot()) != 0 {
		t.Error("the source was deleted or a record written after a failed copy")
	}
}

func TestQuarantineObject_ACopyWhoseChecksumDiffersFailsAndKeepsTheSource(t *testing.T) {
	var e *objectEnv
	e = newObjectEnv(t, quarantineObjectBot, bottest.StubCall("s3:CopyObject", func(in any) (any, error) {
		c := in.(*s3.CopyObjectInput)
		// A copy that came out different (a fault in transit, or someone writing the key meanwhile).
		_, err := e.admin.PutObject(context.Background(), &s3.PutObjectInput{Bucket: c.Bucket, Key: c.Key, Body: strings.NewReader("truncated")})
		return &s3.CopyObjectOutput{}, err
	}))
	_, err := bottest.Run(t, quarantineObjectBot, e.request(false))
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "the source is left in place") || !strings.Contains(err.Error(), "SHA256") {
		t.Fatalf("err = %v (%s), want a failure naming the checksum", err, faults.Classify(err))
	}
	if e.get(e.bucket, e.key, e.bad) == nil || len(e.store.Snapshot()) != 0 || slices.Contains(e.Rec.Ops(), "s3:DeleteObject") {
		t.Error("the source was deleted or a record written for a copy that does not match")
	}
}

func TestQuarantineObject_ARerunAfterAFailedDeleteResumesFromTheRecord(t *testing.T) {
	failed := false
	e := newObjectEnv(t, quarantineObjectBot, func(st *middleware.Stack) error {
		return bottest.StubCall("s3:DeleteObject", func(any) (any, error) {
			failed = true
			return nil, bottest.APIError("InternalError", "try again")
		})(st)
	})
	if _, err := bottest.Run(t, quarantineObjectBot, e.request(false)); err == nil || !failed {
		t.Fatalf("first run: %v, want the delete's error", err)
	}
	if e.get(e.bucket, e.key, e.bad) == nil || len(e.store.Snapshot()) != 1 {
		t.Fatal("after a failed delete the source must remain and the record exist")
	}
	// The second run uses a client without the failing delete.
	req := e.request(false)
	rec := bottest.NewRecorder("")
	req.AWS = bottest.Config(e.URL, rec.Option, e.headShim())
	res, err := bottest.Run(t, quarantineObjectBot, req)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	if slices.Contains(rec.Ops(), "s3:CopyObject") || e.get(e.bucket, e.key, e.bad) != nil {
		t.Errorf("re-run calls %v: it must not copy again, and must delete the source", rec.Ops())
	}
}

func TestQuarantineObject_ABucketOfTheNameInAnotherAccountIsNeverWritten(t *testing.T) {
	e := newObjectEnv(t, quarantineObjectBot, bottest.StubError("s3:HeadBucket", "Forbidden", "Forbidden"))
	before := e.state(t)
	_, err := bottest.Run(t, quarantineObjectBot, e.request(false))
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "taken in another account") {
		t.Fatalf("err = %v, want a failure saying the name is taken", err)
	}
	if w := bottest.Writes(e.Rec.Ops()); len(w) > 0 || e.state(t) != before {
		t.Errorf("wrote %v to a bucket the account does not own", w)
	}
}

func TestQuarantineObject_ReadersMustBeIAMPrincipalsAndTwoObjectsNeedAPerson(t *testing.T) {
	e := newObjectEnv(t, quarantineObjectBot)
	req := e.request(false)
	req.Params = bots.Params{"readers": []string{"*"}}
	if _, err := bottest.Run(t, quarantineObjectBot, req); faults.Classify(err) != faults.Rejected {
		t.Errorf("readers [*]: err = %v, want a rejection", err)
	}
	req = e.request(false)
	req.Finding.S3Objects = append(req.Finding.S3Objects, req.Finding.S3Objects[0])
	req.Finding.S3Objects[1].Key = "other.zip"
	if res, err := bottest.Run(t, quarantineObjectBot, req); err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "2 objects") {
		t.Errorf("two objects: %+v, %v", res, err)
	}
}

func countOf(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}
