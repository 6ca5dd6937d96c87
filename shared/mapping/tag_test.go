package mapping

import (
	"regexp"
	"strings"
	"testing"
)

// isTagKey and isTagValue accept exactly what the regular expressions of Organizations' tag limits do
// (kept here only: compiled, they cost every Lambda 14.8 MB and 15–20 ms at start).
func TestIsTag_SameAsTheRegularExpressions(t *testing.T) {
	keyRE := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	valueRE := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
	cases := []string{"", "owner", "team-payments", "Cost Center", "a:b/c=d+e-f@g_h.i", "ünïcödé", "日本語", "٣٤",
		"tab\there", "new\nline", "quote\"", "back\\slash", "semi;colon", "\u00a0nbsp", "\u2003em space", "\u200bzero width",
		"\u202eRLO", "\xff\xfe", "a\x00b", "emoji😀", "Ⅻ roman", strings.Repeat("a", 127), strings.Repeat("a", 128),
		strings.Repeat("a", 129), strings.Repeat("é", 128), strings.Repeat("é", 129), strings.Repeat("b", 256),
		strings.Repeat("b", 257), strings.Repeat("日", 256), strings.Repeat("日", 257)}
	for _, c := range cases {
		if got, want := isTagKey(c), keyRE.MatchString(c); got != want {
			t.Errorf("isTagKey(%q) = %v, the expression says %v", c, got, want)
		}
		if got, want := isTagValue(c), valueRE.MatchString(c); got != want {
			t.Errorf("isTagValue(%q) = %v, the expression says %v", c, got, want)
		}
	}
}

func FuzzIsTag(f *testing.F) {
	keyRE := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	valueRE := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
	for _, s := range []string{"", "owner", "a b", "\xff", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isTagKey(s) != keyRE.MatchString(s) || isTagValue(s) != valueRE.MatchString(s) {
			t.Fatalf("%q: key %v/%v value %v/%v", s, isTagKey(s), keyRE.MatchString(s), isTagValue(s), valueRE.MatchString(s))
		}
	})
}
