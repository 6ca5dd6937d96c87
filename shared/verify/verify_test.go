package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// sdkStub answers GuardDuty and Security Hub calls at the SDK level (before serialization), records
// each operation and its input, and never lets a request leave the process.
type sdkStub struct {
	mu      sync.Mutex
	calls   []string
	inputs  []any
	respond map[string]func(in any) (any, error)
}

func (s *sdkStub) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("sdkStub", func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		if op == "" {
			// Some clients set the operation name after Initialize: the input's type names it.
			_, t, _ := strings.Cut(fmt.Sprintf("%T", in.Parameters), ".")
			op = strings.TrimSuffix(t, "Input")
		}
		s.mu.Lock()
		s.calls = append(s.calls, op)
		s.inputs = append(s.inputs, in.Parameters)
		r := s.respond[op]
		s.mu.Unlock()
		if r == nil {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "UnexpectedCall", Message: op}
		}
		out, err := r(in.Parameters)
		return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
	}), middleware.Before)
}

func (s *sdkStub) config() aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"), // refuses connections: the stub answers everything
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{s.option},
	}
}

func (s *sdkStub) guardDuty(region string) *guardduty.Client {
	return guardduty.NewFromConfig(s.config(), func(o *guardduty.Options) { o.Region = region })
}

func (s *sdkStub) securityHub(region string) *securityhub.Client {
	return securityhub.NewFromConfig(s.config(), func(o *securityhub.Options) { o.Region = region })
}

func (s *sdkStub) count(op string) int {
	n := 0
	for _, c := range s.calls {
		if c == op {
			n++
		}
	}
	return n
}

const detector = "12abc34d567e8fa901bc2d34eexample"

func inputFinding() *finding.Finding {
	return &finding.Finding{
		ID: "f-1", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", AccountID: "111122223333",
		Region: "us-east-1", Partition: "aws", ResourceKind: finding.KindInstance, ResourceType: "Instance",
		Instance: &finding.Instance{ID: "i-0123456789abcdef0"}, Source: "eventbridge",
	}
}

func gdFinding() gdtypes.Finding {
	return gdtypes.Finding{
		Id: aws.String("f-1"), Type: aws.String("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"),
		AccountId: aws.String("111122223333"), Region: aws.String("us-east-1"),
		Resource: &gdtypes.Resource{ResourceType: aws.String("Instance"),
			InstanceDetails: &gdtypes.InstanceDetails{InstanceId: aws.String("i-0123456789abcdef0")}},
		Service: &gdtypes.Service{Archived: aws.Bool(false)},
	}
}

// world is GuardDuty holding the given findings on one detector.
func world(findings ...gdtypes.Finding) *sdkStub {
	return &sdkStub{respond: map[string]func(any) (any, error){
		"ListDetectors": func(any) (any, error) {
			return &guardduty.ListDetectorsOutput{DetectorIds: []string{detector}}, nil
		},
		"GetFindings": func(in any) (any, error) {
			req := in.(*guardduty.GetFindingsInput)
			if aws.ToString(req.DetectorId) != detector {
				return nil, &smithy.GenericAPIError{Code: "BadRequestException", Message: "no such detector"}
			}
			var out []gdtypes.Finding
			for _, f := range findings {
				for _, id := range req.FindingIds {
					if aws.ToString(f.Id) == id {
						out = append(out, f)
					}
				}
			}
			return &guardduty.GetFindingsOutput{Findings: out}, nil
		},
	}}
}

func checker(s *sdkStub) *Checker {
	return &Checker{Client: func(region string) GuardDutyAPI { return s.guardDuty(region) }}
}

func TestCheck_GenuineFindingIsConfirmedOnTheAdministratorsDetector(t *testing.T) {
	s := world(gdFinding())
	v, err := checker(s).Check(context.Background(), inputFinding())
	if err != nil {
		t.Fatal(err)
	}
	if v.DetectorID != detector || v.Region != "us-east-1" || v.Archived {
		t.Errorf("verdict %+v", v)
	}
	req := s.inputs[1].(*guardduty.GetFindingsInput)
	if aws.ToString(req.DetectorId) != detector || len(req.FindingIds) != 1 || req.FindingIds[0] != "f-1" {
		t.Errorf("GetFindings input %+v", req)
	}
}

func TestCheck_ForgedFindingsAreRejectedNamingWhatDisagrees(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*gdtypes.Finding)
		input func(*finding.Finding)
		want  []string
	}{
		{"another type", func(g *gdtypes.Finding) { g.Type = aws.String("Recon:EC2/Portscan") }, nil,
			[]string{`type: input "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", GuardDuty "Recon:EC2/Portscan"`}},
		{"another account", func(g *gdtypes.Finding) { g.AccountId = aws.String("999988887777") }, nil,
			[]string{`account: input "111122223333", GuardDuty "999988887777"`}},
		{"another instance", func(g *gdtypes.Finding) { g.Resource.InstanceDetails.InstanceId = aws.String("i-0fedcba9876543210") }, nil,
			[]string{`instance: input "i-0123456789abcdef0", GuardDuty "i-0fedcba9876543210"`}},
		{"another resource type", func(g *gdtypes.Finding) {
			g.Resource = &gdtypes.Resource{ResourceType: aws.String("AccessKey"), AccessKeyDetails: &gdtypes.AccessKeyDetails{AccessKeyId: aws.String("AKIAEXAMPLE")}}
		}, nil, []string{`resource type: input "Instance", GuardDuty "AccessKey"`, `instance: input "i-0123456789abcdef0", GuardDuty ""`}},
		{"another access key", func(g *gdtypes.Finding) {
			g.Resource = &gdtypes.Resource{ResourceType: aws.String("AccessKey"), AccessKeyDetails: &gdtypes.AccessKeyDetails{AccessKeyId: aws.String("AKIAOTHER"), UserName: aws.String("bob")}}
		}, func(f *finding.Finding) {
			f.ResourceKind, f.ResourceType, f.Instance = finding.KindAccessKey, "AccessKey", nil
			f.AccessKey = &finding.AccessKey{AccessKeyID: "AKIAEXAMPLE", UserName: "bob"}
		}, []string{`access key: input "AKIAEXAMPLE", GuardDuty "AKIAOTHER"`}},
		{"another bucket", func(g *gdtypes.Finding) {
			g.Resource = &gdtypes.Resource{ResourceType: aws.String("S3Bucket"), S3BucketDetails: []gdtypes.S3BucketDetail{{Name: aws.String("logs")}}}
		}, func(f *finding.Finding) {
			f.ResourceKind, f.ResourceType, f.Instance = finding.KindS3Bucket, "S3Bucket", nil
			f.Buckets = []finding.Bucket{{Name: "customer-data"}}
		}, []string{`buckets: input "customer-data", GuardDuty "logs"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gdFinding()
			tt.edit(&g)
			in := inputFinding()
			if tt.input != nil {
				tt.input(in)
			}
			_, err := checker(world(g)).Check(context.Background(), in)
			if faults.Classify(err) != faults.Rejected {
				t.Fatalf("err %v (%s), want %s", err, faults.Classify(err), faults.Rejected)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestCheck_FindingGuardDutyDoesNotHaveIsRejected(t *testing.T) {
	_, err := checker(world()).Check(context.Background(), inputFinding())
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "GuardDuty has no finding f-1 on detector "+detector) {
		t.Fatalf("err %v", err)
	}
}

func TestCheck_NoDetectorInTheRegionIsRejected(t *testing.T) {
	s := world(gdFinding())
	s.respond["ListDetectors"] = func(any) (any, error) { return &guardduty.ListDetectorsOutput{}, nil }
	_, err := checker(s).Check(context.Background(), inputFinding())
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "no GuardDuty detector in us-east-1") {
		t.Fatalf("err %v", err)
	}
	if s.count("GetFindings") != 0 {
		t.Error("GetFindings called without a detector")
	}
}

func TestCheck_ArchivedInGuardDutyIsReportedWhateverTheInputSays(t *testing.T) {
	g := gdFinding()
	g.Service.Archived = aws.Bool(true)
	v, err := checker(world(g)).Check(context.Background(), inputFinding())
	if err != nil || !v.Archived {
		t.Fatalf("verdict %+v, err %v", v, err)
	}
}

func TestCheck_ThrottlingStaysThrottled(t *testing.T) {
	s := world(gdFinding())
	s.respond["GetFindings"] = func(any) (any, error) {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	_, err := checker(s).Check(context.Background(), inputFinding())
	if faults.Classify(err) != faults.Throttled {
		t.Fatalf("err %v classified %s, want %s", err, faults.Classify(err), faults.Throttled)
	}
}

func TestCheck_DetectorIsListedOncePerRegion(t *testing.T) {
	s := world(gdFinding())
	c := checker(s)
	for range 3 {
		if _, err := c.Check(context.Background(), inputFinding()); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.count("ListDetectors"); n != 1 {
		t.Errorf("ListDetectors called %d times, want 1", n)
	}
}

func TestCheck_RegionThatIsNotARegionIsRejectedBeforeAnyCall(t *testing.T) {
	s := world(gdFinding())
	f := inputFinding()
	f.Region = "evil.example.com/"
	if _, err := checker(s).Check(context.Background(), f); faults.Classify(err) != faults.Rejected {
		t.Fatalf("err %v", err)
	}
	if len(s.calls) != 0 {
		t.Errorf("calls %v", s.calls)
	}
}

func TestCheck_SecurityHubInputIsCheckedOnItsIdentifiersNotItsResourceType(t *testing.T) {
	g := gdFinding()
	g.Resource.ResourceType = aws.String("Instance")
	f := inputFinding()
	f.Source, f.ResourceType = "securityhub", "Other"
	if _, err := checker(world(g)).Check(context.Background(), f); err != nil {
		t.Fatalf("genuine Security Hub finding: %v", err)
	}
	g.Resource.InstanceDetails.InstanceId = aws.String("i-0fedcba9876543210")
	if _, err := checker(world(g)).Check(context.Background(), f); faults.Classify(err) != faults.Rejected {
		t.Fatalf("forged Security Hub finding: %v", err)
	}
}
