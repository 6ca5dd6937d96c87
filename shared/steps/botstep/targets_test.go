package botstep

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// runWithExemption runs the real bot through the runner with the real exemption rail, on clients that
// only the given stubs answer (any other call fails to connect), and returns the calls made.
func runWithExemption(t *testing.T, bot string, f *finding.Finding, stubs ...func(*middleware.Stack) error) (bots.Result, error, []string) {
	t.Helper()
	b, _ := bots.Lookup(bot)
	rec := bottest.NewRecorder("")
	cfg := bottest.Config("", append([]func(*middleware.Stack) error{rec.Option}, stubs...)...)
	r := Runner{Bot: b, Resolver: kumoResolver{cfg}, Rails: Rails{Exempt: exempt.Check}}
	res, err := r.Run(context.Background(), steps.BotInput{Finding: f, Execution: "arn:exec:1", Action: mapping.Action{Bot: bot, Mode: "AUTO"}})
	return res, err, rec.Ops()
}

// instanceProfileWorld answers the IAM and EC2 calls of iam_revoke_role_sessions on an instance
// finding: the instance's profile holds web-app-role; exempt lists the principals tagged exempt.
func instanceProfileWorld(exempt ...string) []func(*middleware.Stack) error {
	tags := func(name string) []iamtypes.Tag {
		if slices.Contains(exempt, name) {
			return []iamtypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("break-glass")}}
		}
		return nil
	}
	return []func(*middleware.Stack) error{
		bottest.StubCall("ec2:DescribeTags", func(any) (any, error) { return &ec2.DescribeTagsOutput{}, nil }),
		bottest.StubCall("iam:GetInstanceProfile", func(in any) (any, error) {
			return &iam.GetInstanceProfileOutput{InstanceProfile: &iamtypes.InstanceProfile{
				InstanceProfileName: in.(*iam.GetInstanceProfileInput).InstanceProfileName,
				Roles:               []iamtypes.Role{{RoleName: aws.String("web-app-role"), Arn: aws.String("arn:aws:iam::111122223333:role/web-app-role")}},
			}}, nil
		}),
		bottest.StubCall("iam:ListRoleTags", func(in any) (any, error) {
			return &iam.ListRoleTagsOutput{Tags: tags(aws.ToString(in.(*iam.ListRoleTagsInput).RoleName))}, nil
		}),
		bottest.StubCall("iam:GetRole", func(in any) (any, error) {
			return &iam.GetRoleOutput{Role: &iamtypes.Role{RoleName: in.(*iam.GetRoleInput).RoleName, Path: aws.String("/"),
				Arn: aws.String("arn:aws:iam::111122223333:role/" + aws.ToString(in.(*iam.GetRoleInput).RoleName))}}, nil
		}),
		bottest.StubError("iam:GetRolePolicy", "NoSuchEntity", "no policy"),
		bottest.StubCall("iam:PutRolePolicy", func(any) (any, error) { return &iam.PutRolePolicyOutput{}, nil }),
		bottest.StubCall("iam:TagRole", func(any) (any, error) { return &iam.TagRoleOutput{}, nil }),
	}
}

func instanceCredentialFinding() *finding.Finding {
	return &finding.Finding{ID: "f-profile", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		Type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", ResourceKind: finding.KindInstance,
		Instance: &finding.Instance{ID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/web-app"}}
}

// Defect (a): for an Instance finding, iam_revoke_role_sessions acts on the role of the instance's
// profile, but only the instance's exemption tag was read. The runner now resolves that role before
// any rail, and the exemption rail reads its tag: an exempt role keeps its sessions.
func TestRails_InstanceFindingsProfileRoleTaggedExemptKeepsItsSessions(t *testing.T) {
	res, err, ops := runWithExemption(t, "iam_revoke_role_sessions", instanceCredentialFinding(), instanceProfileWorld("web-app-role")...)
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "exempt: iam-role web-app-role is tagged guardbots:exempt" {
		t.Fatalf("result = %+v, %v; want skipped: the profile's role is exempt", res, err)
	}
	if want := []string{"iam:GetInstanceProfile", "ec2:DescribeTags", "iam:ListRoleTags"}; !slices.Equal(ops, want) {
		t.Errorf("calls = %v, want only the runner's reads %v", ops, want)
	}
	// The same role, not exempt: the bot revokes exactly the role the rail read, without looking the
	// profile up again.
	res, err, ops = runWithExemption(t, "iam_revoke_role_sessions", instanceCredentialFinding(), instanceProfileWorld()...)
	if err != nil || res.Status != bots.StatusRemediated || !strings.Contains(strings.Join(res.Changes, " "), "role web-app-role") {
		t.Fatalf("result = %+v, %v; want the profile's role revoked", res, err)
	}
	if n := strings.Count(strings.Join(ops, " "), "iam:GetInstanceProfile"); n != 1 || !slices.Contains(ops, "iam:PutRolePolicy") {
		t.Errorf("calls = %v: want one profile lookup (the runner's) and the revoke", ops)
	}
}

func TestRails_InstanceWithoutAProfileOrWhoseProfileIsGoneIsSkippedBeforeAnyRail(t *testing.T) {
	f := instanceCredentialFinding()
	f.Instance.InstanceProfileArn = ""
	res, err, ops := runWithExemption(t, "iam_revoke_role_sessions", f, instanceProfileWorld()...)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "has no instance profile") || len(ops) != 0 {
		t.Errorf("no profile: %+v, %v, calls %v", res, err, ops)
	}
	world := append([]func(*middleware.Stack) error{bottest.StubError("iam:GetInstanceProfile", "NoSuchEntity", "not found")}, instanceProfileWorld()...)
	res, err, ops = runWithExemption(t, "iam_revoke_role_sessions", instanceCredentialFinding(), world...)
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "instance profile web-app no longer exists" || slices.Contains(ops, "iam:PutRolePolicy") {
		t.Errorf("profile gone: %+v, %v, calls %v", res, err, ops)
	}
	// A profile of another account is not the instance's: rejected, nothing read.
	f = instanceCredentialFinding()
	f.Instance.InstanceProfileArn = "arn:aws:iam::444455556666:instance-profile/break-glass"
	if _, err, ops := runWithExemption(t, "iam_revoke_role_sessions", f, instanceProfileWorld()...); faults.Classify(err) != faults.Rejected || len(ops) != 0 {
		t.Errorf("another account's profile: %v, calls %v; want a rejection before any call", err, ops)
	}
}

// lambdaWorld answers Lambda's calls: the function named payments exists and is tagged exempt; any
// other ARN is not found.
func lambdaWorld() []func(*middleware.Stack) error {
	const payments = "arn:aws:lambda:us-east-1:111122223333:function:payments"
	return []func(*middleware.Stack) error{
		bottest.StubCall("lambda:ListTags", func(in any) (any, error) {
			if aws.ToString(in.(*lambda.ListTagsInput).Resource) != payments {
				return nil, bottest.APIError("ResourceNotFoundException", "Function not found")
			}
			return &lambda.ListTagsOutput{Tags: map[string]string{bots.ExemptionTag: "payments on-call"}}, nil
		}),
		bottest.StubCall("lambda:GetFunctionConcurrency", func(any) (any, error) { return &lambda.GetFunctionConcurrencyOutput{}, nil }),
		bottest.StubCall("lambda:PutFunctionConcurrency", func(any) (any, error) { return &lambda.PutFunctionConcurrencyOutput{}, nil }),
		bottest.StubCall("lambda:TagResource", func(any) (any, error) { return &lambda.TagResourceOutput{}, nil }),
	}
}

func functionFinding(name, arn string) *finding.Finding {
	return &finding.Finding{ID: "f-fn", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		Type: "Backdoor:Lambda/C&CActivity.B", ResourceKind: finding.KindLambdaFunction, Lambda: &finding.Lambda{FunctionName: name, FunctionArn: arn}}
}

// Defect (b): lambda_disable_function read the exemption tag by the input's function ARN but acted on
// the function's name, and a tag read that found nothing counted as "not exempt": an input whose ARN
// named a missing function got an exempt function disabled. Now the tag is read by the ARN built from
// the very name the bot acts on, an ARN naming another function is rejected, and a function whose tags
// cannot be read is not changed.
func TestRails_LambdaExemptionIsReadOnTheFunctionTheBotDisables(t *testing.T) {
	// The attack: the exempt function's name, with the ARN of a function that does not exist.
	res, err, ops := runWithExemption(t, "lambda_disable_function",
		functionFinding("payments", "arn:aws:lambda:us-east-1:111122223333:function:payments-missing"), lambdaWorld()...)
	if faults.Classify(err) != faults.Rejected || slices.Contains(ops, "lambda:PutFunctionConcurrency") || len(ops) != 0 {
		t.Errorf("name and ARN of different functions: %+v, %v, calls %v; want a rejection before any call", res, err, ops)
	}
	// The exempt function, by its name or by its own (qualified) ARN: exempt, untouched.
	for _, f := range []*finding.Finding{
		functionFinding("payments", ""),
		functionFinding("", "arn:aws:lambda:us-east-1:111122223333:function:payments:prod"),
	} {
		res, err, ops := runWithExemption(t, "lambda_disable_function", f, lambdaWorld()...)
		if err != nil || res.Status != bots.StatusSkipped || res.Reason != "exempt: lambda-function payments is tagged guardbots:exempt" || !slices.Equal(ops, []string{"lambda:ListTags"}) {
			t.Errorf("%+v: %+v, %v, calls %v; want skipped exempt after the tag read only", f.Lambda, res, err, ops)
		}
	}
	// A function whose tags cannot be read because it is gone is not changed (never "not exempt").
	res, err, ops = runWithExemption(t, "lambda_disable_function", functionFinding("gone", ""), lambdaWorld()...)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "not changed: function gone no longer exists") ||
		!slices.Equal(ops, []string{"lambda:ListTags"}) {
		t.Errorf("gone function: %+v, %v, calls %v; want skipped, the reason naming it, no call past the tag read", res, err, ops)
	}
}

// One bucket of a finding is gone: the others are still blocked, and the result says which was not
// changed and why.
func TestRails_AGoneBucketIsNotChangedAndTheOthersAre(t *testing.T) {
	open := bottest.StubCall("s3:GetBucketTagging", func(in any) (any, error) {
		if aws.ToString(in.(*s3.GetBucketTaggingInput).Bucket) == "gone-bucket" {
			return nil, bottest.APIError("NoSuchBucket", "The specified bucket does not exist")
		}
		return &s3.GetBucketTaggingOutput{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}, nil
	})
	var blocked []string
	world := []func(*middleware.Stack) error{open,
		bottest.StubError("s3:GetPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration", "none"),
		bottest.StubCall("s3:PutPublicAccessBlock", func(in any) (any, error) {
			blocked = append(blocked, aws.ToString(in.(*s3.PutPublicAccessBlockInput).Bucket))
			return &s3.PutPublicAccessBlockOutput{}, nil
		})}
	f := &finding.Finding{ID: "f-b", AccountID: "111122223333", Region: "us-east-1", Partition: "aws", ResourceKind: finding.KindS3Bucket,
		Buckets: []finding.Bucket{{Name: "gone-bucket"}, {Name: "open-data"}}}
	res, err, _ := runWithExemption(t, "s3_block_public_access", f, world...)
	if err != nil || res.Status != bots.StatusRemediated || !slices.Equal(blocked, []string{"open-data"}) ||
		!slices.ContainsFunc(res.Changes, func(c string) bool { return strings.HasPrefix(c, "not changed: bucket gone-bucket no longer exists") }) {
		t.Errorf("result %+v, %v, blocked %v", res, err, blocked)
	}
	f.Buckets = f.Buckets[:1]
	blocked = nil
	if res, err, _ := runWithExemption(t, "s3_block_public_access", f, world...); err != nil || res.Status != bots.StatusSkipped || len(blocked) != 0 {
		t.Errorf("only a gone bucket: %+v, %v, blocked %v", res, err, blocked)
	}
}
