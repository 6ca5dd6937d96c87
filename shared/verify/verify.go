// Package verify reads a finding back from GuardDuty before any bot acts on it. Whatever arrives (an
// event, an execution input, a Security Hub import) only names a finding: GuardDuty's own copy, read with
// GetFindings on the administrator's detector in the finding's region and normalized by the same parse
// and transform as any input, is the finding that decides and that bots act on. Whoever can start an
// execution or publish an event can therefore make guardbots act only on what GuardDuty itself says.
package verify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	gdjson "github.com/guardbots/guardbots/shared/guardduty"
)

// GuardDutyAPI is the two calls the Checker makes (the SDK client; its GetFindings must honour the
// option functions, which capture the response body).
type GuardDutyAPI interface {
	DetectorLister
	GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, optFns ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error)
}

// DetectorLister is the call that finds a region's detector.
type DetectorLister interface {
	ListDetectors(ctx context.Context, in *guardduty.ListDetectorsInput, optFns ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error)
}

// Copy is GuardDuty's own copy of a finding.
type Copy struct {
	// Finding is GuardDuty's finding, normalized like any input; Source is the input's route, so
	// closing the loop goes back the way the finding came (GuardDuty or Security Hub).
	Finding    *finding.Finding
	DetectorID string
	Region     string
}

// Checker reads findings back from GuardDuty. Safe for concurrent use.
type Checker struct {
	// Client returns the GuardDuty client of a region (the orchestrator's credentials: in the delegated
	// administrator account, its detector sees every member's findings).
	Client func(region string) GuardDutyAPI

	detectors Detectors
}

// regionRE bounds the region an input may name before it picks an endpoint.
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// ValidRegion reports whether r is shaped like an AWS region name: what an input may name before it
// picks an endpoint.
func ValidRegion(r string) bool { return regionRE.MatchString(r) }

// Fetch returns GuardDuty's copy of the finding in names, or a faults.Rejected error when GuardDuty does
// not hold it or holds it for another account or region. The raw GetFindings body (the API's camelCase
// JSON, the members of an event's detail) goes through guardduty's decoder and finding.FromGuardDuty, so
// the copy is bounded and validated exactly as an input is; no field of in is carried over but its route.
// AWS errors are wrapped as they are, so a throttle stays Guardbots.Throttled and is retried.
func (c *Checker) Fetch(ctx context.Context, in *finding.Finding) (Copy, error) {
	if in == nil || in.ID == "" {
		return Copy{}, faults.Rejectf("verify: input has no finding id")
	}
	if !regionRE.MatchString(in.Region) {
		return Copy{}, faults.Rejectf("verify: finding %s: region %q is not an AWS region", in.ID, clip(in.Region))
	}
	gd := c.Client(in.Region)
	det, err := c.detectors.Of(ctx, gd, in.Region)
	if err != nil {
		return Copy{}, err
	}
	var body responseBody
	_, err = gd.GetFindings(ctx, &guardduty.GetFindingsInput{DetectorId: aws.String(det), FindingIds: []string{in.ID}}, body.capture)
	if err != nil {
		return Copy{}, fmt.Errorf("verify: GuardDuty GetFindings %s on detector %s in %s: %w", in.ID, det, in.Region, err)
	}
	if body.b == nil {
		return Copy{}, faults.Fail(fmt.Errorf("verify: GuardDuty GetFindings %s: the response body was not captured", in.ID))
	}
	g, found, err := gdjson.FindingFromResponse(body.b, in.ID)
	if err != nil {
		return Copy{}, fmt.Errorf("verify: GuardDuty's copy of finding %s (detector %s in %s) cannot be used, so nothing acts on it: %w", in.ID, det, in.Region, err)
	}
	if !found {
		return Copy{}, faults.Rejectf("verify: GuardDuty has no finding %s on detector %s in %s: the input is not a real finding of this organization",
			in.ID, det, in.Region)
	}
	f, err := finding.FromGuardDuty(&gdjson.Parsed{Source: gdjson.Source(in.Source), Finding: g})
	if err != nil {
		return Copy{}, fmt.Errorf("verify: GuardDuty's copy of finding %s (detector %s in %s) cannot be used, so nothing acts on it: %w", in.ID, det, in.Region, err)
	}
	// The copy must be the finding the input named: the same id (GuardDuty answered for it), and the
	// account and region the input claimed, or the input is about something else.
	if f.ID != in.ID || f.AccountID != in.AccountID || f.Region != in.Region {
		return Copy{}, faults.Rejectf("verify: finding %s is GuardDuty's finding %s of account %s in %s, not of account %q in %q as the input says: the input is not this finding",
			clip(in.ID), f.ID, f.AccountID, f.Region, clip(in.AccountID), clip(in.Region))
	}
	return Copy{Finding: f, DetectorID: det, Region: in.Region}, nil
}

// Detectors caches each region's GuardDuty detector (one per account and region), listed once, for the
// Lambda's lifetime. The zero value is ready; safe for concurrent use.
type Detectors struct {
	mu  sync.Mutex
	ids map[string]string // region → detector id
}

// Of is the detector of region, listed with gd the first time. No detector is a faults.Rejected error:
// without one nothing can be confirmed, and an unconfirmed finding must not act.
func (d *Detectors) Of(ctx context.Context, gd DetectorLister, region string) (string, error) {
	d.mu.Lock()
	id, ok := d.ids[region]
	d.mu.Unlock()
	if ok {
		return id, nil
	}
	out, err := gd.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		return "", fmt.Errorf("verify: GuardDuty ListDetectors in %s: %w", region, err)
	}
	if len(out.DetectorIds) == 0 {
		return "", faults.Rejectf("verify: no GuardDuty detector in %s for this account: finding cannot be confirmed", region)
	}
	id = out.DetectorIds[0]
	d.mu.Lock()
	if d.ids == nil {
		d.ids = map[string]string{}
	}
	d.ids[region] = id
	d.mu.Unlock()
	return id, nil
}

// responseBody keeps the HTTP body of one GetFindings response as GuardDuty sent it. The SDK's own
// structs are not re-marshalled into a finding: their JSON would be the SDK's rendering (its member names,
// its omissions), not GuardDuty's, and would skip the decoder's bounds.
type responseBody struct{ b []byte }

// capture is a GetFindings option: a deserialize middleware placed after the SDK's deserializer, so it
// runs first on the way back (the stack unwinds in reverse), reads the body and hands the SDK an
// identical copy to decode. Each attempt (a retry) replaces what the previous one kept.
func (r *responseBody) capture(o *guardduty.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Deserialize.Insert(middleware.DeserializeMiddlewareFunc("guardbotsResponseBody", r.handle), "OperationDeserializer", middleware.After)
	})
}

func (r *responseBody) handle(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Body == nil {
		return out, md, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, gdjson.MaxResponseBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return out, md, fmt.Errorf("read the GetFindings response: %w", err)
	}
	if len(b) > gdjson.MaxResponseBytes {
		return out, md, faults.Fail(fmt.Errorf("the GetFindings response is over %d bytes", gdjson.MaxResponseBytes))
	}
	r.b = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return out, md, nil
}

// Differences lists where the input disagreed with GuardDuty's copy on what decides or drives a bot, for
// the person reading the notification: an event that differs was edited (or is an old copy). Nothing acts
// on the input either way. Counters and times that GuardDuty updates as the finding recurs are left out.
func Differences(in, gd *finding.Finding) []string {
	var diffs []string
	cmp := func(what, input, copy string) {
		if input != copy {
			diffs = append(diffs, fmt.Sprintf("%s (input %q, GuardDuty %q)", what, clip(input), clip(copy)))
		}
	}
	cmp("type", in.Type, gd.Type)
	cmp("severity", num(in.Severity), num(gd.Severity))
	cmp("partition", in.Partition, gd.Partition)
	cmp("archived", strconv.FormatBool(in.Archived), strconv.FormatBool(gd.Archived))
	cmp("sample", strconv.FormatBool(in.Sample), strconv.FormatBool(gd.Sample))
	cmp("resource kind", string(in.ResourceKind), string(gd.ResourceKind))
	cmp("resource role", in.ResourceRole, gd.ResourceRole)
	cmp("remote IPs", remoteIPs(in), remoteIPs(gd))
	cmp("instance", instance(in).ID, instance(gd).ID)
	cmp("instance profile", instance(in).InstanceProfileArn, instance(gd).InstanceProfileArn)
	cmp("access key", accessKey(in).AccessKeyID, accessKey(gd).AccessKeyID)
	cmp("user name", accessKey(in).UserName, accessKey(gd).UserName)
	cmp("user type", accessKey(in).RawUserType, accessKey(gd).RawUserType)
	cmp("buckets", buckets(in), buckets(gd))
	cmp("Lambda function", lambdaARN(in), lambdaARN(gd))
	cmp("DB", rds(in), rds(gd))
	cmp("EKS cluster", eks(in), eks(gd))
	cmp("ECS cluster", ecs(in), ecs(gd))
	cmp("attack sequence members", members(in), members(gd))
	return diffs
}

// members names an attack sequence's members, in order.
func members(f *finding.Finding) string {
	if f.Sequence == nil {
		return ""
	}
	s := make([]string, len(f.Sequence.Resources))
	for i, r := range f.Sequence.Resources {
		s[i] = fmt.Sprintf("%s %s in %s/%s", r.Kind, r.ID, r.Account, r.Region)
	}
	return strings.Join(s, ", ")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func instance(f *finding.Finding) finding.Instance {
	if f.Instance == nil {
		return finding.Instance{}
	}
	return *f.Instance
}

func accessKey(f *finding.Finding) finding.AccessKey {
	if f.AccessKey == nil {
		return finding.AccessKey{}
	}
	return *f.AccessKey
}

func remoteIPs(f *finding.Finding) string {
	if f.Action == nil {
		return ""
	}
	var ips []string
	for _, r := range f.Action.RemoteIPs {
		ips = append(ips, r.Address)
	}
	slices.Sort(ips)
	return strings.Join(ips, ",")
}

func buckets(f *finding.Finding) string {
	var names []string
	for _, b := range f.Buckets {
		names = append(names, b.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func lambdaARN(f *finding.Finding) string {
	if f.Lambda == nil {
		return ""
	}
	return f.Lambda.FunctionName + " " + f.Lambda.FunctionArn
}

func rds(f *finding.Finding) string {
	if f.RDS == nil {
		return ""
	}
	return f.RDS.InstanceID + " " + f.RDS.ClusterID
}

func eks(f *finding.Finding) string {
	if f.EKS == nil {
		return ""
	}
	return f.EKS.ClusterName
}

func ecs(f *finding.Finding) string {
	if f.ECS == nil {
		return ""
	}
	return f.ECS.ClusterName
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
