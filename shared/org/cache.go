package org

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultTTL is how long a looked-up account is reused: an account moved to another OU, or retagged,
// decides by its new place at most this long after the move. Organizations' read quotas are low (a few
// requests a second for the whole organization), and a burst of findings in one account must not spend
// them.
const DefaultTTL = 15 * time.Minute

// maxCached bounds a warm Lambda's cache: one entry per account.
const maxCached = 5000

// Cache reuses each account's lookup for TTL. A failed lookup is not kept, so the state machine's retry
// of a throttled step asks again. Safe for concurrent use; its zero value with Lookup set uses DefaultTTL.
type Cache struct {
	Lookup Lookup
	TTL    time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	account Account
	at      time.Time
}

// Account returns the account, from the cache while it is fresh. An id that is not 12 digits is never
// looked up: in match it comes from the event, which anyone able to put one on the bus wrote.
func (c *Cache) Account(ctx context.Context, id string) (Account, error) {
	if !IsAccountID(id) {
		return Account{}, &Error{Account: clip(id), Call: "lookup", Err: errors.New("not a 12-digit account id")}
	}
	if c.Lookup == nil {
		return Account{}, &Error{Account: id, Call: "lookup", Err: errors.New("no organization lookup configured")}
	}
	now := c.now()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < ttl {
		return e.account, nil
	}
	a, err := c.Lookup.Account(ctx, id)
	if err != nil {
		return Account{}, err
	}
	if a.ID != id {
		return Account{}, &Error{Account: id, Call: "lookup", Err: fmt.Errorf("the lookup answered for account %q", clip(a.ID))}
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCached {
		c.entries = map[string]cached{}
	}
	c.entries[id] = cached{account: a, at: now}
	c.mu.Unlock()
	return a, nil
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
