package s3bots

import (
	"regexp"
	"strings"
	"testing"
)

// isReader accepts exactly what the counted expression it replaces did.
func TestIsReader_SameAsTheCountedExpression(t *testing.T) {
	old := regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$`)
	base := "arn:aws:iam::111122223333:role/"
	cases := []string{"", base, base + "a", base + "path/to/name", base + strings.Repeat("a", 512), base + strings.Repeat("a", 513),
		"arn:aws:iam::111122223333:user/alice", "arn:aws-us-gov:iam::111122223333:role/x", "arn:aws:iam::11112222333:role/x",
		"arn:aws:iam::111122223333:group/x", "arn:aws:iam::111122223333:role/a b", "arn:aws:iam::111122223333:role/é",
		"arn:aws:iam::111122223333:role/x\n", "arn:aws:sts::111122223333:role/x"}
	for _, c := range cases {
		if isReader(c) != old.MatchString(c) {
			t.Errorf("isReader(%q) = %v", c, isReader(c))
		}
	}
}
