package s3bots

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// releaseObjectBot is the bot's name, in its messages and its declaration.
const releaseObjectBot = "s3_release_object"

func init() {
	bots.Register(bots.Bot{
		Name: releaseObjectBot,
		Summary: "Undo s3_quarantine_object: copy the quarantined object back to its bucket and key (as a new version), " +
			"check its checksum, then delete the quarantine copy and the record. A key written to since is left alone.",
		Resources:  []finding.ResourceKind{finding.KindS3Object},
		Targets:    []finding.TargetKind{finding.TargetS3Object, finding.TargetBucket},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"s3:HeadObject", "s3:CopyObject", "s3:CreateMultipartUpload", "s3:UploadPartCopy", "s3:CompleteMultipartUpload", "s3:AbortMultipartUpload", "s3:DeleteObject"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return releaseObject(ctx, s3.NewFromConfig(req.AWS), req)
		},
	})
}

// releaseObject restores the object from its quarantine record. The original version id cannot come
// back (S3 assigns ids), so the object returns as a new version with the same content, metadata and
// key, encrypted by its bucket's default (the record keeps how it was encrypted before).
func releaseObject(ctx context.Context, api objectAPI, req bots.Request) (bots.Result, error) {
	res, t, err := bots.Begin(releaseObjectBot, req, finding.TargetS3Object)
	if err != nil {
		return res, err
	}
	if req.State == nil {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: no state table to read the quarantine record from: set %s", releaseObjectBot, deployment.EnvStateTable))
	}
	bucket, key := t.Object()
	src, owner, where := objectRef{Bucket: bucket, Key: key, Version: t.Version}, t.Account, t.Where()
	fail := func(what string, err error) (bots.Result, error) {
		return bots.Result{}, fmt.Errorf("%s: %s %s: %w", releaseObjectBot, what, where, err)
	}
	rkey := objectRecordKey(t.Account, t.Region, src)
	raw, found, err := req.State.Get(ctx, rkey)
	if err != nil {
		return fail("read the quarantine record of", err)
	}
	if !found {
		return res, bots.Skip("no quarantine record for %s (not quarantined by guardbots, or already released)", src)
	}
	var rec objectRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: quarantine record %s is not valid JSON: %w", releaseObjectBot, where, rkey, err))
	}
	res.Resources = []string{src.String(), rec.Copy.String()}
	res.Before = map[string]string{"quarantine": rec.Copy.String(), "object": "deleted"}

	qh, gone, err := head(ctx, api, rec.Copy, owner)
	if err != nil {
		return fail("read the quarantine copy of", err)
	}
	if gone {
		return res, bots.Skip("the quarantine copy %s no longer exists: nothing to restore (record %s kept)", rec.Copy, rkey)
	}
	if got := rec.Checksum.of(qh); got != rec.Checksum.value() {
		return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: the quarantine copy %s has %s %q, the record %q: it is not what was quarantined", releaseObjectBot, where, rec.Copy, rec.Checksum.kind(), got, rec.Checksum.value()))
	}
	// The key as it is now: something written there since the quarantine is someone's newer object.
	back := objectRef{Bucket: bucket, Key: key}
	cur, curGone, err := head(ctx, api, back, owner)
	if err != nil {
		return fail("read the key of", err)
	}
	if !curGone {
		res.Before["object"] = "key holds " + aws.ToString(cur.ETag)
		if !rec.Deleted && aws.ToString(cur.ETag) == rec.ETag {
			// The quarantine stopped before its delete: the source is still there.
			return finishRelease(ctx, api, req, res, rec, rkey, owner, where, "the source was never deleted")
		}
		return res, bots.Skip("key %s/%s now holds another object (ETag %s) written since the quarantine; restoring would replace it, so "+
			"copy %s back by hand if it is wanted", bucket, key, aws.ToString(cur.ETag), rec.Copy)
	}

	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = []string{
			fmt.Sprintf("would copy %s back to s3://%s/%s and check its %s", rec.Copy, bucket, key, rec.Checksum.kind()),
			fmt.Sprintf("would delete the quarantine copy %s and record %s", rec.Copy, rkey),
		}
		return res, nil
	}
	version, err := copyObject(ctx, api, rec.Copy, back, qh, rec.Checksum, owner)
	if err != nil {
		return fail("copy back from "+rec.Copy.String()+" to", err)
	}
	back.Version = version
	if err := verifyCopy(ctx, api, back, rec.Checksum, owner); err != nil {
		return fail("check the restored object (the quarantine copy is kept) of", err)
	}
	res.Changes = append(res.Changes, fmt.Sprintf("restored %s to %s; its %s matches (the original version id %s cannot be restored)", rec.Copy, back, rec.Checksum.kind(), src.Version))
	if rec.Encryption != "" && rec.Encryption != "AES256" {
		res.Changes = append(res.Changes, fmt.Sprintf("it was encrypted with %s %s before; it now has its bucket's default encryption", rec.Encryption, rec.KMSKeyID))
	}
	res.After = map[string]string{"object": back.String()}
	return finishRelease(ctx, api, req, res, rec, rkey, owner, where, "")
}

// finishRelease deletes the quarantine copy and the record.
func finishRelease(ctx context.Context, api objectAPI, req bots.Request, res bots.Result, rec objectRecord, rkey, owner, where, note string) (bots.Result, error) {
	if req.DryRun {
		res.Status = bots.StatusDryRun
		res.Changes = append(res.Changes, fmt.Sprintf("would delete the quarantine copy %s and record %s (%s)", rec.Copy, rkey, note))
		return res, nil
	}
	if err := deleteVersion(ctx, api, rec.Copy, "", owner); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: delete the quarantine copy %s: %w (done so far: %v)", releaseObjectBot, where, rec.Copy, err, res.Changes)
	}
	res.Changes = append(res.Changes, "deleted the quarantine copy "+rec.Copy.String())
	if err := req.State.Delete(ctx, rkey); err != nil {
		return bots.Result{}, fmt.Errorf("%s: %s: released, but deleting record %s failed: %w", releaseObjectBot, where, rkey, err)
	}
	res.Changes = append(res.Changes, "deleted record "+rkey)
	slog.InfoContext(ctx, "object released", "bot", releaseObjectBot, "finding", req.Finding.ID, "account", owner, "copy", rec.Copy.String())
	if note != "" {
		res.Status, res.Reason = bots.StatusAlreadyDone, note+": only the quarantine copy and the record were removed"
		return res, nil
	}
	res.Status = bots.StatusRemediated
	return res, nil
}
