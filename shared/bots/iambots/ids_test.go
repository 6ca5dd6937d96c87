package iambots

import (
	"regexp"
	"strings"
	"testing"
)

// isSidFinding and isAccessKeyID accept exactly what the counted expressions they replace did.
func TestIDs_SameAsTheCountedExpressions(t *testing.T) {
	sid := regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	key := regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	cases := []string{"", "a", "AKIAIOSFODNN7EXAMPLE", "AKIA", strings.Repeat("A", 15), strings.Repeat("A", 16),
		strings.Repeat("A", 64), strings.Repeat("A", 65), strings.Repeat("A", 128), strings.Repeat("A", 129),
		"akiaiosfodnn7example", "AKIA-IOSFODNN7EXAMPLE", "b2d4f6a8c0e2b4d6f8a0c2e4b6d8f062", "id\n", "é"}
	for _, c := range cases {
		if isSidFinding(c) != sid.MatchString(c) {
			t.Errorf("isSidFinding(%q) = %v", c, isSidFinding(c))
		}
		if isAccessKeyID(c) != key.MatchString(c) {
			t.Errorf("isAccessKeyID(%q) = %v", c, isAccessKeyID(c))
		}
	}
}
