package exempt_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/exempt"
	_ "github.com/guardbots/guardbots/shared/exempt/cloudtrailtags"
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags"
	_ "github.com/guardbots/guardbots/shared/exempt/iamtags"
	_ "github.com/guardbots/guardbots/shared/exempt/lambdatags"
	_ "github.com/guardbots/guardbots/shared/exempt/rdstags"
	_ "github.com/guardbots/guardbots/shared/exempt/s3tags"
	"github.com/guardbots/guardbots/shared/finding"
)

func newFinding(kind finding.ResourceKind) *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: bottest.Account, Region: bottest.Region, Partition: "aws", ResourceKind: kind}
}

// targets resolves the finding's targets as the runner does.
func targets(t *testing.T, f *finding.Finding) []finding.Target {
	t.Helper()
	ts, err := finding.Targets(f)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// wantOps checks the check made exactly the tag reads of the targets' kinds (the permissions check of
// the bot families leaves these to this package).
func wantOps(t *testing.T, rec *bottest.Recorder, want ...string) {
	t.Helper()
	if got := rec.Distinct(); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("exemption check called %v, want %v", got, want)
	}
}

func TestCheck_InstanceTaggedNowIsExemptWhateverTheSnapshotSays(t *testing.T) {
	srv := bottest.NewKumo(t)
	ctx := context.Background()
	api := ec2.NewFromConfig(bottest.Config(srv.URL))
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
	rec := bottest.NewRecorder("")
	cfg := bottest.Config(srv.URL, rec.Option)

	f := newFinding(finding.KindInstance)
	// The finding's snapshot says the opposite of the live tags: the live ones decide.
	f.Instance = &finding.Instance{ID: ids[0]}
	v, err := exempt.Check(ctx, cfg, targets(t, f))
	if err != nil || v.Exempt == nil || v.Exempt.String() != "instance "+ids[0] {
		t.Fatalf("tagged instance: %+v %v", v, err)
	}
	f.Instance = &finding.Instance{ID: ids[1], Tags: map[string]string{bots.ExemptionTag: "yes"}}
	if v, err := exempt.Check(ctx, cfg, targets(t, f)); err != nil || v.Exempt != nil {
		t.Fatalf("untagged instance with a stale exempt tag in the finding: %+v, %v", v, err)
	}
	wantOps(t, rec, "ec2:DescribeTags")
}

func TestCheck_BucketTaggedIsExemptAndABucketWithoutTagsIsNot(t *testing.T) {
	srv := bottest.NewKumo(t)
	ctx := context.Background()
	api := s3.NewFromConfig(bottest.Config(srv.URL))
	plain, tagged := bottest.UniqueName("plain-data"), bottest.UniqueName("exempt-logs")
	for _, b := range []string{tagged, plain} {
		if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(tagged),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("owner"), Value: aws.String("sec")},
			{Key: aws.String(bots.ExemptionTag), Value: aws.String("incident-42")}}}}); err != nil {
		t.Fatal(err)
	}
	rec := bottest.NewRecorder("")
	cfg := bottest.Config(srv.URL, rec.Option)
	f := newFinding(finding.KindS3Bucket)
	f.Buckets = []finding.Bucket{{Name: plain}, {Name: tagged}}
	v, err := exempt.Check(ctx, cfg, targets(t, f))
	if err != nil || v.Exempt == nil || v.Exempt.String() != "bucket "+tagged {
		t.Fatalf("buckets = %+v, %v", v, err)
	}
	f.Buckets = []finding.Bucket{{Name: plain}}
	if v, err := exempt.Check(ctx, cfg, targets(t, f)); err != nil || v.Exempt != nil || len(v.Gone) != 0 {
		t.Fatalf("bucket without tags: %+v, %v", v, err)
	}
	wantOps(t, rec, "s3:GetBucketTagging")
}

func TestCheck_IAMUserAndRoleTagsAreReadPerPrincipalType(t *testing.T) {
	rec := bottest.NewRecorder("")
	var asked []string
	tags := func(name string) []iamtypes.Tag {
		if name == "break-glass" || name == "ops-role" {
			return []iamtypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}
		}
		return []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("x")}}
	}
	cfg := bottest.Config("", rec.Option,
		bottest.StubCall("iam:ListUserTags", func(in any) (any, error) {
			n := aws.ToString(in.(*iam.ListUserTagsInput).UserName)
			asked = append(asked, "user "+n)
			return &iam.ListUserTagsOutput{Tags: tags(n)}, nil
		}),
		bottest.StubCall("iam:ListRoleTags", func(in any) (any, error) {
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
		{finding.AccessKey{UserType: finding.UserTypeAssumedRole, UserName: "ops-role"}, "iam-role ops-role"},
		{finding.AccessKey{UserType: finding.UserTypeRoot, AccessKeyID: "AKIAROOT000000000000"}, ""},
	}
	for _, c := range cases {
		f := newFinding(finding.KindAccessKey)
		f.AccessKey = &c.key
		v, err := exempt.Check(ctx, cfg, targets(t, f))
		if err != nil || (v.Exempt != nil) != (c.want != "") || (v.Exempt != nil && v.Exempt.String() != c.want) {
			t.Errorf("%+v: %+v %v, want %q", c.key, v, err, c.want)
		}
	}
	if want := []string{"user break-glass", "user alice", "role ops-role"}; !slices.Equal(asked, want) {
		t.Errorf("reads = %v, want %v (root has nothing taggable)", asked, want)
	}
	wantOps(t, rec, "iam:ListUserTags", "iam:ListRoleTags")
}

// The tag read addresses the target as the bot does: a function by the ARN built from its name (never
// the finding's ARN), a database by its identifier's ARN.
func TestCheck_LambdaAndRDSAreReadByTheARNOfTheResourceTheBotChanges(t *testing.T) {
	rec := bottest.NewRecorder("")
	var arns []string
	cfg := bottest.Config("", rec.Option,
		bottest.StubCall("lambda:ListTags", func(in any) (any, error) {
			arns = append(arns, aws.ToString(in.(*lambda.ListTagsInput).Resource))
			return &lambda.ListTagsOutput{Tags: map[string]string{bots.ExemptionTag: "true"}}, nil
		}),
		bottest.StubCall("rds:ListTagsForResource", func(in any) (any, error) {
			arns = append(arns, aws.ToString(in.(*rds.ListTagsForResourceInput).ResourceName))
			return &rds.ListTagsForResourceOutput{TagList: []rdstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}, nil
		}))
	ctx := context.Background()
	fl := newFinding(finding.KindLambdaFunction)
	fl.Lambda = &finding.Lambda{FunctionName: "payments", FunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:payments:prod"}
	if v, err := exempt.Check(ctx, cfg, targets(t, fl)); err != nil || v.Exempt == nil || v.Exempt.String() != "lambda-function payments" {
		t.Fatalf("lambda: %+v %v", v, err)
	}
	fr := newFinding(finding.KindRDSDBInstance)
	fr.RDS = &finding.RDS{InstanceID: "orders-db"}
	if v, err := exempt.Check(ctx, cfg, targets(t, fr)); err != nil || v.Exempt != nil {
		t.Fatalf("rds without the tag: %+v %v", v, err)
	}
	want := []string{"arn:aws:lambda:us-east-1:111122223333:function:payments", "arn:aws:rds:us-east-1:111122223333:db:orders-db"}
	if !slices.Equal(arns, want) {
		t.Errorf("ARNs = %v, want %v", arns, want)
	}
	wantOps(t, rec, "lambda:ListTags", "rds:ListTagsForResource")
}

// A target that does not exist cannot have its tag read: it is never "not exempt", it is gone, and the
// runner changes nothing of it.
func TestCheck_ATargetNotFoundIsGoneNeverNotExempt(t *testing.T) {
	cfg := bottest.Config("",
		bottest.StubError("lambda:ListTags", "ResourceNotFoundException", "Function not found"),
		bottest.StubError("iam:ListUserTags", "NoSuchEntity", "The user cannot be found"),
		bottest.StubError("rds:ListTagsForResource", "DBInstanceNotFoundFault", "not found"),
		bottest.StubError("s3:GetBucketTagging", "NoSuchBucket", "The specified bucket does not exist"))
	for name, f := range map[string]*finding.Finding{
		"function": {ResourceKind: finding.KindLambdaFunction, Lambda: &finding.Lambda{FunctionName: "gone"}},
		"user":     {ResourceKind: finding.KindAccessKey, AccessKey: &finding.AccessKey{UserType: finding.UserTypeIAMUser, UserName: "gone"}},
		"database": {ResourceKind: finding.KindRDSDBInstance, RDS: &finding.RDS{InstanceID: "gone"}},
		"bucket":   {ResourceKind: finding.KindS3Bucket, Buckets: []finding.Bucket{{Name: "gone-bucket"}}},
	} {
		f.ID, f.AccountID, f.Region, f.Partition = "f1", bottest.Account, bottest.Region, "aws"
		v, err := exempt.Check(context.Background(), cfg, targets(t, f))
		if err != nil || v.Exempt != nil || len(v.Gone) != 1 || !strings.Contains(v.Gone[0].Reason, "no longer exists") ||
			!strings.Contains(v.Gone[0].Reason, "gone") {
			t.Errorf("%s: %+v, %v; want it gone, with the reason", name, v, err)
		}
	}
}

func TestCheck_AReadErrorIsAnErrorNeverNotExempt(t *testing.T) {
	cfg := bottest.Config("", bottest.StubError("ec2:DescribeTags", "UnauthorizedOperation", "no"))
	f := newFinding(finding.KindInstance)
	f.Instance = &finding.Instance{ID: "i-0123456789abcdef0"}
	v, err := exempt.Check(context.Background(), cfg, targets(t, f))
	if err == nil || v.Exempt != nil || errors.Is(err, exempt.ErrGone) || !strings.Contains(err.Error(), "instance i-0123456789abcdef0") ||
		!strings.Contains(err.Error(), bottest.Account) {
		t.Fatalf("%+v, err %v: want an error naming the resource and account", v, err)
	}
}

func TestInstanceProfileRole_IsTheProfilesRoleOrAReasonWhyNone(t *testing.T) {
	rec := bottest.NewRecorder("")
	cfg := bottest.Config("", rec.Option, bottest.StubCall("iam:GetInstanceProfile", func(in any) (any, error) {
		switch n := aws.ToString(in.(*iam.GetInstanceProfileInput).InstanceProfileName); n {
		case "web":
			return &iam.GetInstanceProfileOutput{InstanceProfile: &iamtypes.InstanceProfile{InstanceProfileName: aws.String(n),
				Roles: []iamtypes.Role{{RoleName: aws.String("web-role"), Arn: aws.String("arn:aws:iam::111122223333:role/web-role")}}}}, nil
		case "empty":
			return &iam.GetInstanceProfileOutput{InstanceProfile: &iamtypes.InstanceProfile{InstanceProfileName: aws.String(n)}}, nil
		}
		return nil, bottest.APIError("NoSuchEntity", "Instance Profile cannot be found")
	}))
	revoke, _ := bots.Lookup("iam_revoke_role_sessions")
	f := newFinding(finding.KindInstance)
	for profile, want := range map[string]string{"web": "", "empty": "instance profile empty has no role", "gone": "instance profile gone no longer exists"} {
		f.Instance = &finding.Instance{ID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/" + profile}
		related, skip, err := revoke.RelatedOf(context.Background(), cfg, f, targets(t, f))
		if err != nil || skip != want || (want == "") != (len(related) == 1) {
			t.Errorf("%s: %+v, %q, %v; want skip %q", profile, related, skip, err, want)
		}
		if want == "" && (related[0].ID != "web-role" || related[0].Kind != finding.TargetIAMRole || related[0].Account != bottest.Account ||
			related[0].Via != "instance-profile web of instance i-0123456789abcdef0") {
			t.Errorf("related = %+v", related[0])
		}
	}
	wantOps(t, rec, "iam:GetInstanceProfile")
}

func TestCheck_TrailTaggedIsExemptAndAGoneTrailIsGone(t *testing.T) {
	srv := bottest.NewKumo(t)
	ctx := context.Background()
	api := cloudtrail.NewFromConfig(bottest.Config(srv.URL))
	var arns []string
	for _, name := range []string{"audit-exempt", "audit-plain"} {
		out, err := api.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String("trail-logs")})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.TrailARN))
	}
	if _, err := api.AddTags(ctx, &cloudtrail.AddTagsInput{ResourceId: aws.String(arns[0]), TagsList: []cttypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		rec := bottest.NewRecorder("")
		f := newFinding(finding.KindAccessKey)
		f.Action = &finding.Action{Trail: arns[i]}
		v, err := exempt.Check(ctx, bottest.Config(srv.URL, rec.Option), targets(t, f))
		if err != nil || (v.Exempt != nil) != want {
			t.Errorf("%s: verdict %+v, %v; want exempt %v", arns[i], v, err, want)
		}
		wantOps(t, rec, "cloudtrail:ListTags")
	}
	// kumo answers ListTags of an unknown trail with no tags; CloudTrail says ResourceNotFoundException.
	f := newFinding(finding.KindAccessKey)
	f.Action = &finding.Action{Trail: "deleted-trail"}
	v, err := exempt.Check(ctx, bottest.Config(srv.URL, bottest.StubError("cloudtrail:ListTags", "ResourceNotFoundException", "not found")), targets(t, f))
	if err != nil || len(v.Gone) != 1 {
		t.Errorf("deleted trail: %+v, %v; want it gone", v, err)
	}
}

// The instance of an instance-credential finding's session: named by the session, read live, and only
// on a finding that says the credentials are an instance's.
func TestSessionInstance_IsTheRunningInstanceTheSessionIsNamedAfter(t *testing.T) {
	srv := bottest.NewKumo(t)
	ctx := context.Background()
	api := ec2.NewFromConfig(bottest.Config(srv.URL))
	var ids []string
	for range 2 {
		run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
			InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(run.Instances[0].InstanceId))
	}
	if _, err := api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[1:]}); err != nil {
		t.Fatal(err)
	}
	rec := bottest.NewRecorder("")
	cfg := bottest.Config(srv.URL, rec.Option)
	tag, _ := bots.Lookup("ec2_tag_instance")
	credential := func(session string) *finding.Finding {
		f := newFinding(finding.KindAccessKey)
		f.Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
		f.TypeParts, _ = finding.ParseType(f.Type)
		f.AccessKey = &finding.AccessKey{UserType: finding.UserTypeAssumedRole, UserName: "web", PrincipalID: "AROAEXAMPLEEXAMPLE0:" + session, AccessKeyID: "ASIAEXAMPLE0000000AA"}
		return f
	}
	related := func(f *finding.Finding) ([]finding.Target, string, error) {
		ts, _, err := tag.TargetsOf(f)
		if err != nil {
			t.Fatal(err)
		}
		return tag.RelatedOf(ctx, cfg, f, ts)
	}
	got, skip, err := related(credential(ids[0]))
	if err != nil || skip != "" || len(got) != 1 || got[0].Kind != finding.TargetInstance || got[0].ID != ids[0] ||
		got[0].ARN != "arn:aws:ec2:"+bottest.Region+":"+bottest.Account+":instance/"+ids[0] ||
		got[0].Via != "instance "+ids[0]+" of session AROAEXAMPLEEXAMPLE0:"+ids[0] {
		t.Fatalf("related %+v, %q, %v", got, skip, err)
	}
	wantOps(t, rec, "ec2:DescribeInstances")

	otherType := credential(ids[0])
	otherType.Type = "UnauthorizedAccess:IAMUser/TorIPCaller"
	otherType.TypeParts, _ = finding.ParseType(otherType.Type)
	disagrees := credential(ids[0])
	disagrees.Instance = &finding.Instance{ID: "i-0fedcba9876543210"}
	for name, c := range map[string]struct {
		f    *finding.Finding
		want string
	}{
		"another finding type":  {otherType, "only an instance-credential finding says whose instance a session is"},
		"not an instance id":    {credential("deploy-bot"), "is not named after an instance id"},
		"terminated":            {credential(ids[1]), "is terminated"},
		"unknown":               {credential("i-0123456789abcdef0"), "no longer exists"},
		"the finding disagrees": {disagrees, "the finding names instance i-0fedcba9876543210 but its session is named " + ids[0]},
	} {
		if got, skip, err := related(c.f); err != nil || len(got) != 0 || !strings.Contains(skip, c.want) {
			t.Errorf("%s: %+v, %q, %v; want skip %q", name, got, skip, err, c.want)
		}
	}
}
