package iambots

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/finding"
)

// What the tests of the deny bots and their undo bots share: kumo with a role (kumo serves roles and
// their inline policies), an IAM user whose inline policies and tags an SDK-level fake keeps (kumo
// serves GetUser but not PutUserPolicy, GetUserPolicy, ListUserPolicies, DeleteUserPolicy or TagUser),
// an in-memory state table, and the deny bots' clock.

// denyNow is the deny bots' clock in these tests unless a test moves it: an hour after the test
// finding's LastSeen.
var denyNow = time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC)

// The finding's session and the attacker's address.
const (
	stolenSession = "i-0123456789abcdef0"
	attackerIP    = "198.51.100.7"
)

type denyEnv struct {
	bottest.Env
	role, roleID string
	user, userID string
	users        *inlineUserFake
	state        *ec2test.UndoState
	clock        *time.Time
}

// newDenyEnv is kumo with a role (MaxSessionDuration 1h) and a user, the bot's recorded clients (stubs
// first, then the user fake), a state table, and the deny bots' clock at denyNow.
func newDenyEnv(t *testing.T, bot string, stubs ...func(*middleware.Stack) error) *denyEnv {
	t.Helper()
	now := denyNow
	old := denyClock
	denyClock = func() time.Time { return now }
	t.Cleanup(func() { denyClock = old })
	users := &inlineUserFake{policies: map[string]map[string]string{}}
	e := bottest.NewEnv(t, bot, append(stubs, users.options()...)...)
	admin := iam.NewFromConfig(e.Admin())
	ctx := context.Background()
	role := bottest.UniqueName("web-fleet")
	out, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trustEC2), MaxSessionDuration: aws.Int32(3600)})
	if err != nil {
		t.Fatal(err)
	}
	user := bottest.UniqueName("ci-user")
	u, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	return &denyEnv{Env: e, role: role, roleID: aws.ToString(out.Role.RoleId), user: user, userID: aws.ToString(u.User.UserId),
		users: users, state: &ec2test.UndoState{}, clock: &now}
}

// at moves the deny bots' clock.
func (e *denyEnv) at(t time.Time) { *e.clock = t }

// sessionFinding is an instance-credential finding in the documented assumed-role shape: the role's
// session named after the instance, used from the attacker's address.
func sessionFinding(role, roleID, session string) *finding.Finding {
	f := accessKeyFinding(role, "ASIAEXAMPLEEXAMPLE00", finding.UserTypeAssumedRole)
	f.AccessKey.PrincipalID = roleID + ":" + session
	f.TypeParts, _ = finding.ParseType(f.Type)
	f.Action = &finding.Action{Type: "AWS_API_CALL", API: "ListBuckets", RemoteIPs: []finding.RemoteIP{{Address: attackerIP}}}
	return f
}

func (e *denyEnv) roleFinding() *finding.Finding {
	return sessionFinding(e.role, e.roleID, stolenSession)
}

// userSessionFinding is a finding on an IAM user's GetSessionToken credentials.
func (e *denyEnv) userSessionFinding() *finding.Finding {
	f := accessKeyFinding(e.user, "ASIAUSERSESSION00001", finding.UserTypeIAMUser)
	f.AccessKey.PrincipalID = e.userID
	f.Type = "UnauthorizedAccess:IAMUser/TorIPCaller"
	f.TypeParts, _ = finding.ParseType(f.Type)
	f.Action = &finding.Action{Type: "AWS_API_CALL", RemoteIPs: []finding.RemoteIP{{Address: attackerIP}}}
	return f
}

// request asks the bot to act on f, with the state table.
func (e *denyEnv) request(f *finding.Finding, dryRun bool) bots.Request {
	req := e.Request(f, dryRun)
	req.State = e.state
	req.Params = nil // the bot's defaults, as the mapping gives them
	return req
}

func (e *denyEnv) run(t *testing.T, bot string, f *finding.Finding, dryRun bool) (bots.Result, error) {
	t.Helper()
	return bottest.Run(t, bot, e.request(f, dryRun))
}

// runAs runs bot as setup, with clients outside the test bot's record.
func (e *denyEnv) runAs(t *testing.T, bot string, f *finding.Finding, params map[string]any) bots.Result {
	t.Helper()
	req := e.request(f, false)
	req.AWS = bottest.Config(e.URL, e.users.options()...)
	if params != nil {
		b, _ := bots.Lookup(bot)
		p, err := b.ParseParams(params)
		if err != nil {
			t.Fatal(err)
		}
		req.Params = p
	}
	res, err := bottest.Run(t, bot, req)
	if err != nil {
		t.Fatalf("%s: %v", bot, err)
	}
	return res
}

// rolePolicies reads the role's inline policies back from kumo, decoded.
func (e *denyEnv) rolePolicies(t *testing.T) map[string]string {
	t.Helper()
	return rolePoliciesOf(t, e.Admin(), e.role)
}

func rolePoliciesOf(t *testing.T, cfg aws.Config, role string) map[string]string {
	t.Helper()
	admin := iam.NewFromConfig(cfg)
	ctx := context.Background()
	names, err := admin.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names.PolicyNames {
		p, err := admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(n)})
		if err != nil {
			t.Fatal(err)
		}
		out[n] = decodePolicy(aws.ToString(p.PolicyDocument))
	}
	return out
}

// world is what the contract sees: the role's and the user's inline policies and the state table.
func (e *denyEnv) world(f func() *finding.Finding) bottest.World {
	return bottest.World{
		Request: func(dryRun bool) bots.Request { return e.request(f(), dryRun) },
		Rec:     e.Rec,
		State: func(t *testing.T) string {
			return fmt.Sprint(sorted(e.rolePolicies(t)), e.users.snapshot(), e.state.Snapshot())
		},
		Gone: func(req *bots.Request) { req.Finding.AccessKey.UserName = "nobody" },
	}
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// record reads the state table's record of kind k's deny for the finding on the role.
func (e *denyEnv) record(t *testing.T, k *denyKind, f *finding.Finding, t2 finding.Target) (bots.DenyRecord, bool) {
	t.Helper()
	b, found, _ := e.state.Get(context.Background(), k.recordKey(t2, f.ID))
	if !found {
		return bots.DenyRecord{}, false
	}
	var r bots.DenyRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r, true
}

func (e *denyEnv) roleTarget() finding.Target {
	return finding.Target{Kind: finding.TargetIAMRole, ID: e.role, Account: bottest.Account, Region: bottest.Region, Partition: "aws"}
}

func (e *denyEnv) userTarget() finding.Target {
	return finding.Target{Kind: finding.TargetIAMUser, ID: e.user, Account: bottest.Account, Region: bottest.Region, Partition: "aws"}
}

// inlineUserFake stands in for the user calls kumo does not serve: a user's inline policies and tags.
type inlineUserFake struct {
	mu       sync.Mutex
	policies map[string]map[string]string // user → name → document
	tags     map[string][]string          // user → tag keys
}

func (u *inlineUserFake) options() []func(*middleware.Stack) error {
	lock := func(f func(in any) (any, error)) func(in any) (any, error) {
		return func(in any) (any, error) {
			u.mu.Lock()
			defer u.mu.Unlock()
			return f(in)
		}
	}
	return []func(*middleware.Stack) error{
		bottest.StubCall("iam:ListUserPolicies", lock(func(in any) (any, error) {
			names := slices.Sorted(func(yield func(string) bool) {
				for n := range u.policies[aws.ToString(in.(*iam.ListUserPoliciesInput).UserName)] {
					if !yield(n) {
						return
					}
				}
			})
			return &iam.ListUserPoliciesOutput{PolicyNames: names}, nil
		})),
		bottest.StubCall("iam:GetUserPolicy", lock(func(in any) (any, error) {
			g := in.(*iam.GetUserPolicyInput)
			doc, ok := u.policies[aws.ToString(g.UserName)][aws.ToString(g.PolicyName)]
			if !ok {
				return nil, bottest.APIError("NoSuchEntity", "The user policy cannot be found.")
			}
			// IAM returns documents URL-encoded.
			return &iam.GetUserPolicyOutput{UserName: g.UserName, PolicyName: g.PolicyName, PolicyDocument: aws.String(urlEncode(doc))}, nil
		})),
		bottest.StubCall("iam:PutUserPolicy", lock(func(in any) (any, error) {
			p := in.(*iam.PutUserPolicyInput)
			user := aws.ToString(p.UserName)
			if u.policies[user] == nil {
				u.policies[user] = map[string]string{}
			}
			total := 0
			for n, d := range u.policies[user] {
				if n != aws.ToString(p.PolicyName) {
					total += policySize(d)
				}
			}
			// IAM enforces the aggregate limit itself; the fake does too.
			if total+policySize(aws.ToString(p.PolicyDocument)) > userInlineLimit {
				return nil, bottest.APIError("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user "+user)
			}
			u.policies[user][aws.ToString(p.PolicyName)] = aws.ToString(p.PolicyDocument)
			return &iam.PutUserPolicyOutput{}, nil
		})),
		bottest.StubCall("iam:DeleteUserPolicy", lock(func(in any) (any, error) {
			d := in.(*iam.DeleteUserPolicyInput)
			if _, ok := u.policies[aws.ToString(d.UserName)][aws.ToString(d.PolicyName)]; !ok {
				return nil, bottest.APIError("NoSuchEntity", "The user policy cannot be found.")
			}
			delete(u.policies[aws.ToString(d.UserName)], aws.ToString(d.PolicyName))
			return &iam.DeleteUserPolicyOutput{}, nil
		})),
		bottest.StubCall("iam:TagUser", lock(func(in any) (any, error) {
			tg := in.(*iam.TagUserInput)
			if u.tags == nil {
				u.tags = map[string][]string{}
			}
			for _, x := range tg.Tags {
				u.tags[aws.ToString(tg.UserName)] = append(u.tags[aws.ToString(tg.UserName)], aws.ToString(x.Key))
			}
			return &iam.TagUserOutput{}, nil
		})),
	}
}

func (u *inlineUserFake) snapshot() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for user, ps := range u.policies {
		for n, d := range ps {
			out = append(out, user+"/"+n+"="+d)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

func (u *inlineUserFake) of(user string) map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string]string{}
	for n, d := range u.policies[user] {
		out[n] = d
	}
	return out
}

// urlEncode encodes a document as IAM returns it (RFC 3986).
func urlEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// sessionARN is the ARN a role session calls as.
func sessionARN(role, session string) string {
	return "arn:aws:sts::" + bottest.Account + ":assumed-role/" + role + "/" + session
}

// iamClient is the bot's recorded client.
func (e *denyEnv) iamClient() *iam.Client { return iam.NewFromConfig(e.Config) }

// createRole makes a role in kumo and returns its id.
func (e *denyEnv) createRole(t *testing.T, name, path string) string {
	t.Helper()
	out, err := iam.NewFromConfig(e.Admin()).CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name),
		Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trustEC2)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.RoleId)
}

// expiringState is the in-memory store with the state table's per-record expiry (bots.ExpiringStore).
type expiringState struct {
	*ec2test.UndoState
	expires map[string]time.Time
}

func (s *expiringState) PutExpiring(ctx context.Context, k string, v []byte, at time.Time) error {
	s.expires[k] = at
	return s.Put(ctx, k, v)
}

// A deny's record lives until a day after the deny expires (the state table's TTL removes it then), so
// the hourly clean-up can retry a principal it could not reach; the deny's own statement still says when
// it expired, so the next write removes it whatever became of the record.
func TestDenyRecord_ExpiresADayAfterItsDeny(t *testing.T) {
	e := newDenyEnv(t, denySessionBot)
	store := &expiringState{UndoState: e.state, expires: map[string]time.Time{}}
	f := e.roleFinding()
	req := e.request(f, false)
	req.State = store
	if res, err := bottest.Run(t, denySessionBot, req); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("%+v, %v", res, err)
	}
	key := sessionDeny.recordKey(e.roleTarget(), f.ID)
	rec, ok := e.record(t, sessionDeny, f, e.roleTarget())
	if !ok || !rec.ExpiresAt.Equal(denyNow.Add(12*time.Hour)) {
		t.Fatalf("record %+v", rec)
	}
	if got, want := store.expires[key], rec.ExpiresAt.Add(bots.DenyRecordGrace); !got.Equal(want) {
		t.Errorf("record expires %v, want %v", got, want)
	}
}
