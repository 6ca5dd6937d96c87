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
	"github.com/guardbots/guardbots/shared/finding"
)

var _ = bottest.RegisterContract("ec2_tag_instance", bottest.Contract{
	World:    ec2test.InstanceWorld("ec2_tag_instance"),
	Again:    bots.StatusAlreadyDone,
	Deny:     "ec2:CreateTags",
	Throttle: "ec2:DescribeInstances",
})

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
