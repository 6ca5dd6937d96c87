package org

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const fixtureDoc = `{"accounts": {
  "111111111111": {"name": "sandbox", "ouPath": ["r-ab12", "ou-ab12-sandbox0"], "tags": {"owner": "team-web"}},
  "222222222222": {"name": "payments", "ouPath": ["r-ab12", "ou-ab12-workload", "ou-ab12-prod0000"]},
  "333333333333": {"name": "closing", "ouPath": ["r-ab12"], "state": "PENDING_CLOSURE"}
}}`

func TestFixture_LooksUpAndListsActiveAccounts(t *testing.T) {
	f, err := ParseFixture([]byte(fixtureDoc))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Account(context.Background(), "222222222222")
	if err != nil || !a.Under("ou-ab12-workload") || !a.Under("r-ab12") || a.Under("ou-ab12-sandbox0") || a.Name != "payments" {
		t.Errorf("%+v %v", a, err)
	}
	if _, err := f.Account(context.Background(), "999999999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if got := f.Active(); strings.Join(got, ",") != "111111111111,222222222222" {
		t.Errorf("Active = %v", got)
	}
}

func TestParseFixture_NamesWhatIsWrong(t *testing.T) {
	for doc, want := range map[string]string{
		`{"accounts": {"12345": {"name": "x", "ouPath": ["r-ab12"]}}}`:                         `"12345" is not a 12-digit account id`,
		`{"accounts": {"111111111111": {"name": "x", "ouPath": []}}}`:                          "accounts.111111111111.ouPath: empty",
		`{"accounts": {"111111111111": {"name": "x", "ouPath": ["ou-ab12-sandbox0"]}}}`:        "is not a root id",
		`{"accounts": {"111111111111": {"name": "x", "ouPath": ["r-ab12", "Prod"]}}}`:          `element 1, "Prod", is not an OU id`,
		`{"accounts": {"111111111111": {"name": "x", "ouPath": ["r-ab12"], "owner": "a"}}}`:    `unknown field "owner"`,
		`{"accounts": {"111111111111": {"name": "x", "ouPath": ["r-ab12"], "state": "GONE"}}}`: `"GONE" is not ACTIVE`,
		`{"accounts": {}}`: "no accounts",
		`{"accounts": {"111111111111": {"name": "x", "ouPath": ["r-ab12"]}}} {}`: "more than one JSON value",
	} {
		if _, err := ParseFixture([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want …%s…", doc, err, want)
		}
	}
}

// counting answers from a fixture, counting lookups; fail makes every lookup fail.
type counting struct {
	f     *Fixture
	calls int
	fail  bool
}

func (c *counting) Account(ctx context.Context, id string) (Account, error) {
	c.calls++
	if c.fail {
		return Account{}, &Error{Account: id, Call: "organizations:DescribeAccount", Err: errors.New("TooManyRequestsException")}
	}
	return c.f.Account(ctx, id)
}

func TestCache_ReusesAnAccountForTheTTLAndNeverKeepsAFailure(t *testing.T) {
	f, _ := ParseFixture([]byte(fixtureDoc))
	src := &counting{f: f}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := &Cache{Lookup: src, TTL: time.Minute, Now: func() time.Time { return now }}
	for range 3 {
		if _, err := c.Account(context.Background(), "111111111111"); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls != 1 {
		t.Errorf("%d lookups within the TTL, want 1", src.calls)
	}
	now = now.Add(time.Minute)
	src.fail = true
	if _, err := c.Account(context.Background(), "111111111111"); err == nil {
		t.Error("an expired entry was served instead of asking again")
	}
	src.fail = false
	if _, err := c.Account(context.Background(), "111111111111"); err != nil || src.calls != 3 {
		t.Errorf("after a failure the next call asks again: %v, %d lookups", err, src.calls)
	}
	// Whatever the event says the account is, only a 12-digit id is ever looked up.
	if _, err := c.Account(context.Background(), "../../root"); err == nil || src.calls != 3 {
		t.Errorf("a malformed id: %v, %d lookups", err, src.calls)
	}
}

func TestSummarize_SaysWhatIsUnavailableInsteadOfFailing(t *testing.T) {
	f, _ := ParseFixture([]byte(fixtureDoc))
	s := Summarize(context.Background(), f, "111111111111", "owner")
	if s.Owner != "team-web" || s.Name != "sandbox" || strings.Join(s.OUPath, "/") != "r-ab12/ou-ab12-sandbox0" || s.Unavailable != "" {
		t.Errorf("%+v", s)
	}
	if s = Summarize(context.Background(), f, "222222222222", "owner"); s.Owner != "" || s.Name != "payments" {
		t.Errorf("no owner tag: %+v", s)
	}
	if s = Summarize(context.Background(), &counting{f: f, fail: true}, "111111111111", "owner"); s.ID != "111111111111" ||
		!strings.Contains(s.Unavailable, "organizations:DescribeAccount: TooManyRequestsException") {
		t.Errorf("failed lookup: %+v", s)
	}
	if s = Summarize(context.Background(), nil, "111111111111", "owner"); s.Unavailable != "organization lookups are off" {
		t.Errorf("off: %+v", s)
	}
}
