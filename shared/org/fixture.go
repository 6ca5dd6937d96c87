package org

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Fixture is an organization written down, so a decision can be checked without AWS (explain --org) and
// the demo's Organizations stand-in has something to serve:
//
//	{"accounts": {"444455556666": {"name": "payments-prod",
//	                               "ouPath": ["r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"],
//	                               "tags": {"owner": "team-payments", "environment": "production"}}}}
//
// ouPath runs from the root to the account's parent. "state" (ACTIVE, SUSPENDED, PENDING_CLOSURE) is
// optional, ACTIVE by default: the member-role health check probes active accounts only.
type Fixture struct {
	Accounts map[string]FixtureAccount `json:"accounts"`
}

// FixtureAccount is one account of a Fixture.
type FixtureAccount struct {
	Name   string            `json:"name"`
	OUPath []string          `json:"ouPath"`
	Tags   map[string]string `json:"tags,omitempty"`
	State  string            `json:"state,omitempty"`
}

// Account states, as ListAccounts reports them.
const (
	StateActive         = "ACTIVE"
	StateSuspended      = "SUSPENDED"
	StatePendingClosure = "PENDING_CLOSURE"
)

// ParseFixture reads and checks a fixture: unknown fields, account ids that are not 12 digits, OU paths
// that do not run from a root through OU ids, and duplicate keys are errors naming where.
func ParseFixture(b []byte) (*Fixture, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Fixture
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("organization fixture: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("organization fixture: more than one JSON value")
	}
	if len(f.Accounts) == 0 {
		return nil, fmt.Errorf(`organization fixture: no accounts (want {"accounts": {"<12-digit id>": {"name": …, "ouPath": ["r-…", …], "tags": {…}}}})`)
	}
	var problems []string
	for _, id := range slices.Sorted(maps.Keys(f.Accounts)) {
		a := f.Accounts[id]
		if !IsAccountID(id) {
			problems = append(problems, fmt.Sprintf("accounts: %q is not a 12-digit account id", clip(id)))
			continue
		}
		if err := ValidatePath(a.OUPath); err != nil {
			problems = append(problems, fmt.Sprintf("accounts.%s.ouPath: %v", id, err))
		}
		switch a.State {
		case "", StateActive, StateSuspended, StatePendingClosure:
		default:
			problems = append(problems, fmt.Sprintf("accounts.%s.state: %q is not ACTIVE, SUSPENDED or PENDING_CLOSURE", id, clip(a.State)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("organization fixture: %s", strings.Join(problems, "; "))
	}
	return &f, nil
}

// Account looks id up in the fixture; an account it does not hold is ErrNotFound, as Organizations
// answers AccountNotFoundException.
func (f *Fixture) Account(_ context.Context, id string) (Account, error) {
	a, ok := f.Accounts[id]
	if !ok {
		return Account{}, &Error{Account: id, Call: "fixture", Err: ErrNotFound}
	}
	return Account{ID: id, Name: a.Name, OUPath: slices.Clone(a.OUPath), Tags: maps.Clone(a.Tags)}, nil
}

// Active lists the fixture's active accounts, sorted.
func (f *Fixture) Active() []string {
	var out []string
	for id, a := range f.Accounts {
		if a.State == "" || a.State == StateActive {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
