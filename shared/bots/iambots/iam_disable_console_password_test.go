package iambots

import (
	"context"
	"slices"
	"strings"
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
	"github.com/guardbots/guardbots/shared/faults"
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

func TestIAMDisableConsolePassword_SecondRunIsAlreadyDone(t *testing.T) {
	e := newConsoleEnv(t)
	if _, err := e.run(t, false); err != nil {
		t.Fatal(err)
	}
	before := len(e.Rec.Ops())
	res, err := e.run(t, false)
	if err != nil || res.Status != bots.StatusAlreadyDone {
		t.Fatalf("second run = %+v, %v", res, err)
	}
	if ops := e.Rec.Ops()[before:]; !slices.Equal(ops, []string{"iam:GetUser", "iam:GetLoginProfile"}) {
		t.Errorf("second run called %v, want only reads", ops)
	}
}

func TestIAMDisableConsolePassword_DryRunChangesNothing(t *testing.T) {
	e := newConsoleEnv(t)
	res, err := e.run(t, true)
	if err != nil || res.Status != bots.StatusDryRun || !e.fake.has[e.user] || len(e.fake.deletes) != 0 {
		t.Fatalf("result = %+v, %v; profile kept %v", res, err, e.fake.has[e.user])
	}
}

func TestIAMDisableConsolePassword_MissingUserIsSkipped(t *testing.T) {
	e := newConsoleEnv(t)
	res, err := bottest.Run(t, "iam_disable_console_password", e.Request(accessKeyFinding("nobody", "", finding.UserTypeIAMUser), false))
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "user nobody no longer exists" {
		t.Errorf("result %s %q, err %v", res.Status, res.Reason, err)
	}
}

func TestIAMDisableConsolePassword_RootIsSkipped(t *testing.T) {
	e := newConsoleEnv(t)
	res, err := bottest.Run(t, "iam_disable_console_password", e.Request(accessKeyFinding("", "", finding.UserTypeRoot), false))
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != reasonRoot || len(e.Rec.Ops()) != 0 {
		t.Errorf("result %s %q, err %v, calls %v", res.Status, res.Reason, err, e.Rec.Ops())
	}
}

func TestIAMDisableConsolePassword_AccessDeniedIsAFailedError(t *testing.T) {
	e := newConsoleEnv(t, bottest.StubError("iam:DeleteLoginProfile", "AccessDenied", "not authorized"))
	_, err := e.run(t, false)
	if k := faults.Classify(err); k != faults.Failed || !strings.Contains(err.Error(), e.user) {
		t.Errorf("err = %v (%s)", err, k)
	}
	if !e.fake.has[e.user] {
		t.Error("the profile is gone after a denied delete")
	}
}

func TestIAMDisableConsolePassword_ThrottlingIsAThrottledError(t *testing.T) {
	e := newConsoleEnv(t, bottest.StubError("iam:GetLoginProfile", "Throttling", "Rate exceeded"))
	_, err := e.run(t, false)
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s", err, k)
	}
}
