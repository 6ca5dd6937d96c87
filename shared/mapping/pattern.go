package mapping

import (
	"fmt"
	"strings"
)

// pattern is a finding-type glob compiled at Parse time so Match does no parsing and no allocation.
// '*' matches any run of characters (including ':', '/', '.'); everything else is literal.
type pattern struct {
	raw   string
	parts []string // raw split on '*': the literal pieces, first and last anchored
	wild  bool
	// literals and prefix rank wildcard patterns: more literal characters, then a longer literal
	// prefix, is more specific.
	literals int
	prefix   int
}

// patternChars are the characters GuardDuty finding types use ("Backdoor:EC2/C&CActivity.B!DNS"),
// plus '-' and '_' for safety; anything else in a key is almost certainly a typo (a space, a quote).
func patternChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(":/._!&-*", c) >= 0
}

func compilePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, fmt.Errorf("empty pattern")
	}
	for i := 0; i < len(s); i++ {
		if !patternChar(s[i]) {
			return pattern{}, fmt.Errorf("pattern %q: illegal character %q at offset %d (finding types use letters, digits and : / . _ ! & -; '*' is the wildcard)", s, rune(s[i]), i)
		}
	}
	if strings.Contains(s, "**") {
		return pattern{}, fmt.Errorf("pattern %q: \"**\" is not allowed: a single '*' already matches any run of characters, '/' included", s)
	}
	p := pattern{raw: s, wild: strings.IndexByte(s, '*') >= 0}
	if !p.wild {
		p.literals, p.prefix = len(s), len(s)
		return p, nil
	}
	p.parts = strings.Split(s, "*")
	p.prefix = len(p.parts[0])
	p.literals = len(s) - (len(p.parts) - 1)
	return p, nil
}

// match reports whether the whole of s matches the pattern.
func (p *pattern) match(s string) bool {
	if !p.wild {
		return s == p.raw
	}
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	// The middle pieces must appear in order between the anchored ends; taking each at its earliest
	// position is optimal for '*'-only globs.
	rest := s[len(first) : len(s)-len(last)]
	for _, piece := range p.parts[1 : len(p.parts)-1] {
		i := strings.Index(rest, piece)
		if i < 0 {
			return false
		}
		rest = rest[i+len(piece):]
	}
	return true
}

// moreSpecific orders wildcard patterns: more literal characters first, then the longer literal prefix.
// Callers break remaining ties by document order.
func (p *pattern) moreSpecific(q *pattern) bool {
	if p.literals != q.literals {
		return p.literals > q.literals
	}
	return p.prefix > q.prefix
}
