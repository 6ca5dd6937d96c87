package s3bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// bucketEnv is kumo with two buckets: one without any public access block, one fully blocked.
type bucketEnv struct {
	bottest.Env
	open, blocked string
}

func newBucketEnv(t *testing.T, stubs ...func(*middleware.Stack) error) bucketEnv {
	t.Helper()
	e := bottest.NewEnv(t, "s3_block_public_access", stubs...)
	admin := s3.NewFromConfig(e.Admin())
	ctx := context.Background()
	open, blocked := bottest.UniqueName("open-data"), bottest.UniqueName("locked-data")
	for _, b := range []string{open, blocked} {
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(blocked), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
	}}); err != nil {
		t.Fatal(err)
	}
	return bucketEnv{Env: e, open: open, blocked: blocked}
}

func bucketFinding(names ...string) *finding.Finding {
	f := &finding.Finding{
		ID: bottest.FindingID, Type: "Policy:S3/BucketAnonymousAccessGranted", AccountID: bottest.Account, Region: bottest.Region,
		Partition: "aws", ResourceKind: finding.KindS3Bucket,
	}
	for _, n := range names {
		f.Buckets = append(f.Buckets, finding.Bucket{Name: n})
	}
	return f
}

func (e bucketEnv) run(t *testing.T, dryRun bool, buckets ...string) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "s3_block_public_access", e.Request(bucketFinding(buckets...), dryRun))
}

// block reads the bucket's public access block back from kumo.
func (e bucketEnv) block(t *testing.T, bucket string) string {
	t.Helper()
	cfg, exists, err := bucketPublicAccessBlock(context.Background(), s3.NewFromConfig(e.Admin()), bucket, bottest.Account)
	if err != nil || !exists {
		t.Fatalf("read back %s: exists %v, %v", bucket, exists, err)
	}
	return describeBlock(cfg)
}

const allBlocked = "BlockPublicAcls=true IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true"

var _ = bottest.RegisterContract("s3_block_public_access", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newBucketEnv(t, stubs...)
		return bottest.World{
			Request: func(dryRun bool) bots.Request { return e.Request(bucketFinding(e.open), dryRun) },
			Rec:     e.Rec,
			State:   func(t *testing.T) string { return e.block(t, e.open) },
			Gone:    func(req *bots.Request) { req.Finding.Buckets = []finding.Bucket{{Name: "gone-bucket-1"}} },
		}
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "s3:PutPublicAccessBlock",
	Throttle: "s3:GetPublicAccessBlock",
})

func TestS3BlockPublicAccess_BlocksEveryBucketInTheFinding(t *testing.T) {
	e := newBucketEnv(t)
	other := bottest.UniqueName("more-open-data")
	if _, err := s3.NewFromConfig(e.Admin()).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	res, err := e.run(t, false, e.open, other, e.blocked)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v", res)
	}
	for _, b := range []string{e.open, other, e.blocked} {
		if got := e.block(t, b); got != allBlocked {
			t.Errorf("%s reads back %q", b, got)
		}
	}
	if res.Before[e.open] != "BlockPublicAcls=false IgnorePublicAcls=false BlockPublicPolicy=false RestrictPublicBuckets=false" || res.After[e.open] != allBlocked {
		t.Errorf("before/after = %v / %v", res.Before, res.After)
	}
	if ops := e.Rec.Ops(); slices.Equal(ops, nil) || strings.Count(strings.Join(ops, " "), "s3:PutPublicAccessBlock") != 2 {
		t.Errorf("calls %v, want two puts (the blocked bucket is left alone)", ops)
	}
}

func TestS3BlockPublicAccess_MissingBucketIsReportedAndAllMissingIsSkipped(t *testing.T) {
	e := newBucketEnv(t)
	res, err := e.run(t, false, e.open, "gone-bucket-1")
	if err != nil || res.Status != bots.StatusRemediated || res.Before["gone-bucket-1"] != "bucket gone" || !slices.Contains(res.Changes, "bucket gone-bucket-1 no longer exists") {
		t.Errorf("one gone: %+v, %v", res, err)
	}
	res, err = e.run(t, false, "gone-bucket-1", "gone-bucket-2")
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "gone-bucket-1, gone-bucket-2") {
		t.Errorf("all gone: %+v, %v", res, err)
	}
}

func TestS3BlockPublicAccess_FindingWithoutBucketsIsSkippedAndBadNameRejected(t *testing.T) {
	e := newBucketEnv(t)
	if res, err := e.run(t, false); err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("no buckets: %+v, %v", res, err)
	}
	if _, err := e.run(t, false, "Bad/Name"); faults.Classify(err) != faults.Rejected {
		t.Errorf("bad name: %v, want a rejection", err)
	}
}

func TestS3BlockPublicAccess_AccessDeniedIsAFailedErrorNamingWhatWasDone(t *testing.T) {
	puts := 0
	e := newBucketEnv(t, bottest.StubCall("s3:PutPublicAccessBlock", func(in any) (any, error) {
		puts++
		if puts == 2 {
			return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied", Fault: smithy.FaultClient}
		}
		return &s3.PutPublicAccessBlockOutput{}, nil
	}))
	first, second := e.open, bottest.UniqueName("second-open")
	if _, err := s3.NewFromConfig(e.Admin()).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.run(t, false, first, second)
	if k := faults.Classify(err); k != faults.Failed || !strings.Contains(err.Error(), "after blocking "+first) || !strings.Contains(err.Error(), second) {
		t.Errorf("err = %v (%s), want a Failed error naming the bucket and what was blocked before", err, k)
	}
}
