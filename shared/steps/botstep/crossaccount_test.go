package botstep

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// signerKeys records the access key id each request was signed with (from the Authorization header).
type signerKeys struct {
	mu   sync.Mutex
	keys []string
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/`)

func (s *signerKeys) option(st *middleware.Stack) error {
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("signerKeys", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			if m := credentialRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
				s.mu.Lock()
				s.keys = append(s.keys, m[1])
				s.mu.Unlock()
			}
		}
		return next.HandleFinalize(ctx, in)
	}), middleware.After)
}

// TestBotRunner_ForeignAccountFindingActsThroughTheMemberRole runs the real ec2_stop_instance through the
// real Resolver against kumo: a finding from another account makes the bot assume
// <prefix>-ec2_stop_instance there with the ExternalId, a session name naming the bot and the finding and
// a source identity, and the EC2 calls are signed with the assumed credentials, not the orchestrator's.
func TestBotRunner_ForeignAccountFindingActsThroughTheMemberRole(t *testing.T) {
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	keys := &signerKeys{}
	base := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("ORCHESTRATORKEY", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{keys.option},
	}
	var assumed []*sts.AssumeRoleInput
	resolver := &awsenv.Resolver{Base: base, RolePrefix: "guardbots", ExternalID: "ext-7f3a", AccountID: "111122223333",
		STSOptions: []func(*sts.Options){func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
				return st.Initialize.Add(middleware.InitializeMiddlewareFunc("captureAssumeRole", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if ar, ok := in.Parameters.(*sts.AssumeRoleInput); ok {
						assumed = append(assumed, ar)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
			})
		}}}

	setup := ec2.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	run, err := setup.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)

	b, ok := bots.Lookup("ec2_stop_instance")
	if !ok {
		t.Fatal("ec2_stop_instance is not registered")
	}
	f := &finding.Finding{ID: "a2c4e6f8a0b2c4e6f8a0b2c4e6f8a0b2", AccountID: "444455556666", Region: "us-east-1",
		Partition: "aws", ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: id}}
	res, err := Runner{Bot: b, Resolver: resolver}.Run(context.Background(), steps.BotInput{Finding: f,
		Action: mapping.Action{Bot: "ec2_stop_instance", Mode: "AUTO"}, Execution: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:x"})
	if err != nil {
		t.Fatal(err)
	}

	if len(assumed) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1", len(assumed))
	}
	ar := assumed[0]
	if got, want := aws.ToString(ar.RoleArn), "arn:aws:iam::444455556666:role/guardbots-ec2_stop_instance"; got != want {
		t.Errorf("RoleArn = %s, want %s", got, want)
	}
	if aws.ToString(ar.ExternalId) != "ext-7f3a" || aws.ToString(ar.RoleSessionName) != "ec2_stop_instance@"+f.ID ||
		aws.ToString(ar.SourceIdentity) != "guardbots-ec2_stop_instance" {
		t.Errorf("AssumeRole input: ExternalId %q, RoleSessionName %q, SourceIdentity %q",
			aws.ToString(ar.ExternalId), aws.ToString(ar.RoleSessionName), aws.ToString(ar.SourceIdentity))
	}
	if res.Status != bots.StatusRemediated || res.Role != "arn:aws:iam::444455556666:role/guardbots-ec2_stop_instance" || res.Account != "444455556666" {
		t.Errorf("result = %+v", res)
	}
	// The STS call is signed by the orchestrator; every EC2 call after it by the assumed role.
	keys.mu.Lock()
	signed := append([]string{}, keys.keys...)
	keys.mu.Unlock()
	if len(signed) < 3 || signed[0] != "ORCHESTRATORKEY" {
		t.Fatalf("signing keys = %v", signed)
	}
	for _, k := range signed[1:] {
		if k == "ORCHESTRATORKEY" || strings.TrimSpace(k) == "" {
			t.Fatalf("an EC2 call in the member account was signed with the orchestrator's key: %v", signed)
		}
	}
	desc, err := setup.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameStopped && st != ec2types.InstanceStateNameStopping {
		t.Errorf("instance state = %s", st)
	}
}
