package notify

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// MaxSubject: SNS subjects must be under 100 characters, without line breaks or control characters.
const MaxSubject = 99

// Subject is a triage line, e.g.
//
//	[guardbots] HIGH UnauthorizedAccess:EC2/MaliciousIPCaller.Custom i-0abc 111122223333/us-east-1: remediated (ec2_stop_instance)
//
// Every value in it is sanitized to printable ASCII (finding types, tags and names can be chosen by an
// attacker). SNS allows fewer than 100 characters, which a long finding type alone nearly fills, so the
// least useful parts go first: the bot list, the region, a long resource id, the type's detection
// mechanism suffix, then the type's tail; the severity, the account and the outcome stay.
func Subject(in Input, outcome string) string {
	const head = "[guardbots]"
	f := in.Finding
	if f == nil {
		s := head + " " + outcome
		if in.Decision != nil && in.Decision.Outcome == mapping.ExpireDenies {
			// The scheduled clean-up names no finding: it reports on the expired denies it removed.
			s = head + " clean-up of expired IAM denies: " + outcome
		}
		if in.Error != nil {
			if step := clean(in.Error.Step); step != "" {
				s += " at " + step
			}
			if e := clean(in.Error.Error); e != "" {
				s += ": " + e
			}
		}
		return ellipsize(s, MaxSubject)
	}
	sev := ellipsize(clean(string(f.SeverityLabel)), 10)
	typ := clean(f.Type)
	res := clean(resourceID(f))
	account, region := clean(f.AccountID), clean(f.Region)
	names := botNames(in)

	render := func(typ, res, where, botList string) string {
		parts := []string{head}
		for _, p := range []string{sev, typ, res, where} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		s := strings.Join(parts, " ") + ": " + outcome
		if botList != "" {
			s += " (" + botList + ")"
		}
		return s
	}
	where := account
	if region != "" {
		where += "/" + region
	}
	botList := strings.Join(names, ", ")
	shortBots := ""
	if len(names) > 0 {
		shortBots = names[0]
		if len(names) > 1 {
			shortBots += fmt.Sprintf(" +%d", len(names)-1)
		}
	}
	shortRes := ellipsize(res, 22)
	core := typeCore(typ)
	candidates := []func() string{
		func() string { return render(typ, res, where, botList) },
		func() string { return render(typ, res, where, shortBots) },
		func() string { return render(typ, res, where, "") },
		func() string { return render(typ, res, account, "") },
		func() string { return render(typ, shortRes, account, "") },
		func() string { return render(core, shortRes, account, "") },
	}
	for _, c := range candidates {
		if s := c(); len(s) <= MaxSubject {
			return s
		}
	}
	// Cut the finding type to what is left, keeping at least its start (purpose and resource type).
	for _, r := range []string{shortRes, ""} {
		for _, w := range []string{account, ""} {
			over := len(render(typ, r, w, "")) - MaxSubject
			if keep := len(typ) - over; keep >= 24 {
				return render(ellipsize(typ, keep), r, w, "")
			}
		}
	}
	return ellipsize(render(typ, "", "", ""), MaxSubject)
}

// typeCore drops a finding type's detection mechanism and artifact
// ("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" -> "UnauthorizedAccess:EC2/MaliciousIPCaller"), the
// least telling part of it.
func typeCore(typ string) string {
	slash := strings.IndexByte(typ, '/')
	if slash < 0 {
		return typ
	}
	if i := strings.IndexAny(typ[slash:], ".!"); i > 0 {
		return typ[:slash+i]
	}
	return typ
}

// resourceID is the one identifier a person looks for first.
func resourceID(f *finding.Finding) string {
	switch {
	case f.Instance != nil && f.Instance.ID != "":
		return f.Instance.ID
	case f.AccessKey != nil && f.AccessKey.UserName != "":
		return f.AccessKey.UserName
	case f.AccessKey != nil && f.AccessKey.AccessKeyID != "":
		return f.AccessKey.AccessKeyID
	case len(f.S3Objects) > 0:
		// The key's last element: the subject is short, the body names bucket, key and version.
		o := f.S3Objects[0]
		if i := strings.LastIndexByte(o.Key, '/'); i >= 0 {
			return o.Bucket + "/..." + o.Key[i:]
		}
		return o.Bucket + "/" + o.Key
	case len(f.Buckets) > 0:
		if len(f.Buckets) > 1 {
			return fmt.Sprintf("%s +%d", f.Buckets[0].Name, len(f.Buckets)-1)
		}
		return f.Buckets[0].Name
	case f.EKS != nil:
		return f.EKS.ClusterName
	case f.RDS != nil && f.RDS.InstanceID != "":
		return f.RDS.InstanceID
	case f.RDS != nil:
		return f.RDS.ClusterID
	case f.Lambda != nil:
		return f.Lambda.FunctionName
	case f.ECS != nil:
		return f.ECS.ClusterName
	}
	return ""
}

// botNames are the bots that ran, else those the decision planned, deduplicated, in order.
func botNames(in Input) []string {
	var names []string
	add := func(n string) {
		n = clean(n)
		for _, x := range names {
			if x == n {
				return
			}
		}
		if n != "" {
			names = append(names, n)
		}
	}
	for _, r := range in.Results {
		add(r.Bot)
	}
	if len(names) == 0 && in.Decision != nil {
		for _, a := range in.Decision.Actions {
			add(a.Bot)
		}
	}
	return names
}

// clean makes s safe for a subject line: printable ASCII only. Whitespace of any kind becomes one space;
// control and format characters (including the Unicode bidi overrides that make text display reversed)
// are dropped; any other non-ASCII character becomes '?'.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r == utf8.RuneError, unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), unicode.Is(unicode.Cs, r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ellipsize cuts an ASCII string to n bytes, ending in "..." when cut.
func ellipsize(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return s[:n]
	}
	return strings.TrimRight(s[:n-3], " ") + "..."
}
