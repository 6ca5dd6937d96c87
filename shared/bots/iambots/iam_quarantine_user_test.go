package iambots

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// userPolicyFake stands in for Get/PutUserPolicy and TagUser, which kumo does not serve. Like IAM, it
// returns documents URL-encoded.
type userPolicyFake struct {
	mu   sync.Mutex
	docs map[string]string // user/policy → document
	puts []*iam.PutUserPolicyInput
	tags []*iam.TagUserInput
}

func (u *userPolicyFake) options() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{
		bottest.StubCall("iam:GetUserPolicy", func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			g := in.(*iam.GetUserPolicyInput)
			doc, ok := u.docs[aws.ToString(g.UserName)+"/"+aws.ToString(g.PolicyName)]
			if !ok {
				return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The user policy cannot be found.", Fault: smithy.FaultClient}
			}
			return &iam.GetUserPolicyOutput{UserName: g.UserName, PolicyName: g.PolicyName, PolicyDocument: aws.String(strings.ReplaceAll(url.QueryEscape(doc), "+", "%20"))}, nil
		}),
		bottest.StubCall("iam:PutUserPolicy", func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			p := in.(*iam.PutUserPolicyInput)
			u.puts = append(u.puts, p)
			if u.docs == nil {
				u.docs = map[string]string{}
			}
			u.docs[aws.ToString(p.UserName)+"/"+aws.ToString(p.PolicyName)] = aws.ToString(p.PolicyDocument)
			return &iam.PutUserPolicyOutput{}, nil
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
	fake *userPolicyFake
	user string
}

func newQuarantineEnv(t *testing.T, stubs ...func(*middleware.Stack) error) quarantineEnv {
	t.Helper()
	fake := &userPolicyFake{}
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

func (u *userPolicyFake) state() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return fmt.Sprint(u.docs, len(u.tags), " tags")
}

var _ = bottest.RegisterContract("iam_quarantine_user", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newQuarantineEnv(t, stubs...)
		return principalWorld(e.Env, func() *finding.Finding {
			return accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser)
		}, e.fake.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:PutUserPolicy",
	Throttle: "iam:GetUserPolicy",
})

func TestIAMQuarantineUser_AttachesExactDenyAllPolicyAndTagsTheUser(t *testing.T) {
	e := newQuarantineEnv(t)
	res, err := e.run(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["policy"] != "absent" || res.After["policy"] != "deny-all" {
		t.Fatalf("result = %+v, want remediated", res)
	}
	if len(e.fake.puts) != 1 {
		t.Fatalf("PutUserPolicy called %d times, want once", len(e.fake.puts))
	}
	p := e.fake.puts[0]
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"GuardbotsQuarantine","Effect":"Deny","Action":"*","Resource":"*"}]}`
	if aws.ToString(p.UserName) != e.user || aws.ToString(p.PolicyName) != "guardbots-quarantine" || aws.ToString(p.PolicyDocument) != want {
		t.Errorf("PutUserPolicy(%s, %s, %s), want (%s, guardbots-quarantine, %s)", aws.ToString(p.UserName), aws.ToString(p.PolicyName), aws.ToString(p.PolicyDocument), e.user, want)
	}
	// Read back through the bot's read path (URL-decoded).
	if doc, err := userInlinePolicy(context.Background(), iam.NewFromConfig(e.Config), e.user, quarantinePolicyName); err != nil || doc != want {
		t.Errorf("policy reads back %q (%v)", doc, err)
	}
	if len(e.fake.tags) != 1 || aws.ToString(e.fake.tags[0].UserName) != e.user {
		t.Errorf("TagUser calls %v, want one for %s", e.fake.tags, e.user)
	}
}

func TestIAMQuarantineUser_ChangedPolicyIsRewritten(t *testing.T) {
	e := newQuarantineEnv(t)
	e.fake.docs = map[string]string{e.user + "/" + quarantinePolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}`}
	res, err := e.run(t, false)
	if err != nil || res.Status != bots.StatusRemediated || res.Before["policy"] != "different" || !strings.Contains(res.Before["document"], "s3:GetObject") {
		t.Fatalf("result = %+v, %v; want remediated reporting the old document", res, err)
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

func TestIAMQuarantineUser_TaggingFailureIsAnErrorThatSaysItQuarantined(t *testing.T) {
	e := newQuarantineEnv(t, bottest.StubError("iam:TagUser", "AccessDenied", "not authorized"))
	_, err := e.run(t, false)
	if err == nil || !strings.Contains(err.Error(), "was quarantined but tagging the user failed") {
		t.Errorf("err = %v", err)
	}
}
