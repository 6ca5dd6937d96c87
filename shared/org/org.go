// Package org is what guardbots knows about an AWS account's place in the organization — its name, its
// OU path from the root, its tags — and how the deciding steps look it up: a Lookup (AWS Organizations
// through shared/org/orgapi, or an organization fixture for explain and tests) behind a TTL cache. It
// links no AWS SDK, so the mapping evaluates a rule's `where` against an Account without one.
package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Account is one account as the organization describes it.
type Account struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// OUPath is the account's parent chain from the root down to its parent: ["r-ab12",
	// "ou-ab12-11111111", …, "<parent OU>"]; an account directly under the root has just the root.
	OUPath []string `json:"ouPath"`
	// Tags are the account's tags in AWS Organizations (not the tags of anything inside the account).
	Tags map[string]string `json:"tags,omitempty"`
}

// Under reports whether the account is in the OU (or root) id, or in any OU below it.
func (a Account) Under(id string) bool { return slices.Contains(a.OUPath, id) }

// Path is the OU path as a person reads it: "r-ab12/ou-ab12-11111111/…".
func (a Account) Path() string { return strings.Join(a.OUPath, "/") }

// Lookup finds an account in the organization. Implementations return an *Error naming the account and
// the call that failed.
type Lookup interface {
	Account(ctx context.Context, id string) (Account, error)
}

// Error is a lookup that failed: which account, which call (an Organizations operation, or "fixture").
type Error struct {
	Account string
	Call    string
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("organization lookup of account %s: %s: %v", e.Account, e.Call, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound: the organization does not hold the account (it left, or the id is not one of its own).
var ErrNotFound = errors.New("the account is not in the organization")

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	// The parts' lengths (4–32 and 8–32) are checked apart: a counted repetition compiles into one
	// copy of its class per count, built by every Lambda at start.
	ouRE   = regexp.MustCompile(`^ou-([0-9a-z]+)-([a-z0-9]+)$`)
	rootRE = regexp.MustCompile(`^r-([0-9a-z]+)$`)
)

func within(s string, min, max int) bool { return len(s) >= min && len(s) <= max }

// IsAccountID reports whether s is a 12-digit account id.
func IsAccountID(s string) bool { return accountRE.MatchString(s) }

// IsOU reports whether s is an organizational unit id (ou-…).
func IsOU(s string) bool {
	m := ouRE.FindStringSubmatch(s)
	return m != nil && within(m[1], 4, 32) && within(m[2], 8, 32)
}

// IsRoot reports whether s is an organization root id (r-…).
func IsRoot(s string) bool {
	m := rootRE.FindStringSubmatch(s)
	return m != nil && within(m[1], 4, 32)
}

// ValidatePath checks an OU path: a root id first, then OU ids, none twice.
func ValidatePath(path []string) error {
	if len(path) == 0 {
		return errors.New("empty: an account has at least the root above it")
	}
	if !IsRoot(path[0]) {
		return fmt.Errorf("%q is not a root id (r-…): an OU path starts at the root", clip(path[0]))
	}
	for i, id := range path[1:] {
		if !IsOU(id) {
			return fmt.Errorf("element %d, %q, is not an OU id (ou-…)", i+1, clip(id))
		}
		if slices.Contains(path[:i+1], id) {
			return fmt.Errorf("%s appears twice", id)
		}
	}
	return nil
}

// Summary is the account as a notification shows it: who it is and who owns it. Unavailable says why
// the rest is missing when the lookup failed or is off; the notification goes out either way.
type Summary struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	OUPath []string `json:"ouPath,omitempty"`
	// Owner is the value of the owner tag (the deployment's ownerTag key), "" when the account has none.
	Owner string `json:"owner,omitempty"`
	// OwnerTag is the tag key Owner was read from.
	OwnerTag    string            `json:"ownerTag,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Unavailable string            `json:"unavailable,omitempty"`
}

// Summarize looks the account up for a notification. A failed lookup is not an error here: it is said
// in Unavailable, and the notification still goes out (to the subscriptions that do not filter on the
// owner or OU).
func Summarize(ctx context.Context, l Lookup, id, ownerTag string) *Summary {
	s := &Summary{ID: id, OwnerTag: ownerTag}
	if l == nil {
		s.Unavailable = "organization lookups are off"
		return s
	}
	a, err := l.Account(ctx, id)
	if err != nil {
		s.Unavailable = clip(err.Error())
		return s
	}
	s.Name, s.OUPath, s.Tags = a.Name, slices.Clone(a.OUPath), a.Tags
	if ownerTag != "" {
		s.Owner = a.Tags[ownerTag]
	}
	return s
}

func clip(s string) string {
	if len(s) > 300 {
		return strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
