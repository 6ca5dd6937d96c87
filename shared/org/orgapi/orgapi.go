// Package orgapi reads the organization from AWS Organizations, from the security account: the three
// reads the deciding steps may make (DescribeAccount, ListParents, ListTagsForResource), which the
// management account grants them with a resource-based delegation policy (infra's guardbots-organization
// stack), and ListAccounts, which only the member-role health check makes.
package orgapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/org"
)

// API is what Reader calls.
type API interface {
	DescribeAccount(ctx context.Context, in *organizations.DescribeAccountInput, optFns ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error)
	organizations.ListParentsAPIClient
	organizations.ListTagsForResourceAPIClient
}

// maxDepth bounds the parent chain: Organizations nests OUs at most five deep under the root, so a
// longer chain is an answer guardbots does not understand, not an organization.
const maxDepth = 8

// Reader looks accounts up in AWS Organizations. Each OU's parent is kept for the Reader's life (within
// TTL): accounts of one OU share their chain, so a warm Lambda asks ListParents about an OU once. Safe
// for concurrent use; put an org.Cache in front of it for whole accounts.
type Reader struct {
	Client API
	// TTL bounds how long an OU's parent is reused (org.DefaultTTL when zero).
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	parents map[string]parentEntry
}

type parentEntry struct {
	parent string
	at     time.Time
}

// Account reads the account's name (DescribeAccount), its parent chain up to the root (ListParents, one
// level at a time) and its tags (ListTagsForResource, every page). Any failure is an *org.Error naming
// the account and the call; the SDK's error stays in the chain, so a throttle is still a throttle.
func (r *Reader) Account(ctx context.Context, id string) (org.Account, error) {
	if !org.IsAccountID(id) {
		return org.Account{}, &org.Error{Account: id, Call: "lookup", Err: errors.New("not a 12-digit account id")}
	}
	out, err := r.Client.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(id)})
	if err != nil {
		return org.Account{}, wrap(id, "organizations:DescribeAccount", err)
	}
	if out.Account == nil || aws.ToString(out.Account.Id) != id {
		return org.Account{}, &org.Error{Account: id, Call: "organizations:DescribeAccount", Err: errors.New("the answer names another account")}
	}
	a := org.Account{ID: id, Name: aws.ToString(out.Account.Name)}
	if a.OUPath, err = r.path(ctx, id); err != nil {
		return org.Account{}, err
	}
	if a.Tags, err = r.tags(ctx, id); err != nil {
		return org.Account{}, err
	}
	return a, nil
}

// path walks ListParents from the account up to the root and returns the chain root first.
func (r *Reader) path(ctx context.Context, account string) ([]string, error) {
	var up []string
	child := account
	for range maxDepth {
		parent, cached := r.cachedParent(child)
		if !cached {
			p, err := r.parentOf(ctx, account, child)
			if err != nil {
				return nil, err
			}
			parent = p
			r.keepParent(child, p)
		}
		if slices.Contains(up, parent) {
			return nil, &org.Error{Account: account, Call: "organizations:ListParents", Err: fmt.Errorf("%s appears twice in the parent chain", parent)}
		}
		up = append(up, parent)
		if org.IsRoot(parent) {
			slices.Reverse(up)
			return up, nil
		}
		child = parent
	}
	return nil, &org.Error{Account: account, Call: "organizations:ListParents", Err: fmt.Errorf("no root within %d levels", maxDepth)}
}

// parentOf asks for child's one parent (an account or an OU has exactly one).
func (r *Reader) parentOf(ctx context.Context, account, child string) (string, error) {
	var parents []orgtypes.Parent
	p := organizations.NewListParentsPaginator(r.Client, &organizations.ListParentsInput{ChildId: aws.String(child)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", wrap(account, "organizations:ListParents "+child, err)
		}
		parents = append(parents, page.Parents...)
	}
	if len(parents) != 1 {
		return "", &org.Error{Account: account, Call: "organizations:ListParents " + child, Err: fmt.Errorf("%d parents, want exactly one", len(parents))}
	}
	id := aws.ToString(parents[0].Id)
	switch parents[0].Type {
	case orgtypes.ParentTypeRoot:
		if org.IsRoot(id) {
			return id, nil
		}
	case orgtypes.ParentTypeOrganizationalUnit:
		if org.IsOU(id) {
			return id, nil
		}
	}
	return "", &org.Error{Account: account, Call: "organizations:ListParents " + child,
		Err: fmt.Errorf("parent %q of type %q is neither a root nor an OU", id, parents[0].Type)}
}

func (r *Reader) tags(ctx context.Context, account string) (map[string]string, error) {
	tags := map[string]string{}
	p := organizations.NewListTagsForResourcePaginator(r.Client, &organizations.ListTagsForResourceInput{ResourceId: aws.String(account)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap(account, "organizations:ListTagsForResource", err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

func (r *Reader) cachedParent(child string) (string, bool) {
	if !org.IsOU(child) {
		return "", false // an account's own parent is read every time its cache entry expires
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.parents[child]
	if !ok || r.now().Sub(e.at) >= r.ttl() {
		return "", false
	}
	return e.parent, true
}

func (r *Reader) keepParent(child, parent string) {
	if !org.IsOU(child) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parents == nil || len(r.parents) > 5000 {
		r.parents = map[string]parentEntry{}
	}
	r.parents[child] = parentEntry{parent: parent, at: r.now()}
}

func (r *Reader) ttl() time.Duration {
	if r.TTL > 0 {
		return r.TTL
	}
	return org.DefaultTTL
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// wrap names the account and the call; AccountNotFoundException becomes org.ErrNotFound in the chain
// too, beside the SDK's error.
func wrap(account, call string, err error) error {
	var nf *orgtypes.AccountNotFoundException
	if errors.As(err, &nf) {
		err = fmt.Errorf("%w: %w", org.ErrNotFound, err)
	}
	return &org.Error{Account: account, Call: call, Err: err}
}

// ListAPI is what ActiveAccounts calls.
type ListAPI interface {
	organizations.ListAccountsAPIClient
}

// Member is one account ListAccounts reports.
type Member struct {
	ID    string
	Name  string
	State string
	// Management is true for the organization's management account (the account in every account's ARN).
	Management bool
}

// Accounts lists every account of the organization (ListAccounts, every page), sorted by id.
func Accounts(ctx context.Context, c ListAPI) ([]Member, error) {
	var out []Member
	p := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("organizations:ListAccounts: %w", err)
		}
		for _, a := range page.Accounts {
			id := aws.ToString(a.Id)
			if !org.IsAccountID(id) {
				return nil, fmt.Errorf("organizations:ListAccounts: %q is not a 12-digit account id", id)
			}
			state := string(a.State)
			if state == "" {
				state = string(a.Status) // an older answer carries only Status
			}
			out = append(out, Member{ID: id, Name: aws.ToString(a.Name), State: state, Management: managementOf(aws.ToString(a.Arn)) == id})
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// managementOf is the management account an account ARN names:
// arn:<partition>:organizations::<management>:account/o-…/<account>.
func managementOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "organizations" {
		return ""
	}
	return parts[4]
}

// Settings are what a deciding step reads about the organization from its environment.
type Settings struct {
	// Lookup is the cached Organizations reader; nil when lookups are off (deployment.EnvOrgLookups).
	Lookup org.Lookup
	// OwnerTag is the account tag naming its owner (deployment.EnvOwnerTag).
	OwnerTag string
}

// FromEnv builds the organization lookup of match and verify: AWS Organizations with the Lambda's own
// credentials (the management account's resource policy lets the two steps' roles read), behind an
// org.Cache of deployment.EnvOrgTTL. A variable it cannot read is an error naming it.
func FromEnv(cfg aws.Config) (Settings, error) {
	on, err := deployment.EnvBoolDefault(deployment.EnvOrgLookups, true)
	if err != nil {
		return Settings{}, err
	}
	ttl, err := deployment.EnvDuration(deployment.EnvOrgTTL, deployment.DefaultOrgTTL)
	if err != nil {
		return Settings{}, err
	}
	s := Settings{OwnerTag: os.Getenv(deployment.EnvOwnerTag)}
	if s.OwnerTag == "" {
		s.OwnerTag = deployment.DefaultOwnerTag
	}
	if on {
		s.Lookup = &org.Cache{Lookup: &Reader{Client: organizations.NewFromConfig(cfg), TTL: ttl}, TTL: ttl}
	}
	return s, nil
}
