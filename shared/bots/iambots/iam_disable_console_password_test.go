package iambots

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// loginProfileFake stands in for Get/DeleteLoginProfile and TagUser, which kumo does not serve.
type loginProfileFake struct {
	mu      sync.Mutex
	has     map[string]bool
	deletes []string
	tags    int
}

func (l *loginProfileFake) options() []func(*middleware.Stack) error {
	noProfile := &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "Login Profile for User cannot be found.", Fault: smithy.FaultClient}
	return []func(*middleware.Stack) error{
		bottest.StubCall("iam:GetLoginProfile", func(in any) (any, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			u := aws.ToString(in.(*iam.GetLoginProfileInput).UserName)
			if !l.has[u] {
				return nil, noProfile
			}
			return &iam.GetLoginProfileOutput{LoginProfile: &iamtypes.LoginProfile{UserName: aws.String(u), CreateDate: aws.Time(time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC))}}, nil
		}),
		bottest.StubCall("iam:DeleteLoginProfile", func(in any) (any, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			u := aws.ToString(in.(*iam.DeleteLoginProfileInput).UserName)
			l.deletes = append(l.deletes, u)
			if !l.has[u] {
				return nil, noProfile
			}
			delete(l.has, u)
			return &iam.DeleteLoginProfileOutput{}, nil
		}),
		bottest.StubCall("iam:TagUser", func(any) (any, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.tags++
			return &iam.TagUserOutput{}, nil
		}),
	}
}

type consoleEnv struct {
	bottest.Env
	fake *loginProfileFake
	user string
}

func newConsoleEnv(t *testing.T, stubs ...func(*middleware.Stack) error) consoleEnv {
	t.Helper()
	user := bottest.UniqueName("trent")
	fake := &loginProfileFake{has: map[string]bool{user: true}}
	e := bottest.NewEnv(t, "iam_disable_console_password", append(stubs, fake.options()...)...)
	if _, err := iam.NewFromConfig(e.Admin()).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	return consoleEnv{Env: e, fake: fake, user: user}
}

func (e consoleEnv) run(t *testing.T, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "iam_disable_console_password", e.Request(accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser), dryRun))
}

func (l *loginProfileFake) state() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.has, l.tags, " tags")
}

var _ = bottest.RegisterContract("iam_disable_console_password", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newConsoleEnv(t, stubs...)
		return principalWorld(e.Env, func() *finding.Finding {
			return accessKeyFinding(e.user, "AKIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser)
		}, e.fake.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:DeleteLoginProfile",
	Throttle: "iam:GetUser",
})

func TestIAMDisableConsolePassword_DeletesTheLoginProfileAndTagsTheUser(t *testing.T) {
	e := newConsoleEnv(t)
	res, err := e.run(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["loginProfile"] != "present" || res.Before["created"] != "2025-05-06T07:08:09Z" || res.After["loginProfile"] != "absent" {
		t.Fatalf("result = %+v", res)
	}
	if !slices.Equal(e.fake.deletes, []string{e.user}) || e.fake.has[e.user] || e.fake.tags != 1 {
		t.Errorf("deletes %v, profile left %v, tags %d", e.fake.deletes, e.fake.has[e.user], e.fake.tags)
	}
}
