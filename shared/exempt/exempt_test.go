package exempt_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags"
	_ "github.com/guardbots/guardbots/shared/exempt/iamtags"
	_ "github.com/guardbots/guardbots/shared/exempt/lambdatags"
	_ "github.com/guardbots/guardbots/shared/exempt/rdstags"
	_ "github.com/guardbots/guardbots/shared/exempt/s3tags"
	"github.com/guardbots/guardbots/shared/finding"
)

// recorder records "service:Operation" for every call, in the names bots declare.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("rec", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		r.mu.Lock()
		r.ops = append(r.ops, opName(ctx))
		r.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (r *recorder) distinct() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.ops)
	slices.Sort(out)
	return slices.Compact(out)
}

func opName(ctx context.Context) string {
	svc := map[string]string{"EC2": "ec2", "IAM": "iam", "S3": "s3", "Lambda": "lambda", "RDS": "rds"}[awsmiddleware.GetServiceID(ctx)]
	return svc + ":" + awsmiddleware.GetOperationName(ctx)
}

// stub answers op at the SDK level; respond sees the typed input.
func stub(op string, respond func(in any) (any, error)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stub "+op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if opName(ctx) != op {
				return next.HandleInitialize(ctx, in)
			}
			out, err := respond(in.Parameters)
			return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
		}), middleware.After)
	}
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code, Fault: smithy.FaultClient}
}

// config points at endpoint (a refused port when empty: every call must then be stubbed).
func config(endpoint string, opts ...func(*middleware.Stack) error) aws.Config {
	if endpoint == "" {
		endpoint = "http://127.0.0.1:1"
	}
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1, APIOptions: opts}
}

func newFinding(kind finding.ResourceKind) *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: "111122223333", Region: "us-east-1", Partition: "aws", ResourceKind: kind}
}

// wantOps checks the check made exactly the declared exemption reads of kind (the permissions check
// of shared/bots leaves these to this package).
func wantOps(t *testing.T, rec *recorder, kind finding.ResourceKind, subset ...string) {
	t.Helper()
	declared := bots.ExemptionOperationsFor(kind)
	for _, op := range rec.distinct() {
		if !slices.Contains(declared, op) {
			t.Errorf("%s exemption check called %s, not in %v", kind, op, declared)
		}
	}
	for _, op := range subset {
		if !slices.Contains(rec.distinct(), op) {
			t.Errorf("%s exemption check never called %s", kind, op)
		}
	}
}

func TestCheck_InstanceTaggedNowIsExemptWhateverTheSnapshotSays(t *testing.T) {
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	rec := &recorder{}
	cfg := config(srv.URL, rec.option)
	ctx := context.Background()
	api := ec2.NewFromConfig(cfg)
	var ids []string
	for range 2 {
		run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
			InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(run.Instances[0].InstanceId))
	}
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ids[0]},
		Tags: []ec2types.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}}); err != nil {
		t.Fatal(err)
	}
	rec.ops = nil

	f := newFinding(finding.KindInstance)
	// The finding's snapshot says the opposite of the live tags: the live ones decide.
	f.Instance = &finding.Instance{ID: ids[0]}
	got, ok, err := exempt.Check(ctx, cfg, f)
	if err != nil || !ok || got.String() != "instance "+ids[0] {
		t.Fatalf("tagged instance: %v %v %v", got, ok, err)
	}
	f.Instance = &finding.Instance{ID: ids[1], Tags: map[string]string{bots.ExemptionTag: "yes"}}
	if _, ok, err := exempt.Check(ctx, cfg, f); err != nil || ok {
		t.Fatalf("untagged instance with a stale exempt tag in the finding: exempt %v, %v", ok, err)
	}
	wantOps(t, rec, finding.KindInstance, "ec2:DescribeTags")
}

func TestCheck_BucketTaggedIsExemptAndABucketWithoutTagsIsNot(t *testing.T) {
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	rec := &recorder{}
	cfg := config(srv.URL, rec.option)
	ctx := context.Background()
	api := s3.NewFromConfig(cfg)
	for _, b := range []string{"exempt-logs", "plain-data"} {
		if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("exempt-logs"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("owner"), Value: aws.String("sec")},
			{Key: aws.String(bots.ExemptionTag), Value: aws.String("incident-42")}}}}); err != nil {
		t.Fatal(err)
	}
	rec.ops = nil
	f := newFinding(finding.KindS3Bucket)
	f.Buckets = []finding.Bucket{{Name: "plain-data"}, {Name: "exempt-logs"}}
	got, ok, err := exempt.Check(ctx, cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || got.String() != "bucket exempt-logs" {
		t.Fatalf("buckets = %v %v", got, ok)
	}
	f.Buckets = []finding.Bucket{{Name: "plain-data"}}
	if _, ok, err := exempt.Check(ctx, cfg, f); err != nil || ok {
		t.Fatalf("bucket without tags: exempt %v, %v", ok, err)
	}
	wantOps(t, rec, finding.KindS3Bucket, "s3:GetBucketTagging")
}

func TestCheck_IAMUserAndRoleTagsAreReadPerPrincipalType(t *testing.T) {
	rec := &recorder{}
	var asked []string
	tags := func(name string) []iamtypes.Tag {
		if name == "break-glass" || name == "ops-role" {
			return []iamtypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}
		}
		return []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("x")}}
	}
	cfg := config("", rec.option,
		stub("iam:ListUserTags", func(in any) (any, error) {
			n := aws.ToString(in.(*iam.ListUserTagsInput).UserName)
			asked = append(asked, "user "+n)
			if n == "gone" {
				return nil, apiErr("NoSuchEntity")
			}
			return &iam.ListUserTagsOutput{Tags: tags(n)}, nil
		}),
		stub("iam:ListRoleTags", func(in any) (any, error) {
			n := aws.ToString(in.(*iam.ListRoleTagsInput).RoleName)
			asked = append(asked, "role "+n)
			return &iam.ListRoleTagsOutput{Tags: tags(n)}, nil
		}))
	ctx := context.Background()
	cases := []struct {
		key  finding.AccessKey
		want string // "" when not exempt
	}{
		{finding.AccessKey{UserType: finding.UserTypeIAMUser, UserName: "break-glass"}, "iam-user break-glass"},
		{finding.AccessKey{UserType: finding.UserTypeIAMUser, UserName: "alice"}, ""},
		{finding.AccessKey{UserType: finding.UserTypeIAMUser, UserName: "gone"}, ""},
		{finding.AccessKey{UserType: finding.UserTypeAssumedRole, UserName: "ops-role"}, "iam-role ops-role"},
		{finding.AccessKey{UserType: finding.UserTypeRoot, AccessKeyID: "AKIAROOT"}, ""},
	}
	for _, c := range cases {
		f := newFinding(finding.KindAccessKey)
		f.AccessKey = &c.key
		got, ok, err := exempt.Check(ctx, cfg, f)
		if err != nil || ok != (c.want != "") || (ok && got.String() != c.want) {
			t.Errorf("%+v: %v %v %v, want %q", c.key, got, ok, err, c.want)
		}
	}
	if want := []string{"user break-glass", "user alice", "user gone", "role ops-role"}; !slices.Equal(asked, want) {
		t.Errorf("reads = %v, want %v (root has nothing taggable)", asked, want)
	}
	wantOps(t, rec, finding.KindAccessKey, "iam:ListUserTags", "iam:ListRoleTags")
}

func TestCheck_LambdaAndRDSAreReadByTheirUnqualifiedARN(t *testing.T) {
	rec := &recorder{}
	var arns []string
	cfg := config("", rec.option,
		stub("lambda:ListTags", func(in any) (any, error) {
			arns = append(arns, aws.ToString(in.(*lambda.ListTagsInput).Resource))
			return &lambda.ListTagsOutput{Tags: map[string]string{bots.ExemptionTag: "true"}}, nil
		}),
		stub("rds:ListTagsForResource", func(in any) (any, error) {
			arns = append(arns, aws.ToString(in.(*rds.ListTagsForResourceInput).ResourceName))
			return &rds.ListTagsForResourceOutput{TagList: []rdstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}, nil
		}))
	ctx := context.Background()
	fl := newFinding(finding.KindLambdaFunction)
	fl.Lambda = &finding.Lambda{FunctionName: "payments", FunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:payments:prod"}
	if got, ok, err := exempt.Check(ctx, cfg, fl); err != nil || !ok || got.String() != "lambda-function payments" {
		t.Fatalf("lambda: %v %v %v", got, ok, err)
	}
	fr := newFinding(finding.KindRDSDBInstance)
	fr.RDS = &finding.RDS{InstanceID: "orders-db"}
	if _, ok, err := exempt.Check(ctx, cfg, fr); err != nil || ok {
		t.Fatalf("rds without the tag: %v %v", ok, err)
	}
	want := []string{"arn:aws:lambda:us-east-1:111122223333:function:payments", "arn:aws:rds:us-east-1:111122223333:db:orders-db"}
	if !slices.Equal(arns, want) {
		t.Errorf("ARNs = %v, want %v", arns, want)
	}
	wantOps(t, &recorder{ops: filter(rec.distinct(), "lambda:")}, finding.KindLambdaFunction, "lambda:ListTags")
	wantOps(t, &recorder{ops: filter(rec.distinct(), "rds:")}, finding.KindRDSDBInstance, "rds:ListTagsForResource")
}

func TestCheck_AReadErrorIsAnErrorNeverNotExempt(t *testing.T) {
	cfg := config("", stub("ec2:DescribeTags", func(any) (any, error) { return nil, apiErr("UnauthorizedOperation") }))
	f := newFinding(finding.KindInstance)
	f.Instance = &finding.Instance{ID: "i-1"}
	_, ok, err := exempt.Check(context.Background(), cfg, f)
	if err == nil || ok || !strings.Contains(err.Error(), "instance i-1") || !strings.Contains(err.Error(), "111122223333") {
		t.Fatalf("exempt %v, err %v: want an error naming the resource and account", ok, err)
	}
}

func filter(ops []string, prefix string) []string {
	var out []string
	for _, op := range ops {
		if strings.HasPrefix(op, prefix) {
			out = append(out, op)
		}
	}
	return out
}
