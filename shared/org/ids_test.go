package org

import (
	"regexp"
	"strings"
	"testing"
)

// IsOU and IsRoot accept exactly what the counted expressions they replace did.
func TestIsOUAndIsRoot_SameAsTheCountedExpressions(t *testing.T) {
	ou := regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	root := regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
	r := func(n int) string { return strings.Repeat("a1", n)[:n] }
	cases := []string{"", "ou-", "r-", "r-ab12", "r-ab1", "r-" + r(32), "r-" + r(33), "r-AB12", "r-ab12\n",
		"ou-ab12-11111111", "ou-ab1-11111111", "ou-ab12-1111111", "ou-" + r(32) + "-" + r(32), "ou-" + r(33) + "-" + r(8),
		"ou-" + r(4) + "-" + r(33), "ou-ab12-1111111A", "ou-ab12_11111111", "ou-ab12-11111111-x", "xou-ab12-11111111"}
	for _, c := range cases {
		if IsOU(c) != ou.MatchString(c) {
			t.Errorf("IsOU(%q) = %v", c, IsOU(c))
		}
		if IsRoot(c) != root.MatchString(c) {
			t.Errorf("IsRoot(%q) = %v", c, IsRoot(c))
		}
	}
}
