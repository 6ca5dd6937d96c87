// Package verify re-reads a finding from GuardDuty before any bot acts on it, so that whoever can start
// an execution or publish to an input topic cannot drive a bot with a forged event: the finding must
// exist on the GuardDuty administrator's detector in its region, with the same type, account and
// resource as the input.
package verify

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// GuardDutyAPI is the two calls the Checker makes.
type GuardDutyAPI interface {
	ListDetectors(ctx context.Context, in *guardduty.ListDetectorsInput, optFns ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error)
	GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, optFns ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error)
}

// Verdict is what GuardDuty says about a finding the input agrees with.
type Verdict struct {
	DetectorID string
	Region     string
	// Archived: the finding is archived in GuardDuty (whatever the input said): nothing should act.
	Archived bool
}

// Checker compares a normalized finding with GuardDuty's own copy. Safe for concurrent use.
type Checker struct {
	// Client returns the GuardDuty client of a region (the orchestrator's credentials: in the delegated
	// administrator account, its detector sees every member's findings).
	Client func(region string) GuardDutyAPI

	mu        sync.Mutex
	detectors map[string]string // region → detector id, for the Lambda's lifetime
}

// regionRE bounds the region an input may name before it picks an endpoint.
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// Check returns GuardDuty's verdict, or a faults.Rejected error naming what disagreed. AWS errors are
// wrapped as they are, so a throttle stays Guardbots.Throttled and is retried.
func (c *Checker) Check(ctx context.Context, f *finding.Finding) (Verdict, error) {
	if f == nil || f.ID == "" {
		return Verdict{}, faults.Rejectf("verify: input has no finding id")
	}
	if !regionRE.MatchString(f.Region) {
		return Verdict{}, faults.Rejectf("verify: finding %s: region %q is not an AWS region", f.ID, clip(f.Region))
	}
	gd := c.Client(f.Region)
	det, err := c.detector(ctx, gd, f.Region)
	if err != nil {
		return Verdict{}, err
	}
	out, err := gd.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: aws.String(det), FindingIds: []string{f.ID}})
	if err != nil {
		return Verdict{}, fmt.Errorf("verify: GuardDuty GetFindings %s on detector %s in %s: %w", f.ID, det, f.Region, err)
	}
	var got *gdtypes.Finding
	for i := range out.Findings {
		if aws.ToString(out.Findings[i].Id) == f.ID {
			got = &out.Findings[i]
		}
	}
	if got == nil {
		return Verdict{}, faults.Rejectf("verify: GuardDuty has no finding %s on detector %s in %s: the input is not a real finding of this organization",
			f.ID, det, f.Region)
	}
	if diffs := Compare(f, got); len(diffs) > 0 {
		return Verdict{}, faults.Rejectf("verify: finding %s disagrees with GuardDuty (detector %s in %s): %s",
			f.ID, det, f.Region, strings.Join(diffs, "; "))
	}
	v := Verdict{DetectorID: det, Region: f.Region}
	if got.Service != nil {
		v.Archived = aws.ToBool(got.Service.Archived)
	}
	return v, nil
}

// detector is the region's GuardDuty detector (one per account and region), listed once and cached.
func (c *Checker) detector(ctx context.Context, gd GuardDutyAPI, region string) (string, error) {
	c.mu.Lock()
	id, ok := c.detectors[region]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	out, err := gd.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		return "", fmt.Errorf("verify: GuardDuty ListDetectors in %s: %w", region, err)
	}
	if len(out.DetectorIds) == 0 {
		// Without a detector nothing can be confirmed, and an unconfirmed finding must not act.
		return "", faults.Rejectf("verify: no GuardDuty detector in %s for this account: finding cannot be confirmed", region)
	}
	id = out.DetectorIds[0]
	c.mu.Lock()
	if c.detectors == nil {
		c.detectors = map[string]string{}
	}
	c.detectors[region] = id
	c.mu.Unlock()
	return id, nil
}

// Compare lists every way the input disagrees with GuardDuty's finding: type, account, region,
// resource type and each resource identifier the input carries (the ones a bot acts on). Each entry
// quotes both values, clipped: they may be an attacker's.
func Compare(f *finding.Finding, g *gdtypes.Finding) []string {
	var diffs []string
	must := func(what, input, gd string) {
		if input != gd {
			diffs = append(diffs, fmt.Sprintf("%s: input %q, GuardDuty %q", what, clip(input), clip(gd)))
		}
	}
	// An identifier the input lacks is one no bot can act on; one it carries must be GuardDuty's.
	differ := func(what, input, gd string) {
		if input != "" {
			must(what, input, gd)
		}
	}
	must("type", f.Type, aws.ToString(g.Type))
	must("account", f.AccountID, aws.ToString(g.AccountId))
	if r := aws.ToString(g.Region); r != "" {
		must("region", f.Region, r)
	}
	res := g.Resource
	if res == nil {
		res = &gdtypes.Resource{}
	}
	// Security Hub input names its resource type after the first ASFF resource, which need not be
	// GuardDuty's (Policy:S3 findings are AccessKey findings with buckets): its identifiers decide.
	if f.Source != "securityhub" {
		must("resource type", f.ResourceType, aws.ToString(res.ResourceType))
	}
	if f.Instance != nil {
		var id string
		if res.InstanceDetails != nil {
			id = aws.ToString(res.InstanceDetails.InstanceId)
		}
		differ("instance", f.Instance.ID, id)
	}
	if f.AccessKey != nil {
		var key, user string
		if res.AccessKeyDetails != nil {
			key, user = aws.ToString(res.AccessKeyDetails.AccessKeyId), aws.ToString(res.AccessKeyDetails.UserName)
		}
		differ("access key", f.AccessKey.AccessKeyID, key)
		differ("user name", f.AccessKey.UserName, user)
	}
	if len(f.Buckets) > 0 {
		var in, gd []string
		for _, b := range f.Buckets {
			in = append(in, b.Name)
		}
		for _, b := range res.S3BucketDetails {
			if n := aws.ToString(b.Name); n != "" {
				gd = append(gd, n)
			}
		}
		slices.Sort(in)
		slices.Sort(gd)
		differ("buckets", strings.Join(in, ","), strings.Join(gd, ","))
	}
	if f.EKS != nil {
		var name string
		if res.EksClusterDetails != nil {
			name = aws.ToString(res.EksClusterDetails.Name)
		}
		differ("EKS cluster", f.EKS.ClusterName, name)
	}
	if f.RDS != nil {
		var inst, cluster string
		if res.RdsDbInstanceDetails != nil {
			inst, cluster = aws.ToString(res.RdsDbInstanceDetails.DbInstanceIdentifier), aws.ToString(res.RdsDbInstanceDetails.DbClusterIdentifier)
		}
		differ("DB instance", f.RDS.InstanceID, inst)
		differ("DB cluster", f.RDS.ClusterID, cluster)
	}
	if f.Lambda != nil {
		var name string
		if res.LambdaDetails != nil {
			name = aws.ToString(res.LambdaDetails.FunctionName)
		}
		// GuardDuty may give only the ARN; transform then takes the name from it.
		if name == "" && res.LambdaDetails != nil {
			arn := aws.ToString(res.LambdaDetails.FunctionArn)
			if i := strings.LastIndex(arn, ":function:"); i >= 0 {
				name, _, _ = strings.Cut(arn[i+len(":function:"):], ":")
			}
		}
		differ("Lambda function", f.Lambda.FunctionName, name)
	}
	if f.ECS != nil && f.ECS.ClusterName != "" {
		var name string
		if res.EcsClusterDetails != nil {
			name = aws.ToString(res.EcsClusterDetails.Name)
		}
		differ("ECS cluster", f.ECS.ClusterName, name)
	}
	return diffs
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
