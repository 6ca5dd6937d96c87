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
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// principalWorld is the bot contract's view of an IAM bot in env e: what state says is what it may
// change, and a principal named nobody (who does not exist) is its target going missing.
func principalWorld(e bottest.Env, f func() *finding.Finding, state func() string) bottest.World {
	return bottest.World{
		Request: func(dryRun bool) bots.Request { return e.Request(f(), dryRun) },
		Rec:     e.Rec,
		State:   func(*testing.T) string { return state() },
		Gone:    func(req *bots.Request) { req.Finding.AccessKey.UserName = "nobody" },
	}
}

func (k *keyStatusFake) state() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return fmt.Sprint(k.status, len(k.tags), " tags")
}

var _ = bottest.RegisterContract("iam_deactivate_access_key", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		e := newDeactivateEnv(t, stubs...)
		return principalWorld(e.Env, func() *finding.Finding { return accessKeyFinding(e.user, e.key, finding.UserTypeIAMUser) }, e.fake.state)
	},
	Again:    bots.StatusAlreadyDone,
	Deny:     "iam:UpdateAccessKey",
	Throttle: "iam:ListAccessKeys",
})

func accessKeyFinding(user, keyID string, ut finding.UserType) *finding.Finding {
	principal := "AIDAEXAMPLE"
	if ut == finding.UserTypeAssumedRole || ut == finding.UserTypeRole {
		principal = "AROAEXAMPLE:session"
	}
	return &finding.Finding{
		ID: bottest.FindingID, Type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
		AccountID: bottest.Account, Region: bottest.Region, Partition: "aws",
		LastSeen:     "2026-01-02T03:04:05.000Z",
		ResourceKind: finding.KindAccessKey,
		AccessKey:    &finding.AccessKey{AccessKeyID: keyID, UserName: user, UserType: ut, PrincipalID: principal},
	}
}

// keyStatusFake stands in for UpdateAccessKey, which kumo does not serve: it answers UpdateAccessKey and
// overlays the statuses it set on kumo's ListAccessKeys answers, so a second run reads what the first
// one did.
type keyStatusFake struct {
	mu      sync.Mutex
	status  map[string]iamtypes.StatusType
	updates []*iam.UpdateAccessKeyInput
	tags    []*iam.TagUserInput
}

func (k *keyStatusFake) options() []func(*middleware.Stack) error {
	update := bottest.StubCall("iam:UpdateAccessKey", func(in any) (any, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		u := in.(*iam.UpdateAccessKeyInput)
		k.updates = append(k.updates, u)
		if k.status == nil {
			k.status = map[string]iamtypes.StatusType{}
		}
		k.status[aws.ToString(u.AccessKeyId)] = u.Status
		return &iam.UpdateAccessKeyOutput{}, nil
	})
	tag := bottest.StubCall("iam:TagUser", func(in any) (any, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.tags = append(k.tags, in.(*iam.TagUserInput))
		return &iam.TagUserOutput{}, nil
	})
	overlay := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("key status overlay", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if l, ok := out.Result.(*iam.ListAccessKeysOutput); ok && err == nil {
				k.mu.Lock()
				for i, m := range l.AccessKeyMetadata {
					if s, ok := k.status[aws.ToString(m.AccessKeyId)]; ok {
						l.AccessKeyMetadata[i].Status = s
					}
				}
				k.mu.Unlock()
			}
			return out, md, err
		}), middleware.After)
	}
	return []func(*middleware.Stack) error{update, tag, overlay}
}

// deactivateEnv is kumo with a user and two active keys; the finding names the first.
type deactivateEnv struct {
	bottest.Env
	fake             *keyStatusFake
	user, key, other string
}

func newDeactivateEnv(t *testing.T, stubs ...func(*middleware.Stack) error) deactivateEnv {
	t.Helper()
	fake := &keyStatusFake{}
	e := bottest.NewEnv(t, "iam_deactivate_access_key", append(stubs, fake.options()...)...)
	admin := iam.NewFromConfig(e.Admin())
	ctx := context.Background()
	user := bottest.UniqueName("alice")
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range 2 {
		out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, aws.ToString(out.AccessKey.AccessKeyId))
	}
	return deactivateEnv{Env: e, fake: fake, user: user, key: keys[0], other: keys[1]}
}

func (e deactivateEnv) run(t *testing.T, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, "iam_deactivate_access_key", e.Request(accessKeyFinding(e.user, e.key, finding.UserTypeIAMUser), dryRun))
}

func TestIAMDeactivateAccessKey_DeactivatesTheFindingsKeyOnlyAndTagsTheUser(t *testing.T) {
	e := newDeactivateEnv(t)
	res, err := e.run(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated || res.Before["status"] != "Active" || res.After["status"] != "Inactive" {
		t.Fatalf("result = %+v, want remediated Active -> Inactive", res)
	}
	if len(e.fake.updates) != 1 {
		t.Fatalf("UpdateAccessKey called %d times, want once", len(e.fake.updates))
	}
	u := e.fake.updates[0]
	if aws.ToString(u.UserName) != e.user || aws.ToString(u.AccessKeyId) != e.key || u.Status != iamtypes.StatusTypeInactive {
		t.Errorf("UpdateAccessKey(%s, %s, %s), want (%s, %s, Inactive)", aws.ToString(u.UserName), aws.ToString(u.AccessKeyId), u.Status, e.user, e.key)
	}
	// Read back through the bot's own read path: the finding's key is Inactive, the other untouched.
	status, _, err := accessKeyStatus(context.Background(), iam.NewFromConfig(e.Config), e.user, e.key)
	if err != nil || status != iamtypes.StatusTypeInactive {
		t.Errorf("key reads back %q (%v), want Inactive", status, err)
	}
	if status, _, _ := accessKeyStatus(context.Background(), iam.NewFromConfig(e.Config), e.user, e.other); status != iamtypes.StatusTypeActive {
		t.Errorf("the other key is %q, want Active", status)
	}
	if len(e.fake.tags) != 1 || aws.ToString(e.fake.tags[0].UserName) != e.user {
		t.Fatalf("TagUser calls %v, want one for %s", e.fake.tags, e.user)
	}
	tags := map[string]string{}
	for _, tg := range e.fake.tags[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags[bots.TagFindingID] != bottest.FindingID || tags[bots.TagBot] != "iam_deactivate_access_key" || tags[bots.TagExecution] != bottest.Execution {
		t.Errorf("tags = %v", tags)
	}
}

func TestIAMDeactivateAccessKey_MissingKeyOrUserIsSkipped(t *testing.T) {
	e := newDeactivateEnv(t)
	for _, c := range []struct{ user, key, reason string }{
		{e.user, "AKIAGONEGONEGONE0000", "access key AKIAGONEGONEGONE0000 is no longer a key of user " + e.user},
		{"nobody", "AKIAGONEGONEGONE0000", "user nobody no longer exists"},
	} {
		res, err := bottest.Run(t, "iam_deactivate_access_key", e.Request(accessKeyFinding(c.user, c.key, finding.UserTypeIAMUser), false))
		if err != nil || res.Status != bots.StatusSkipped || res.Reason != c.reason {
			t.Errorf("%s/%s: result %s %q, err %v; want skipped %q", c.user, c.key, res.Status, res.Reason, err, c.reason)
		}
	}
	if len(e.fake.updates) != 0 {
		t.Error("updated a key that is not there")
	}
}

func TestIAMDeactivateAccessKey_NonIAMUserCredentialsAreSkippedWithoutCallingAWS(t *testing.T) {
	e := newDeactivateEnv(t)
	for ut, want := range map[finding.UserType]string{
		finding.UserTypeRoot:          "root credentials are never acted on",
		finding.UserTypeAssumedRole:   "iam_deny_session, iam_deny_source_ip, iam_revoke_role_sessions",
		finding.UserTypeRole:          "iam_deny_session, iam_deny_source_ip, iam_revoke_role_sessions",
		finding.UserTypeFederatedUser: "no bot acts on those",
		finding.UserTypeAWSService:    "no bot acts on those",
	} {
		res, err := bottest.Run(t, "iam_deactivate_access_key", e.Request(accessKeyFinding(e.user, e.key, ut), false))
		if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, want) {
			t.Errorf("%s: result %s %q, err %v; want skipped mentioning %q", ut, res.Status, res.Reason, err, want)
		}
	}
	if ops := e.Rec.Ops(); len(ops) != 0 {
		t.Errorf("called %v for credentials it never acts on", ops)
	}
}

func TestIAMDeactivateAccessKey_TemporaryKeyIsSkipped(t *testing.T) {
	e := newDeactivateEnv(t)
	res, err := bottest.Run(t, "iam_deactivate_access_key", e.Request(accessKeyFinding(e.user, "ASIAEXAMPLEEXAMPLE00", finding.UserTypeIAMUser), false))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "iam_quarantine_user") {
		t.Errorf("result %s %q, err %v; want skipped pointing at iam_quarantine_user", res.Status, res.Reason, err)
	}
}

func TestIAMDeactivateAccessKey_MalformedKeyIsRejected(t *testing.T) {
	e := newDeactivateEnv(t)
	_, err := bottest.Run(t, "iam_deactivate_access_key", e.Request(accessKeyFinding(e.user, "AKIA; DROP", finding.UserTypeIAMUser), false))
	if faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v, want a rejection", err)
	}
}

func TestIAMDeactivateAccessKey_TaggingFailureIsAnErrorThatSaysItDeactivated(t *testing.T) {
	e := newDeactivateEnv(t, bottest.StubError("iam:TagUser", "AccessDenied", "not authorized"))
	_, err := e.run(t, false)
	if err == nil || !strings.Contains(err.Error(), "was deactivated but tagging the user failed") {
		t.Errorf("err = %v, want a tagging failure that says the key was deactivated", err)
	}
}
