package s3bots

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/finding"
)

// objectEnv is kumo with a versioned bucket holding a malicious object version under a newer clean one,
// the state table in memory, and the HeadObject shim: kumo answers HeadObject for the current version
// only and without checksums, so the shim answers it from kumo's GetObject of the version asked for,
// with the checksum S3 reports computed from the bytes kumo holds (alg: "SHA256", "CRC32" or none).
// Everything else — versions, copies, multipart copies, deletes, the quarantine bucket's settings and
// policy — is kumo's own.
type objectEnv struct {
	bottest.Env
	t                 *testing.T
	admin             *s3.Client
	store             *ec2test.UndoState
	bucket, key       string
	bad, good         string // version ids: the scanned (malicious) one and a later clean one
	badBody, goodBody []byte
	badETag           string
	alg               string
	headExtra         func(in *s3.HeadObjectInput, out *s3.HeadObjectOutput)
	qbucket           string
	// account is the finding's, one per world: kumo keeps one S3 namespace for every server in the
	// process, and the quarantine bucket is per account and region.
	account string
}

var accountSeq atomic.Int64

func uniqueAccount() string {
	return fmt.Sprintf("2%06d%05d", os.Getpid()%1000000, accountSeq.Add(1))
}

func newObjectEnv(t *testing.T, bot string, stubs ...func(*middleware.Stack) error) *objectEnv {
	t.Helper()
	e := &objectEnv{t: t, store: &ec2test.UndoState{}, alg: "SHA256", key: "incoming/2026/invoice 1187.zip",
		badBody: []byte("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"), goodBody: []byte("a clean invoice")}
	e.bucket = bottest.UniqueName("customer-uploads")
	e.account = uniqueAccount()
	e.qbucket = quarantineBucketName(e.account, bottest.Region)
	// The shim goes last: the contract's and a test's stubs answer first.
	e.Env = bottest.NewEnv(t, bot, append(stubs, e.headShim())...)
	e.admin = s3.NewFromConfig(e.Admin())
	ctx := context.Background()
	if _, err := e.admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(e.bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	e.bad, e.badETag = e.put(e.key, e.badBody)
	e.good, _ = e.put(e.key, e.goodBody)
	return e
}

func (e *objectEnv) put(key string, body []byte) (version, etag string) {
	e.t.Helper()
	out, err := e.admin.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.VersionId), aws.ToString(out.ETag)
}

// get reads a version's bytes back from kumo; nil when it is gone.
func (e *objectEnv) get(bucket, key, version string) []byte {
	e.t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := e.admin.GetObject(context.Background(), in)
	if err != nil {
		return nil
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func (e *objectEnv) headShim() func(*middleware.Stack) error {
	return bottest.StubCall("s3:HeadObject", func(in any) (any, error) {
		h := in.(*s3.HeadObjectInput)
		out, err := e.admin.GetObject(context.Background(), &s3.GetObjectInput{Bucket: h.Bucket, Key: h.Key, VersionId: h.VersionId})
		if err != nil {
			return nil, bottest.APIError("NotFound", "Not Found")
		}
		defer out.Body.Close()
		body, _ := io.ReadAll(out.Body)
		ho := &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(body))), ETag: out.ETag, VersionId: out.VersionId,
			ServerSideEncryption: out.ServerSideEncryption, SSEKMSKeyId: out.SSEKMSKeyId, ContentType: out.ContentType, Metadata: out.Metadata}
		if h.ChecksumMode == s3types.ChecksumModeEnabled {
			switch e.alg {
			case "SHA256":
				sum := sha256.Sum256(body)
				ho.ChecksumSHA256, ho.ChecksumType = aws.String(base64.StdEncoding.EncodeToString(sum[:])), s3types.ChecksumTypeFullObject
			case "CRC32":
				ho.ChecksumCRC32, ho.ChecksumType = aws.String(crc32b64(body)), s3types.ChecksumTypeFullObject
			}
		}
		if e.headExtra != nil {
			e.headExtra(h, ho)
		}
		return ho, nil
	})
}

func crc32b64(b []byte) string {
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(buf[:])
}

// objectFinding is GuardDuty's finding of the scanned version.
func (e *objectEnv) objectFinding() *finding.Finding {
	return &finding.Finding{
		ID: bottest.FindingID, Type: "Object:S3/MaliciousFile", AccountID: e.account, Region: bottest.Region,
		Partition: "aws", ResourceKind: finding.KindS3Object, ResourceType: "S3Object",
		Buckets:   []finding.Bucket{{Name: e.bucket}},
		S3Objects: []finding.S3Object{{Bucket: e.bucket, Key: e.key, VersionID: e.bad, ETag: e.badETag}},
	}
}

func (e *objectEnv) request(dryRun bool) bots.Request {
	req := e.Request(e.objectFinding(), dryRun)
	req.State = e.store
	return req
}

// state is what the bots may change: every version of the key, the quarantine bucket's objects, the
// records.
func (e *objectEnv) state(t *testing.T) string {
	t.Helper()
	return e.listState(e.bucket, e.qbucket)
}

// sourceState is the state without the quarantine bucket: an object skipped only once the copy was
// refused (a KMS key the bot cannot use) leaves the quarantine bucket prepared, and nothing else.
func (e *objectEnv) sourceState(t *testing.T) string {
	t.Helper()
	return e.listState(e.bucket)
}

func (e *objectEnv) listState(buckets ...string) string {
	var b strings.Builder
	for _, bucket := range buckets {
		out, err := e.admin.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
		if err != nil {
			b.WriteString(bucket + ": none; ")
			continue
		}
		for _, v := range out.Versions {
			b.WriteString(bucket + "/" + aws.ToString(v.Key) + "@" + aws.ToString(v.VersionId) + " ")
		}
		for _, m := range out.DeleteMarkers {
			b.WriteString(bucket + "/" + aws.ToString(m.Key) + "@" + aws.ToString(m.VersionId) + "(deleted) ")
		}
	}
	for k, v := range e.store.Snapshot() {
		b.WriteString(k + "=" + v + " ")
	}
	return b.String()
}

// quarantined runs s3_quarantine_object outside the recorded clients, as a world for s3_release_object.
func (e *objectEnv) quarantined() {
	e.t.Helper()
	req := e.request(false)
	req.AWS = bottest.Config(e.URL, e.headShim())
	res, err := bottest.Run(e.t, quarantineObjectBot, req)
	if err != nil || res.Status != bots.StatusRemediated {
		e.t.Fatalf("quarantine for the release's world: %+v, %v", res, err)
	}
}
