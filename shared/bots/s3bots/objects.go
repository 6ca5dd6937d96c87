package s3bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
)

// What s3_quarantine_object and s3_release_object share: the object they move, how it is copied and
// how a copy is checked against its source.

// objectRef is one object version in a bucket; Version "" addresses the current version.
type objectRef struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
}

func (o objectRef) String() string {
	s := "s3://" + o.Bucket + "/" + o.Key
	if o.Version != "" {
		s += " (version " + o.Version + ")"
	}
	return s
}

// copySource is CopyObject's x-amz-copy-source: the bucket and key URL-encoded, the version as a query.
func (o objectRef) copySource() string {
	s := url.PathEscape(o.Bucket) + "/" + strings.ReplaceAll(url.PathEscape(o.Key), "%2F", "/")
	if o.Version != "" {
		s += "?versionId=" + url.QueryEscape(o.Version)
	}
	return s
}

// objectAPI is what both object bots call on objects.
type objectAPI interface {
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPartCopy(context.Context, *s3.UploadPartCopyInput, ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3's limits on copies: CopyObject copies at most 5 GiB, larger objects are copied in parts of at most
// 5 GiB, at most 10,000 of them. Variables so tests can show a multipart copy without 5 GiB of data.
var (
	copyLimit int64 = 5 << 30
	partSize  int64 = 512 << 20
)

const maxParts = 10000

// head reads an object version as it is now, with its checksum; gone is true when it does not exist
// (no such key or version, or a delete marker).
func head(ctx context.Context, api objectAPI, o objectRef, owner string) (*s3.HeadObjectOutput, bool, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), ExpectedBucketOwner: aws.String(owner),
		ChecksumMode: s3types.ChecksumModeEnabled}
	if o.Version != "" {
		in.VersionId = aws.String(o.Version)
	}
	out, err := api.HeadObject(ctx, in)
	switch bots.APIErrorCode(err) {
	case "":
		return out, false, err
	// HEAD answers carry no body: S3 says NotFound (404) for a missing key or version and
	// MethodNotAllowed (405) for a version that is a delete marker.
	case "NotFound", "NoSuchKey", "NoSuchVersion", "MethodNotAllowed", "NoSuchBucket":
		return nil, true, nil
	}
	return nil, false, err
}

// checksum is an object's full-object checksum: the algorithm and its base64 value.
type checksum struct {
	Algorithm string `json:"algorithm,omitempty"`
	Value     string `json:"value,omitempty"`
	// ETag is the MD5 entity tag, used when the object has no checksum (a single-part object not
	// encrypted with KMS).
	ETag string `json:"eTag,omitempty"`
}

func (c checksum) String() string {
	if c.Algorithm != "" {
		return c.Algorithm + " " + c.Value
	}
	return "MD5 ETag " + c.ETag
}

var md5ETagRE = regexp.MustCompile(`^"?[0-9a-f]{32}"?$`)

// fullChecksum is what a copy of h can be checked against, or why nothing can. A composite checksum (of
// a multipart upload's parts) depends on the part sizes, so only a full-object one is compared; without
// one, a single-part object's ETag is its MD5 unless it is encrypted with KMS or a customer key.
func fullChecksum(h *s3.HeadObjectOutput) (checksum, string) {
	if h.ChecksumType != s3types.ChecksumTypeComposite {
		multipart := strings.Contains(aws.ToString(h.ETag), "-")
		for _, c := range []checksum{
			{Algorithm: "CRC64NVME", Value: aws.ToString(h.ChecksumCRC64NVME)},
			{Algorithm: "CRC32C", Value: aws.ToString(h.ChecksumCRC32C)},
			{Algorithm: "CRC32", Value: aws.ToString(h.ChecksumCRC32)},
			{Algorithm: "SHA256", Value: aws.ToString(h.ChecksumSHA256)},
			{Algorithm: "SHA1", Value: aws.ToString(h.ChecksumSHA1)},
		} {
			// Without a type (older responses) a checksum of a multipart object is composite.
			if c.Value != "" && (h.ChecksumType == s3types.ChecksumTypeFullObject || !multipart) {
				return c, ""
			}
		}
	}
	etag := aws.ToString(h.ETag)
	switch {
	case h.ServerSideEncryption == s3types.ServerSideEncryptionAwsKms || h.ServerSideEncryption == s3types.ServerSideEncryptionAwsKmsDsse:
		return checksum{}, "it has no full-object checksum and, encrypted with KMS, its ETag is not an MD5 of its content"
	case !md5ETagRE.MatchString(etag):
		return checksum{}, fmt.Sprintf("it has no full-object checksum and its ETag %s is not an MD5 of its content (a multipart upload)", etag)
	}
	return checksum{ETag: strings.Trim(etag, `"`)}, ""
}

// of reads the same kind of checksum from another object's head.
func (c checksum) of(h *s3.HeadObjectOutput) string {
	switch c.Algorithm {
	case "CRC64NVME":
		return aws.ToString(h.ChecksumCRC64NVME)
	case "CRC32C":
		return aws.ToString(h.ChecksumCRC32C)
	case "CRC32":
		return aws.ToString(h.ChecksumCRC32)
	case "SHA256":
		return aws.ToString(h.ChecksumSHA256)
	case "SHA1":
		return aws.ToString(h.ChecksumSHA1)
	}
	return strings.Trim(aws.ToString(h.ETag), `"`)
}

// multipartable says whether a copy in parts can carry c as a full-object checksum: only the CRCs can
// (S3 computes SHA checksums of a multipart upload per part), and an MD5 ETag never survives parts.
func (c checksum) multipartable() bool {
	return c.Algorithm == "CRC64NVME" || c.Algorithm == "CRC32C" || c.Algorithm == "CRC32"
}

// copyObject copies from (as read in h) to to, encrypted with S3-managed keys, asking S3 for c's
// algorithm; it copies in parts when the object is larger than one copy allows. It returns the copy's
// version id. CopySourceIfMatch makes the copy fail if the source changed since it was read.
func copyObject(ctx context.Context, api objectAPI, from, to objectRef, h *s3.HeadObjectOutput, c checksum, owner string) (string, error) {
	size := aws.ToInt64(h.ContentLength)
	if size > copyLimit {
		return copyInParts(ctx, api, from, to, h, c, owner)
	}
	in := &s3.CopyObjectInput{
		Bucket: aws.String(to.Bucket), Key: aws.String(to.Key), CopySource: aws.String(from.copySource()),
		CopySourceIfMatch: h.ETag, ExpectedBucketOwner: aws.String(owner), ExpectedSourceBucketOwner: aws.String(owner),
		ServerSideEncryption: s3types.ServerSideEncryptionAes256, MetadataDirective: s3types.MetadataDirectiveCopy,
		// Object tags are the uploader's to write: they are not evidence worth a tag-read permission.
		TaggingDirective: s3types.TaggingDirectiveReplace,
	}
	if c.Algorithm != "" {
		in.ChecksumAlgorithm = s3types.ChecksumAlgorithm(c.Algorithm)
	}
	out, err := api.CopyObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

// copyInParts is the multipart copy of an object larger than CopyObject allows, with c (a CRC) as the
// full-object checksum S3 checks at completion. A failed copy is aborted, so no parts are left billed.
func copyInParts(ctx context.Context, api objectAPI, from, to objectRef, h *s3.HeadObjectOutput, c checksum, owner string) (string, error) {
	size := aws.ToInt64(h.ContentLength)
	part := max(partSize, (size+maxParts-1)/maxParts)
	mpu, err := api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(to.Bucket), Key: aws.String(to.Key), ExpectedBucketOwner: aws.String(owner),
		ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		ChecksumAlgorithm:    s3types.ChecksumAlgorithm(c.Algorithm), ChecksumType: s3types.ChecksumTypeFullObject,
		ContentType: h.ContentType, Metadata: h.Metadata,
	})
	if err != nil {
		return "", fmt.Errorf("start a multipart copy of %d bytes: %w", size, err)
	}
	abort := func(cause error) error {
		if _, err := api.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(to.Bucket), Key: aws.String(to.Key), UploadId: mpu.UploadId, ExpectedBucketOwner: aws.String(owner),
		}); err != nil {
			return fmt.Errorf("%w (and aborting upload %s failed: %v)", cause, aws.ToString(mpu.UploadId), err)
		}
		return cause
	}
	var parts []s3types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+part {
		end := min(off+part, size) - 1
		out, err := api.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(to.Bucket), Key: aws.String(to.Key), UploadId: mpu.UploadId, PartNumber: aws.Int32(n),
			CopySource: aws.String(from.copySource()), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
			CopySourceIfMatch: h.ETag, ExpectedBucketOwner: aws.String(owner), ExpectedSourceBucketOwner: aws.String(owner),
		})
		if err != nil {
			return "", abort(fmt.Errorf("copy part %d (bytes %d-%d): %w", n, off, end, err))
		}
		p := s3types.CompletedPart{PartNumber: aws.Int32(n)}
		if r := out.CopyPartResult; r != nil {
			p.ETag, p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME = r.ETag, r.ChecksumCRC32, r.ChecksumCRC32C, r.ChecksumCRC64NVME
		}
		parts = append(parts, p)
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(to.Bucket), Key: aws.String(to.Key), UploadId: mpu.UploadId, ExpectedBucketOwner: aws.String(owner),
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}, ChecksumType: s3types.ChecksumTypeFullObject,
	}
	// S3 refuses to complete the upload when the parts do not add up to the source's checksum.
	switch c.Algorithm {
	case "CRC64NVME":
		in.ChecksumCRC64NVME = aws.String(c.Value)
	case "CRC32C":
		in.ChecksumCRC32C = aws.String(c.Value)
	case "CRC32":
		in.ChecksumCRC32 = aws.String(c.Value)
	}
	out, err := api.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", abort(fmt.Errorf("complete the multipart copy: %w", err))
	}
	return aws.ToString(out.VersionId), nil
}

// verifyCopy reads the copy back and compares its checksum with the source's.
func verifyCopy(ctx context.Context, api objectAPI, copy objectRef, c checksum, owner string) error {
	h, gone, err := head(ctx, api, copy, owner)
	switch {
	case err != nil:
		return fmt.Errorf("read back the copy %s: %w", copy, err)
	case gone:
		return faults.Fail(fmt.Errorf("the copy %s is not there after copying", copy))
	case c.of(h) != c.value():
		return faults.Fail(fmt.Errorf("the copy %s has %s %q, the source %q", copy, c.kind(), c.of(h), c.value()))
	}
	return nil
}

func (c checksum) value() string {
	if c.Algorithm != "" {
		return c.Value
	}
	return c.ETag
}

func (c checksum) kind() string {
	if c.Algorithm != "" {
		return c.Algorithm
	}
	return "MD5 ETag"
}

// deleteVersion deletes exactly o: its version when it has one, else (a bucket never versioned) the
// object only while it still has etag, so an object written since the copy is never deleted.
func deleteVersion(ctx context.Context, api objectAPI, o objectRef, etag, owner string) error {
	in := &s3.DeleteObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key), ExpectedBucketOwner: aws.String(owner)}
	if o.Version != "" {
		in.VersionId = aws.String(o.Version)
	} else if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	_, err := api.DeleteObject(ctx, in)
	return err
}

// objectRecordKey is the state-table key of an object's quarantine record, the same for both bots. The
// key and version are hashed: together they may be longer than a DynamoDB key allows.
func objectRecordKey(account, region string, o objectRef) string {
	sum := sha256.Sum256([]byte(o.Bucket + "\x00" + o.Key + "\x00" + o.Version))
	return "s3-object-quarantine#" + account + "#" + region + "#" + hex.EncodeToString(sum[:])
}
