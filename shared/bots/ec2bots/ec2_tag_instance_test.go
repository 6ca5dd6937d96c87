package ec2bots

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/bots/ec2instance"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func TestEC2TagInstance_TagsInstanceWithFindingIdTypeSeverityAndTime(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	res, err := bottest.Run(t, "ec2_tag_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	got := e.KumoTags(t)
	want := map[string]string{
		bots.TagFindingID:  ec2test.FindingID,
		TagFindingType:     "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		TagFindingSeverity: "8.0 HIGH",
		TagFindingTime:     "2026-01-02T03:04:05.000Z",
		bots.TagBot:        "ec2_tag_instance",
		bots.TagExecution:  bottest.Execution,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tag %s = %q, want %q", k, got[k], v)
		}
	}
	if ops := e.Rec.Ops(); !slices.Equal(ops, []string{"ec2:DescribeInstances", "ec2:CreateTags"}) {
		t.Errorf("called %v", ops)
	}
}

func TestEC2TagInstance_SecondRunIsAlreadyDone(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	if _, err := bottest.Run(t, "ec2_tag_instance", e.Request(false)); err != nil {
		t.Fatal(err)
	}
	before := len(e.Rec.Ops())
	res, err := bottest.Run(t, "ec2_tag_instance", e.Request(false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone {
		t.Fatalf("second run = %s (%v), want already-done", res.Status, res.Changes)
	}
	if ops := e.Rec.Ops()[before:]; !slices.Equal(ops, []string{"ec2:DescribeInstances"}) {
		t.Errorf("second run called %v, want only a read", ops)
	}
}

func TestEC2TagInstance_ChangedSeverityIsRetaggedOnlyWhereItDiffers(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	if _, err := bottest.Run(t, "ec2_tag_instance", e.Request(false)); err != nil {
		t.Fatal(err)
	}
	var sent *ec2.CreateTagsInput
	e.Config.APIOptions = append(e.Config.APIOptions, ec2test.ObserveInput(func(in any) {
		if p, ok := in.(*ec2.CreateTagsInput); ok {
			sent = p
		}
	}))
	req := e.Request(false)
	req.Finding.Severity, req.Finding.SeverityLabel = 5, finding.SeverityMedium
	res, err := bottest.Run(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("result %+v, err %v; want remediated", res, err)
	}
	if res.Before[TagFindingSeverity] != "8.0 HIGH" || e.KumoTags(t)[TagFindingSeverity] != "5.0 MEDIUM" {
		t.Errorf("before %v, now %v", res.Before, e.KumoTags(t))
	}
	keys := ec2instance.TagKeys(sent.Tags)
	if slices.Contains(keys, TagFindingType) || !slices.Contains(keys, TagFindingSeverity) {
		t.Errorf("rewrote %v, want only the severity (and bot, execution)", keys)
	}
}

func TestEC2TagInstance_LongFindingTypeIsBoundedTo256Characters(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	req := e.Request(false)
	req.Finding.Type = strings.Repeat("T", 300)
	if _, err := bottest.Run(t, "ec2_tag_instance", req); err != nil {
		t.Fatal(err)
	}
	if got := e.KumoTags(t)[TagFindingType]; len(got) != 256 {
		t.Errorf("type tag is %d characters, want 256", len(got))
	}
	res, err := bottest.Run(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Errorf("re-run with the long type = %+v, %v; want already-done", res, err)
	}
}

func TestEC2TagInstance_DryRunChangesNothing(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	res, err := bottest.Run(t, "ec2_tag_instance", e.Request(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusDryRun || len(res.Changes) != 1 || !strings.HasPrefix(res.Changes[0], "would tag "+e.ID) {
		t.Errorf("result %s %q, want a dry run saying what it would tag", res.Status, res.Changes)
	}
	if tags := e.KumoTags(t); len(tags) != 0 {
		t.Errorf("dry run tagged the instance: %v", tags)
	}
}

func TestEC2TagInstance_MissingInstanceIsSkipped(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	req := e.Request(false)
	req.Finding.Instance.ID = "i-0123456789abcdef0"
	res, err := bottest.Run(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "instance i-0123456789abcdef0 no longer exists" {
		t.Errorf("result %s %q, err %v; want skipped, no longer exists", res.Status, res.Reason, err)
	}
}

func TestEC2TagInstance_AccessDeniedIsAFailedError(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance", bottest.StubError("ec2:CreateTags", "UnauthorizedOperation", "not authorized"))
	_, err := bottest.Run(t, "ec2_tag_instance", e.Request(false))
	ec2test.AssertFailed(t, err, e.ID, "UnauthorizedOperation")
}

func TestEC2TagInstance_ThrottlingIsAThrottledError(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance", bottest.StubError("ec2:DescribeInstances", "RequestLimitExceeded", "Request limit exceeded."))
	_, err := bottest.Run(t, "ec2_tag_instance", e.Request(false))
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

func TestEC2TagInstance_OtherResourceKindIsSkippedWithoutCallingAWS(t *testing.T) {
	e := ec2test.NewEnv(t, "ec2_tag_instance")
	req := e.Request(false)
	req.Finding.ResourceKind, req.Finding.Instance = finding.KindAccessKey, nil
	res, err := bottest.Run(t, "ec2_tag_instance", req)
	if err != nil || res.Status != bots.StatusSkipped || len(e.Rec.Ops()) != 0 {
		t.Errorf("result %+v, err %v, calls %v; want skipped without calls", res, err, e.Rec.Ops())
	}
}
