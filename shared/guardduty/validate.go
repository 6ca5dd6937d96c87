package guardduty

import (
	"strings"

	"github.com/guardbots/guardbots/shared/faults"
)

// Validate checks what every later step relies on: the identifiers that say where to act and what the
// finding is. path prefixes field names in messages ("detail." for an EventBridge event).
func Validate(f *Finding, path string) error {
	var missing []string
	for _, m := range []struct{ name, val string }{
		{"type", f.Type}, {"id", f.ID}, {"accountId", f.AccountID}, {"region", f.Region},
	} {
		if m.val == "" {
			missing = append(missing, path+m.name)
		}
	}
	if len(missing) > 0 {
		return faults.Rejectf("GuardDuty finding is missing %s", strings.Join(missing, ", "))
	}
	if !IsAccountID(f.AccountID) {
		return faults.Rejectf("%saccountId %q is not a 12-digit AWS account id", path, clip(f.AccountID, 64))
	}
	if !IsRegion(f.Region) {
		return faults.Rejectf("%sregion %q does not look like an AWS region (e.g. us-east-1)", path, clip(f.Region, 64))
	}
	if !IsFindingType(f.Type) {
		return faults.Rejectf("%stype %q is not a GuardDuty finding type (ThreatPurpose:ResourceType/ThreatFamily…)", path, clip(f.Type, 64))
	}
	if !isIDChars(f.ID) {
		return faults.Rejectf("%sid %q is not a GuardDuty finding id (letters, digits, - and _)", path, clip(f.ID, 64))
	}
	if f.Partition != "" && !isPartition(f.Partition) {
		return faults.Rejectf("%spartition %q is not an AWS partition (aws, aws-cn, aws-us-gov, …)", path, clip(f.Partition, 64))
	}
	if f.Severity < 0 || f.Severity > 10 {
		return faults.Rejectf("%sseverity %g is outside GuardDuty's 0–10 range", path, f.Severity)
	}
	return nil
}

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsRegion reports whether s looks like an AWS region: lowercase words joined by '-', the first of two
// letters, the last a number (us-east-1, us-gov-west-1, cn-north-1, ap-southeast-5, us-isob-east-1).
func IsRegion(s string) bool {
	if len(s) < 6 || len(s) > 32 {
		return false
	}
	// Part by part, without splitting s (every finding is checked).
	n := 0
	for rest, more := s, true; more; n++ {
		var p string
		p, rest, more = strings.Cut(rest, "-")
		if p == "" || n == 0 && len(p) != 2 {
			return false
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if !more && (c < '0' || c > '9') || more && (c < 'a' || c > 'z') {
				return false
			}
		}
		if !more && len(p) > 2 {
			return false
		}
	}
	return n >= 3
}

// IsFindingType reports whether s has the shape Purpose:Resource/Family…: an alphanumeric threat
// purpose and resource type, and a family of printable, space-free characters.
func IsFindingType(s string) bool {
	purpose, rest, ok := strings.Cut(s, ":")
	if !ok || !isAlnum(purpose) {
		return false
	}
	resource, family, ok := strings.Cut(rest, "/")
	if !ok || !isAlnum(resource) || family == "" {
		return false
	}
	for i := 0; i < len(family); i++ {
		c := family[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isIDChars: GuardDuty ids are 32 hex characters; older and test ids vary, so any word characters pass.
func isIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isPartition(s string) bool {
	if !strings.HasPrefix(s, "aws") || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}
