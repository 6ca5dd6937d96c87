package orgapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/org"
)

// orgStub answers Organizations at the SDK level (kumo serves neither ListParents nor
// ListTagsForResource), from a parent map and a tag map, recording every call; errs answers an
// operation with an error instead.
type orgStub struct {
	mu      sync.Mutex
	names   map[string]string
	parents map[string]orgtypes.Parent
	tags    map[string][]orgtypes.Tag
	// tagPage splits the tags into pages of this size (0: one page).
	tagPage  int
	accounts []orgtypes.Account
	errs     map[string]error
	calls    []string
}

func newStub() *orgStub {
	ou := func(id string) orgtypes.Parent {
		return orgtypes.Parent{Id: aws.String(id), Type: orgtypes.ParentTypeOrganizationalUnit}
	}
	return &orgStub{
		names: map[string]string{"222222222222": "payments-prod", "111111111111": "sandbox"},
		parents: map[string]orgtypes.Parent{
			"222222222222":     ou("ou-ab12-prod0000"),
			"111111111111":     ou("ou-ab12-sandbox0"),
			"ou-ab12-prod0000": ou("ou-ab12-workload"),
			"ou-ab12-workload": {Id: aws.String("r-ab12"), Type: orgtypes.ParentTypeRoot},
			"ou-ab12-sandbox0": {Id: aws.String("r-ab12"), Type: orgtypes.ParentTypeRoot},
		},
		tags: map[string][]orgtypes.Tag{"222222222222": {
			{Key: aws.String("owner"), Value: aws.String("team-payments")},
			{Key: aws.String("environment"), Value: aws.String("production")},
			{Key: aws.String("cost-center"), Value: aws.String("42")},
		}},
		errs: map[string]error{},
	}
}

func (s *orgStub) client() *organizations.Client {
	return organizations.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
	}, func(o *organizations.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("orgStub", s.serve), middleware.After)
		})
	})
}

func (s *orgStub) serve(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := func(v any, op string) (middleware.InitializeOutput, middleware.Metadata, error) {
		if err := s.errs[op]; err != nil {
			return middleware.InitializeOutput{}, middleware.Metadata{}, err
		}
		return middleware.InitializeOutput{Result: v}, middleware.Metadata{}, nil
	}
	switch p := in.Parameters.(type) {
	case *organizations.DescribeAccountInput:
		id := aws.ToString(p.AccountId)
		s.calls = append(s.calls, "DescribeAccount "+id)
		name, ok := s.names[id]
		if !ok && s.errs["DescribeAccount"] == nil {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &orgtypes.AccountNotFoundException{Message: aws.String("no such account")}
		}
		return out(&organizations.DescribeAccountOutput{Account: &orgtypes.Account{Id: aws.String(id), Name: aws.String(name)}}, "DescribeAccount")
	case *organizations.ListParentsInput:
		id := aws.ToString(p.ChildId)
		s.calls = append(s.calls, "ListParents "+id)
		var ps []orgtypes.Parent
		if parent, ok := s.parents[id]; ok {
			ps = append(ps, parent)
		}
		return out(&organizations.ListParentsOutput{Parents: ps}, "ListParents")
	case *organizations.ListTagsForResourceInput:
		id := aws.ToString(p.ResourceId)
		s.calls = append(s.calls, "ListTagsForResource "+id+" "+aws.ToString(p.NextToken))
		all := s.tags[id]
		if s.tagPage == 0 || len(all) <= s.tagPage {
			return out(&organizations.ListTagsForResourceOutput{Tags: all}, "ListTagsForResource")
		}
		start := 0
		if p.NextToken != nil {
			start = len(aws.ToString(p.NextToken))
		}
		end := min(start+s.tagPage, len(all))
		o := &organizations.ListTagsForResourceOutput{Tags: all[start:end]}
		if end < len(all) {
			o.NextToken = aws.String(strings.Repeat("x", end))
		}
		return out(o, "ListTagsForResource")
	case *organizations.ListAccountsInput:
		s.calls = append(s.calls, "ListAccounts "+aws.ToString(p.NextToken))
		if p.NextToken == nil && len(s.accounts) > 1 {
			return out(&organizations.ListAccountsOutput{Accounts: s.accounts[:1], NextToken: aws.String("more")}, "ListAccounts")
		}
		rest := s.accounts
		if p.NextToken != nil {
			rest = s.accounts[1:]
		}
		return out(&organizations.ListAccountsOutput{Accounts: rest}, "ListAccounts")
	}
	return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("orgStub: unexpected operation")
}

func (s *orgStub) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

func TestReader_ReadsNameParentChainAndEveryTagPage(t *testing.T) {
	s := newStub()
	s.tagPage = 2
	r := &Reader{Client: s.client()}
	a, err := r.Account(context.Background(), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "payments-prod" || a.Path() != "r-ab12/ou-ab12-workload/ou-ab12-prod0000" {
		t.Errorf("account %+v", a)
	}
	if a.Tags["owner"] != "team-payments" || a.Tags["cost-center"] != "42" || len(a.Tags) != 3 {
		t.Errorf("tags %v (want all three, across two pages)", a.Tags)
	}
	want := []string{"DescribeAccount 222222222222", "ListParents 222222222222", "ListParents ou-ab12-prod0000",
		"ListParents ou-ab12-workload", "ListTagsForResource 222222222222 ", "ListTagsForResource 222222222222 xx"}
	if got := s.taken(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	// An OU's parent is kept: a second account in the same branch asks only about itself.
	s.names["333333333333"] = "billing"
	s.parents["333333333333"] = orgtypes.Parent{Id: aws.String("ou-ab12-prod0000"), Type: orgtypes.ParentTypeOrganizationalUnit}
	b, err := r.Account(context.Background(), "333333333333")
	if err != nil || b.Path() != a.Path() || len(b.Tags) != 0 {
		t.Fatalf("%+v %v", b, err)
	}
	if got := s.taken(); strings.Join(got, "|") != "DescribeAccount 333333333333|ListParents 333333333333|ListTagsForResource 333333333333 " {
		t.Errorf("second account's calls %q", got)
	}
}

func TestReader_OUParentsExpireWithTheTTL(t *testing.T) {
	s := newStub()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := &Reader{Client: s.client(), TTL: time.Minute, Now: func() time.Time { return now }}
	if _, err := r.Account(context.Background(), "222222222222"); err != nil {
		t.Fatal(err)
	}
	s.taken()
	now = now.Add(2 * time.Minute)
	if _, err := r.Account(context.Background(), "222222222222"); err != nil {
		t.Fatal(err)
	}
	if got := s.taken(); len(got) != 5 {
		t.Errorf("after the TTL the chain is read again: %q", got)
	}
}

func TestReader_EachFailureNamesTheAccountAndTheCall(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed by the resource policy"}
	throttled := &orgtypes.TooManyRequestsException{Message: aws.String("slow down")}
	for _, tt := range []struct {
		name    string
		edit    func(*orgStub)
		account string
		call    string
		kind    faults.Kind
		is      error
	}{
		{"describe denied", func(s *orgStub) { s.errs["DescribeAccount"] = denied }, "222222222222", "organizations:DescribeAccount", faults.Failed, nil},
		{"describe throttled", func(s *orgStub) { s.errs["DescribeAccount"] = throttled }, "222222222222", "organizations:DescribeAccount", faults.Throttled, nil},
		{"not in the organization", func(*orgStub) {}, "999999999999", "organizations:DescribeAccount", faults.Failed, org.ErrNotFound},
		{"organizations not in use", func(s *orgStub) {
			s.errs["DescribeAccount"] = &orgtypes.AWSOrganizationsNotInUseException{Message: aws.String("not in an organization")}
		}, "222222222222", "organizations:DescribeAccount", faults.Failed, nil},
		{"parents throttled", func(s *orgStub) { s.errs["ListParents"] = throttled }, "222222222222", "organizations:ListParents 222222222222", faults.Throttled, nil},
		{"tags denied", func(s *orgStub) { s.errs["ListTagsForResource"] = denied }, "222222222222", "organizations:ListTagsForResource", faults.Failed, nil},
		{"no parent", func(s *orgStub) { delete(s.parents, "ou-ab12-workload") }, "222222222222", "organizations:ListParents ou-ab12-workload", faults.Failed, nil},
		{"a parent that is neither", func(s *orgStub) {
			s.parents["ou-ab12-workload"] = orgtypes.Parent{Id: aws.String("o-abcdefghij"), Type: orgtypes.ParentTypeRoot}
		}, "222222222222", "organizations:ListParents ou-ab12-workload", faults.Failed, nil},
		{"a loop", func(s *orgStub) {
			s.parents["ou-ab12-workload"] = orgtypes.Parent{Id: aws.String("ou-ab12-prod0000"), Type: orgtypes.ParentTypeOrganizationalUnit}
		}, "222222222222", "organizations:ListParents", faults.Failed, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub()
			tt.edit(s)
			_, err := (&Reader{Client: s.client()}).Account(context.Background(), tt.account)
			var le *org.Error
			if !errors.As(err, &le) || le.Account != tt.account || le.Call != tt.call {
				t.Fatalf("err = %v, want an org.Error for %s naming %s", err, tt.account, tt.call)
			}
			if k := faults.Classify(err); k != tt.kind {
				t.Errorf("classified %s, want %s", k, tt.kind)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
		})
	}
}

func TestReader_RefusesAnIDThatIsNotAnAccount(t *testing.T) {
	s := newStub()
	if _, err := (&Reader{Client: s.client()}).Account(context.Background(), "r-ab12"); err == nil {
		t.Error("a root id was looked up as an account")
	}
	if got := s.taken(); len(got) != 0 {
		t.Errorf("calls %q", got)
	}
}

func TestAccounts_ListsEveryPageAndSpotsTheManagementAccount(t *testing.T) {
	s := newStub()
	acct := func(id, state string) orgtypes.Account {
		return orgtypes.Account{Id: aws.String(id), Name: aws.String("a" + id), State: orgtypes.AccountState(state),
			Arn: aws.String("arn:aws:organizations::555555555555:account/o-abcdefghij/" + id)}
	}
	s.accounts = []orgtypes.Account{acct("555555555555", "ACTIVE"), acct("222222222222", "ACTIVE"), acct("111111111111", "SUSPENDED")}
	got, err := Accounts(context.Background(), s.client())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "111111111111" || got[0].State != "SUSPENDED" || !got[2].Management || got[1].Management {
		t.Errorf("members %+v", got)
	}
	s.errs["ListAccounts"] = &orgtypes.TooManyRequestsException{Message: aws.String("slow down")}
	if _, err := Accounts(context.Background(), s.client()); faults.Classify(err) != faults.Throttled {
		t.Errorf("throttled ListAccounts: %v", err)
	}
}

func TestFromEnv_OnByDefaultCachedAndSwitchable(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	t.Setenv(deployment.EnvOrgLookups, "")
	t.Setenv(deployment.EnvOwnerTag, "")
	s, err := FromEnv(cfg)
	if err != nil || s.Lookup == nil || s.OwnerTag != deployment.DefaultOwnerTag {
		t.Fatalf("%+v %v", s, err)
	}
	if c, ok := s.Lookup.(*org.Cache); !ok || c.TTL != deployment.DefaultOrgTTL {
		t.Errorf("lookup %T, want an org.Cache of the default TTL", s.Lookup)
	}
	t.Setenv(deployment.EnvOrgLookups, "false")
	t.Setenv(deployment.EnvOwnerTag, "team")
	if s, err = FromEnv(cfg); err != nil || s.Lookup != nil || s.OwnerTag != "team" {
		t.Errorf("off: %+v %v", s, err)
	}
	for k, v := range map[string]string{deployment.EnvOrgLookups: "sometimes", deployment.EnvOrgTTL: "-1m"} {
		t.Setenv(deployment.EnvOrgLookups, "")
		t.Setenv(deployment.EnvOrgTTL, "")
		t.Setenv(k, v)
		if _, err := FromEnv(cfg); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}
