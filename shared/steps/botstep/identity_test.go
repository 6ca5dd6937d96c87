package botstep

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// credentialWorld answers the runner's and the bots' reads on an instance-credential finding: the
// instance i-0123456789abcdef0 runs, the role web-app-role exists (no inline policies); exempt lists the
// targets tagged exempt (an instance id or a role name).
func credentialWorld(exempt ...string) []func(*middleware.Stack) error {
	const instance = "i-0123456789abcdef0"
	return []func(*middleware.Stack) error{
		bottest.StubCall("ec2:DescribeInstances", func(any) (any, error) {
			return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{{
				InstanceId: aws.String(instance), State: &ec2types.InstanceState{Name: ec2types.InstanceStateNameRunning}}}}}}, nil
		}),
		bottest.StubCall("ec2:DescribeTags", func(any) (any, error) {
			if slices.Contains(exempt, instance) {
				return &ec2.DescribeTagsOutput{Tags: []ec2types.TagDescription{{Key: aws.String(bots.ExemptionTag), ResourceId: aws.String(instance)}}}, nil
			}
			return &ec2.DescribeTagsOutput{}, nil
		}),
		bottest.StubCall("iam:ListRoleTags", func(in any) (any, error) {
			if slices.Contains(exempt, aws.ToString(in.(*iam.ListRoleTagsInput).RoleName)) {
				return &iam.ListRoleTagsOutput{Tags: []iamtypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}}, nil
			}
			return &iam.ListRoleTagsOutput{}, nil
		}),
	}
}

func credentialFinding() *finding.Finding {
	f := bottest.CredentialFinding(&finding.Finding{ID: "f0credential", AccountID: "111122223333", Region: "us-east-1", Partition: "aws"}, "i-0123456789abcdef0")
	f.AccessKey.UserName = "web-app-role"
	return f
}

// The instance the stolen credentials came from is a target the exemption rail reads like any other:
// tagged exempt, the EC2 chain leaves it alone, having read only what the runner reads.
func TestRails_TheInstanceOfStolenCredentialsTaggedExemptIsNotChanged(t *testing.T) {
	for _, bot := range []string{"ec2_tag_instance", "ec2_quarantine_instance"} {
		res, err, ops := runWithExemption(t, bot, credentialFinding(), credentialWorld("i-0123456789abcdef0")...)
		if err != nil || res.Status != bots.StatusSkipped || res.Reason != "exempt: instance i-0123456789abcdef0 is tagged guardbots:exempt" {
			t.Fatalf("%s: %+v, %v; want skipped: the instance is exempt", bot, res, err)
		}
		if want := []string{"ec2:DescribeInstances", "ec2:DescribeTags"}; !slices.Equal(ops, want) {
			t.Errorf("%s called %v, want only the runner's reads %v", bot, ops, want)
		}
	}
}

// The deny bots act on the role: an exempt role is left alone, the finding's session with it.
func TestRails_TheDenyBotsHonourTheRolesExemption(t *testing.T) {
	for _, bot := range []string{"iam_deny_session", "iam_deny_source_ip"} {
		res, err, ops := runWithExemption(t, bot, credentialFinding(), credentialWorld("web-app-role")...)
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "exempt: iam-role web-app-role") {
			t.Fatalf("%s: %+v, %v", bot, res, err)
		}
		if !slices.Equal(ops, []string{"iam:ListRoleTags"}) {
			t.Errorf("%s called %v", bot, ops)
		}
	}
}
