package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// A rule's (or a scope's) "where" says in which part of the organization it applies (README.md, "Rules
// that know the organization"):
//
//	"where": {"accounts": ["111122223333"], "ous": ["ou-ab12-11111111"],
//	          "accountTags": {"environment": ["sandbox", "dev"], "owner": "team-web"},
//	          "regions": ["eu-west-1"], "resourceKinds": ["Instance"]}
//
// Every condition given must hold; within one, any listed value does. "ous" holds for an account in the
// OU or anywhere below it. accounts, regions and resourceKinds are read from the finding; ous and
// accountTags from the organization (AWS Organizations, looked up only when a rule that is reached needs
// them, cached).
type richWhere struct {
	Accounts      []string             `json:"accounts"`
	OUs           []string             `json:"ous"`
	AccountTags   map[string]tagValues `json:"accountTags"`
	Regions       []string             `json:"regions"`
	ResourceKinds []string             `json:"resourceKinds"`
}

// tagValues is one accountTags value: a string or a list of strings.
type tagValues []string

func (t *tagValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = tagValues{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("an accountTags value must be a string or a list of strings, got %s", rawKind(b))
	}
	*t = many
	return nil
}

// where is a compiled "where".
type where struct {
	path     string
	accounts []string
	ous      []string
	tags     []tagCondition // by key
	regions  []string
	kinds    []finding.ResourceKind
}

type tagCondition struct {
	key    string
	values []string
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// isTag reports whether s is an AWS Organizations tag key or value: min to max characters, each a
// letter, space, digit or one of _.:/=+-@. A loop, not a regular expression: a counted repetition of
// Unicode classes ({1,128}) compiles into a program of 14.8 MB, built by every Lambda at start.
func isTag(s string, min, max int) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if n > max || !(unicode.IsLetter(r) || unicode.Is(unicode.Z, r) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)) {
			return false
		}
	}
	return n >= min
}

// Organizations' limits on tags: keys of 1–128 characters, values of 0–256.
func isTagKey(s string) bool   { return isTag(s, 1, 128) }
func isTagValue(s string) bool { return isTag(s, 0, 256) }

// compileWhere validates raw (at path, e.g. "rules[2].where") and compiles it; nil when it has problems.
func compileWhere(ps *problems, path string, raw *richWhere) *where {
	if raw == nil {
		return nil
	}
	w := &where{path: path}
	before := len(*ps)
	nonEmpty := func(key string, n int, isNil bool) bool {
		if !isNil && n == 0 {
			ps.add(path+"."+key, "empty: list at least one value, or leave %s out", key)
			return false
		}
		return n > 0
	}
	if nonEmpty("accounts", len(raw.Accounts), raw.Accounts == nil) {
		for i, a := range raw.Accounts {
			if !IsAccountID(a) {
				ps.add(fmt.Sprintf("%s.accounts[%d]", path, i), "%q is not a 12-digit AWS account id", clip(a))
			}
		}
		w.accounts = distinct(ps, path+".accounts", raw.Accounts)
	}
	if nonEmpty("ous", len(raw.OUs), raw.OUs == nil) {
		for i, ou := range raw.OUs {
			if !org.IsOU(ou) && !org.IsRoot(ou) {
				ps.add(fmt.Sprintf("%s.ous[%d]", path, i), "%q is not an OU id (ou-…) or a root id (r-…)", clip(ou))
			}
		}
		w.ous = distinct(ps, path+".ous", raw.OUs)
	}
	if nonEmpty("accountTags", len(raw.AccountTags), raw.AccountTags == nil) {
		for _, k := range slices.Sorted(maps.Keys(raw.AccountTags)) {
			key := fmt.Sprintf("%s.accountTags[%q]", path, k)
			if !isTagKey(k) {
				ps.add(key, "%q is not an AWS Organizations tag key (1–128 letters, digits, spaces and _.:/=+-@)", clip(k))
				continue
			}
			vs := raw.AccountTags[k]
			if len(vs) == 0 {
				ps.add(key, "empty: list at least one value")
				continue
			}
			for _, v := range vs {
				if !isTagValue(v) {
					ps.add(key, "%q is not an AWS Organizations tag value (at most 256 letters, digits, spaces and _.:/=+-@)", clip(v))
				}
			}
			w.tags = append(w.tags, tagCondition{key: k, values: distinct(ps, key, vs)})
		}
	}
	if nonEmpty("regions", len(raw.Regions), raw.Regions == nil) {
		for i, r := range raw.Regions {
			if !regionRE.MatchString(r) {
				ps.add(fmt.Sprintf("%s.regions[%d]", path, i), "%q is not an AWS region name", clip(r))
			}
		}
		w.regions = distinct(ps, path+".regions", raw.Regions)
	}
	if nonEmpty("resourceKinds", len(raw.ResourceKinds), raw.ResourceKinds == nil) {
		for i, k := range raw.ResourceKinds {
			if !slices.Contains(finding.ResourceKinds, finding.ResourceKind(k)) {
				ps.add(fmt.Sprintf("%s.resourceKinds[%d]", path, i), "%q is not a resource kind (%s)", clip(k), kindList())
				continue
			}
			w.kinds = append(w.kinds, finding.ResourceKind(k))
		}
		distinct(ps, path+".resourceKinds", raw.ResourceKinds)
	}
	if raw.Accounts == nil && raw.OUs == nil && raw.AccountTags == nil && raw.Regions == nil && raw.ResourceKinds == nil {
		ps.add(path, "empty: a where needs at least one of accounts, ous, accountTags, regions, resourceKinds (leave it out to apply everywhere)")
	}
	if len(*ps) > before {
		return nil
	}
	return w
}

// distinct reports a value listed twice (a typo hiding another value, most likely) and returns the list.
func distinct(ps *problems, key string, vs []string) []string {
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v] {
			ps.add(key, "%q is listed twice", clip(v))
		}
		seen[v] = true
	}
	return vs
}

func kindList() string {
	names := make([]string, len(finding.ResourceKinds))
	for i, k := range finding.ResourceKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// needsOrg: the where reads the organization (ous, accountTags), not only the finding.
func (w *where) needsOrg() bool { return w != nil && (len(w.ous) > 0 || len(w.tags) > 0) }

// String is the where as the decision's explanation names it: "accounts [...] ous [...] …".
func (w *where) String() string {
	var parts []string
	add := func(name string, vs []string) {
		if len(vs) > 0 {
			parts = append(parts, name+" "+strings.Join(vs, ","))
		}
	}
	add("accounts", w.accounts)
	add("ous", w.ous)
	for _, t := range w.tags {
		parts = append(parts, "accountTags "+t.key+"="+strings.Join(t.values, "|"))
	}
	add("regions", w.regions)
	kinds := make([]string, len(w.kinds))
	for i, k := range w.kinds {
		kinds[i] = string(k)
	}
	add("resourceKinds", kinds)
	return strings.Join(parts, "; ")
}

// holds evaluates w for f: whether it holds, and why (the condition that failed, or what matched). The
// finding's own fields are checked first, so a where that fails on them never looks the organization up.
// An organization that cannot be read is an error: the decision stops rather than guess.
func (w *where) holds(acct *accountView, f *finding.Finding) (bool, string, error) {
	if len(w.accounts) > 0 && !slices.Contains(w.accounts, f.AccountID) {
		return false, fmt.Sprintf("account %s is not in accounts %s", clip(f.AccountID), strings.Join(w.accounts, ",")), nil
	}
	if len(w.regions) > 0 && !slices.Contains(w.regions, f.Region) {
		return false, fmt.Sprintf("region %s is not in regions %s", clip(f.Region), strings.Join(w.regions, ",")), nil
	}
	if len(w.kinds) > 0 && !slices.Contains(w.kinds, f.ResourceKind) {
		return false, fmt.Sprintf("resource kind %s is not in resourceKinds", kindName(f.ResourceKind)), nil
	}
	var why []string
	if len(w.accounts) > 0 {
		why = append(why, "account "+f.AccountID+" is listed")
	}
	if w.needsOrg() {
		a, err := acct.get(w.path)
		if err != nil {
			return false, "", err
		}
		if len(w.ous) > 0 {
			i := slices.IndexFunc(w.ous, a.Under)
			if i < 0 {
				return false, fmt.Sprintf("account %s (OU path %s) is under none of ous %s", a.ID, a.Path(), strings.Join(w.ous, ",")), nil
			}
			why = append(why, fmt.Sprintf("account %s is under %s (OU path %s)", a.ID, w.ous[i], a.Path()))
		}
		for _, t := range w.tags {
			v, ok := a.Tags[t.key]
			switch {
			case !ok:
				return false, fmt.Sprintf("account %s has no tag %s", a.ID, t.key), nil
			case !slices.Contains(t.values, v):
				return false, fmt.Sprintf("account %s has tag %s=%s, not %s", a.ID, t.key, v, strings.Join(t.values, "|")), nil
			}
			why = append(why, fmt.Sprintf("account %s has tag %s=%s", a.ID, t.key, v))
		}
	}
	if len(w.regions) > 0 {
		why = append(why, "region "+f.Region+" is listed")
	}
	if len(w.kinds) > 0 {
		why = append(why, "resource kind "+string(f.ResourceKind)+" is listed")
	}
	return true, strings.Join(why, "; "), nil
}

// accountView is the finding's account as one decision sees it: looked up at most once, and only when a
// where (or a protected OU) that is reached needs it.
type accountView struct {
	ctx    context.Context
	lookup org.Lookup
	id     string
	done   bool
	a      org.Account
	err    error
}

// ErrNoOrganization: a rule needs the organization and the deciding step has no lookup.
var ErrNoOrganization = errors.New("no organization lookup is configured")

// get returns the account; for names the rule (or setting) that needs it, for the error.
func (v *accountView) get(forWhat string) (org.Account, error) {
	if v.done {
		return v.a, v.err
	}
	v.done = true
	if v.lookup == nil {
		v.err = fmt.Errorf("%s needs the organization (the account's OU path or tags), but %w (%s=false): the decision stops rather than guess",
			forWhat, ErrNoOrganization, deployment.EnvOrgLookups)
		return v.a, v.err
	}
	v.a, v.err = v.lookup.Account(v.ctx, v.id)
	if v.err != nil {
		v.err = fmt.Errorf("%s needs the organization: %w; the decision stops rather than fall back to a broader rule or mode", forWhat, v.err)
	}
	return v.a, v.err
}
