package s3bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
)

var _ = bottest.RegisterContract(releaseObjectBot, bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newObjectEnv(t, releaseObjectBot, stubs...)
		e.onlyScanned()
		e.quarantined()
		return bottest.World{
			Request: e.request,
			Rec:     e.Rec,
			State:   e.state,
			Gone:    func(req *bots.Request) { req.Finding.S3Objects[0].VersionID = "never-quarantined" },
		}
	},
	Again:    bots.StatusSkipped,
	Deny:     "s3:CopyObject",
	Throttle: "s3:HeadObject",
})

func TestReleaseObject_PutsTheContentBackAndRemovesTheCopyAndRecord(t *testing.T) {
	e := newObjectEnv(t, releaseObjectBot)
	e.onlyScanned() // after the quarantine the key is empty

	e.quarantined()
	res, err := bottest.Run(t, releaseObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if got := e.get(e.bucket, e.key, ""); string(got) != string(e.badBody) {
		t.Errorf("the key reads %q after the release", got)
	}
	if got := e.get(e.qbucket, e.bucket+"/"+e.bad+"/"+e.key, ""); got != nil {
		t.Errorf("the quarantine copy is still readable: %q", got)
	}
	if n := len(e.store.Snapshot()); n != 0 {
		t.Errorf("%d record(s) left", n)
	}
	if !strings.Contains(strings.Join(res.Changes, "\n"), "original version id "+e.bad+" cannot be restored") {
		t.Errorf("changes %q do not say the version id is new", res.Changes)
	}
}

func TestReleaseObject_AKeyWrittenSinceIsLeftAlone(t *testing.T) {
	e := newObjectEnv(t, releaseObjectBot)
	e.quarantined() // the later clean version is the key's current object
	before := e.state(t)
	res, err := bottest.Run(t, releaseObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "now holds another object") {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if e.state(t) != before || slices.Contains(bottest.Writes(e.Rec.Ops()), "s3:CopyObject") {
		t.Errorf("the release changed things around a newer object: %v", e.Rec.Ops())
	}
}

func TestReleaseObject_AQuarantineThatNeverDeletedOnlyRemovesTheCopy(t *testing.T) {
	e := newObjectEnv(t, releaseObjectBot)
	e.onlyScanned()
	// The quarantine copied and recorded, then its delete failed.
	req := e.request(false)
	req.AWS = bottest.Config(e.URL, bottest.StubError("s3:DeleteObject", "InternalError", "boom"), e.headShim())
	if _, err := bottest.Run(t, quarantineObjectBot, req); err == nil {
		t.Fatal("want the quarantine's delete to fail")
	}
	res, err := bottest.Run(t, releaseObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusAlreadyDone || !strings.Contains(res.Reason, "never deleted") {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if got := e.get(e.bucket, e.key, e.bad); string(got) != string(e.badBody) || len(e.store.Snapshot()) != 0 {
		t.Errorf("source %q, records %v", got, e.store.Snapshot())
	}
}

// onlyScanned takes the later clean version away: the scanned version is the key's current one, as when
// malware was just uploaded.
func (e *objectEnv) onlyScanned() {
	e.t.Helper()
	if _, err := e.admin.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(e.key), VersionId: aws.String(e.good)}); err != nil {
		e.t.Fatal(err)
	}
}

func TestReleaseObject_ALargeObjectGoesBackInPartsAndAFailedPartIsAborted(t *testing.T) {
	defer func(l, p int64) { copyLimit, partSize = l, p }(copyLimit, partSize)
	copyLimit, partSize = 16, 20
	fail := true
	e := newObjectEnv(t, releaseObjectBot, func(st *middleware.Stack) error {
		// Part 2 of the first copy back fails; every other call reaches kumo.
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("fail part 2 once", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*s3.UploadPartCopyInput); ok && fail && aws.ToInt32(p.PartNumber) == 2 && !strings.HasPrefix(aws.ToString(p.Bucket), "guardbots-quarantine-") {
				fail = false
				return middleware.InitializeOutput{}, middleware.Metadata{}, bottest.APIError("InternalError", "We encountered an internal error")
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	e.alg = "CRC32"
	e.onlyScanned()
	e.quarantined()
	if _, err := bottest.Run(t, releaseObjectBot, e.request(false)); err == nil || !slices.Contains(e.Rec.Ops(), "s3:AbortMultipartUpload") {
		t.Fatalf("err = %v, calls %v: want the failed part's upload aborted", err, e.Rec.Ops())
	}
	if e.get(e.bucket, e.key, "") != nil || len(e.store.Snapshot()) != 1 {
		t.Fatal("a failed release left an object at the key or lost the record")
	}
	res, err := bottest.Run(t, releaseObjectBot, e.request(false))
	if err != nil || res.Status != bots.StatusRemediated || string(e.get(e.bucket, e.key, "")) != string(e.badBody) {
		t.Fatalf("second release: %+v, %v", res, err)
	}
	if ops := e.Rec.Ops(); !slices.Contains(ops, "s3:CompleteMultipartUpload") || slices.Contains(ops, "s3:CopyObject") {
		t.Errorf("calls %v, want a multipart copy back", ops)
	}
}
