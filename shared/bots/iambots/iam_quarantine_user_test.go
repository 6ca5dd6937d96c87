package iambots

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

const denyAllArnAWS = "arn:aws:iam::aws:policy/AWSDenyAll"

// attachedFake stands in for ListAttachedUserPolicies, AttachUserPolicy and TagUser: kumo knows no AWS
// managed policy (AWSDenyAll), so these are SDK-level stubs. Like IAM, it pages its answers and refuses a
// user it does not hold; GetUser is kumo's.
type attachedFake struct {
	mu       sync.Mutex
	attached map[string][]string // user → policy ARNs, in attach order
	attaches []*iam.AttachUserPolicyInput
	tags     []*iam.TagUserInput
	pageSize int
}

func (u *attachedFake) options() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("iam:ListAttachedUserPolicies", func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			l := in.(*iam.ListAttachedUserPoliciesInput)
			all := u.attached[aws.ToString(l.UserName)]
			start := 0
			if l.Marker != nil {
				fmt.Sscan(aws.ToString(l.Marker), &start)
			}
			size := u.pageSize
			if size == 0 {
				size = 100
			}
			end := min(start+size, len(all))
			out := &iam.ListAttachedUserPoliciesOutput{}
			for _, arn := range all[start:end] {
				name := arn[strings.LastIndex(arn, "/")+1:]
				out.AttachedPolicies = append(out.AttachedPolicies, iamtypes.AttachedPolicy{PolicyArn: aws.String(arn), PolicyName: aws.String(name)})
			}
			if end < len(all) {
				out.IsTruncated, out.Marker = true, aws.String(fmt.Sprint(end))
			}
			return out, nil
		}),
		bottest.StubCall("iam:AttachUserPolicy", func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			a := in.(*iam.AttachUserPolicyInput)
			u.attaches = append(u.attaches, a)
			if u.attached == nil {
				u.attached = map[string][]string{}
			}
			user := aws.ToString(a.UserName)
			u.attached[user] = append(u.attached[user], aws.ToString(a.PolicyArn))
			return &iam.AttachUserPolicyOutput{}, nil
		}),
		bottest.StubCall("iam:TagUser", func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.tags = append(u.tags, in.(*iam.TagUserInput))
			return &iam.TagUserOutput{}, nil
		}),
	}
}

type quarantineEnv struct {
	bottest.Env
	fake *attachedFake
	user string
}

func newQuarantineEnv(t *testing.T, stubs ...func(*middleware.Stack) error) quarantineEnv {
	t.Helper()
	fake := &attachedFake{}
	e := bottest.NewEnv(t, "iam_quarantine_user", append(stubs, fake.options()...)...)
	user := bottest.UniqueName("mallory")
	if _, err := iam.NewFromConfig(e.Admin()).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	return quarantineEnv{Env: e, fake: fake, user: user}
}

func (e quarantineEnv) run(t *testing.T, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "iam_quarantine_user", e.Request(accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser), dryRun))
}

func (u *attachedFake) state() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return fmt.Sprint(u.attached, len(u.tags), " tags")
}

var _ = bottest.RegisterContract("iam_quarantine_user", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newQuarantineEnv(t, stubs...)
		return principalWorld(e.Env, func() *finding.Finding {
			return accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser)
		}, e.fake.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:AttachUserPolicy",
	Throttle: "iam:ListAttachedUserPolicies",
})

func TestIAMQuarantineUser_AttachesTheAWSManagedDenyAllPolicyAndTagsTheUser(t *testing.T) {
	e := newQuarantineEnv(t)
	res, err := e.run(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["AWSDenyAll"] != "not attached" || res.After["AWSDenyAll"] != "attached" {
		t.Fatalf("result = %+v, want remediated", res)
	}
	if len(e.fake.attaches) != 1 {
		t.Fatalf("AttachUserPolicy called %d times, want once", len(e.fake.attaches))
	}
	if a := e.fake.attaches[0]; aws.ToString(a.UserName) != e.user || aws.ToString(a.PolicyArn) != denyAllArnAWS {
		t.Errorf("AttachUserPolicy(%s, %s), want (%s, %s)", aws.ToString(a.UserName), aws.ToString(a.PolicyArn), e.user, denyAllArnAWS)
	}
	if len(e.fake.tags) != 1 || aws.ToString(e.fake.tags[0].UserName) != e.user {
		t.Errorf("TagUser calls %v, want one for %s", e.fake.tags, e.user)
	}
	// No inline policy is written any more: the roles cannot write policy text.
	for _, op := range e.Rec.Ops() {
		if strings.Contains(op, "PutUserPolicy") {
			t.Errorf("called %s", op)
		}
	}
}

// The policy's ARN is in the finding's partition: what the role's iam:PolicyARN condition admits there.
func TestIAMQuarantineUser_AttachesThePolicyOfTheFindingsPartition(t *testing.T) {
	e := newQuarantineEnv(t)
	f := accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser)
	f.Partition = "aws-us-gov"
	if _, err := bottest.Run(t, "iam_quarantine_user", e.Request(f, false)); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(e.fake.attaches[0].PolicyArn); got != "arn:aws-us-gov:iam::aws:policy/AWSDenyAll" {
		t.Errorf("attached %s", got)
	}
	f.Partition = ""
	if _, err := bottest.Run(t, "iam_quarantine_user", e.Request(f, false)); err == nil || !strings.Contains(err.Error(), "partition") {
		t.Errorf("no partition: %v", err)
	}
}

// Already attached, on any page of the user's attached policies: nothing is attached again.
func TestIAMQuarantineUser_AlreadyAttachedOnALaterPageIsAlreadyDone(t *testing.T) {
	e := newQuarantineEnv(t)
	e.fake.pageSize = 2
	e.fake.attached = map[string][]string{e.user: {"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::111122223333:policy/team", denyAllArnAWS}}
	res, err := e.run(t, false)
	if err != nil || res.Status != bots.StatusAlreadyDone || res.Before["AWSDenyAll"] != "attached" {
		t.Fatalf("result = %+v, %v; want already-done", res, err)
	}
	if len(e.fake.attaches) != 0 || len(e.fake.tags) != 0 {
		t.Errorf("attached %v, tagged %v", e.fake.attaches, e.fake.tags)
	}
}

func TestIAMQuarantineUser_RootAndRoleCredentialsAreSkipped(t *testing.T) {
	e := newQuarantineEnv(t)
	for ut, want := range map[finding.UserType]string{finding.UserTypeRoot: "root credentials are never acted on", finding.UserTypeAssumedRole: "iam_revoke_role_sessions"} {
		res, err := bottest.Run(t, "iam_quarantine_user", e.Request(accessKeyFinding(e.user, "", ut), false))
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, want) {
			t.Errorf("%s: result %s %q, err %v", ut, res.Status, res.Reason, err)
		}
	}
	if len(e.Rec.Ops()) != 0 {
		t.Errorf("called %v", e.Rec.Ops())
	}
}

// A user deleted between the read and the attach is skipped, not failed.
func TestIAMQuarantineUser_UserDeletedBeforeTheAttachIsSkipped(t *testing.T) {
	e := newQuarantineEnv(t, bottest.StubCall("iam:AttachUserPolicy", func(any) (any, error) {
		return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The user cannot be found.", Fault: smithy.FaultClient}
	}))
	res, err := e.run(t, false)
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "deleted before it could be quarantined") {
		t.Errorf("result %+v, %v", res, err)
	}
}

func TestIAMQuarantineUser_TaggingFailureIsAnErrorThatSaysItQuarantined(t *testing.T) {
	e := newQuarantineEnv(t, bottest.StubError("iam:TagUser", "AccessDenied", "not authorized"))
	_, err := e.run(t, false)
	if err == nil || !strings.Contains(err.Error(), "was quarantined but tagging the user failed") {
		t.Errorf("err = %v", err)
	}
}
