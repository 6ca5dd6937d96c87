package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
)

// Problem is one thing wrong with a mapping document.
type Problem struct {
	// Key locates the problem: a CloudBots finding type ("Backdoor:EC2/Spambot"), a rich-form path
	// ("rules[3].actions[1]"), or "" for the document as a whole.
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Reason
	}
	return p.Key + ": " + p.Reason
}

// InvalidError is Parse's error for a document that is not a valid mapping. It lists every problem
// found, so one edit can fix them all.
type InvalidError struct {
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid mapping: " + e.Problems[0].String()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("invalid mapping (%d problems): %s", len(e.Problems), strings.Join(parts, "; "))
}

// problems collects validation problems in document order.
type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Reason: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidError{Problems: ps}
}

// unknownBot explains an unknown bot name, suggesting the registered names closest to it.
func unknownBot(name string) string {
	names := bots.Names()
	if len(names) == 0 {
		return fmt.Sprintf("unknown bot %q (no bots are registered)", name)
	}
	type scored struct {
		name string
		d    int
	}
	var close []scored
	for _, n := range names {
		d := editDistance(name, n)
		if d <= max(2, len(name)/3) || (len(name) >= 4 && (strings.Contains(n, name) || strings.Contains(name, n))) {
			close = append(close, scored{n, d})
		}
	}
	if len(close) > 0 {
		slices.SortStableFunc(close, func(a, b scored) int { return a.d - b.d })
		if len(close) > 3 {
			close = close[:3]
		}
		out := make([]string, len(close))
		for i, c := range close {
			out[i] = c.name
		}
		return fmt.Sprintf("unknown bot %q (did you mean %s?)", name, strings.Join(out, ", "))
	}
	if len(names) > 20 {
		return fmt.Sprintf("unknown bot %q (%d bots are registered, e.g. %s, …)", name, len(names), strings.Join(names[:20], ", "))
	}
	return fmt.Sprintf("unknown bot %q (registered bots: %s)", name, strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance, for "did you mean".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
