package notify

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// Outcomes: what the execution achieved, in one word, for the subject and for subscription filter
// policies. Exactly one per message; Build picks the first that applies, in this order:
const (
	// OutcomeRejected: parse, transform or match rejected the input (error Guardbots.Rejected, nothing ran).
	OutcomeRejected = "rejected"
	// OutcomePartial: at least one action remediated and another (or a later step) failed.
	OutcomePartial = "partially-remediated"
	// OutcomeFailed: a step or an action failed and nothing was remediated.
	OutcomeFailed = "failed"
	// OutcomeHeld: the blast-radius limit held an action back (not run) and it was not approved.
	OutcomeHeld = "held"
	// OutcomeRemediated: at least one action changed a resource, none failed.
	OutcomeRemediated = "remediated"
	// OutcomeDryRun: actions ran in dry-run and report what they would have done.
	OutcomeDryRun = "dry-run"
	// OutcomeAlreadyDone: the resource was already remediated; nothing changed.
	OutcomeAlreadyDone = "already-done"
	// OutcomeNotifyOnly: the mapping says to tell people, not act.
	OutcomeNotifyOnly = "notify-only"
	// OutcomeSkipped: nothing to do (no mapping entry, sample or archived finding, resource gone, …).
	OutcomeSkipped = "skipped"
)

// Outcomes lists every outcome, for tests and filter-policy documentation.
var Outcomes = []string{OutcomeRejected, OutcomePartial, OutcomeFailed, OutcomeHeld, OutcomeRemediated, OutcomeDryRun, OutcomeAlreadyDone, OutcomeNotifyOnly, OutcomeSkipped}

const (
	// MaxSubject: SNS subjects must be under 100 characters, without line breaks or control characters.
	MaxSubject = 99
	// MaxBody keeps the whole Publish (body, subject, attributes) under SNS's 256 KiB message limit.
	MaxBody = 256*1024 - 8*1024
)

// Message is one notification.
type Message struct {
	// Subject is printable ASCII, at most MaxSubject characters.
	Subject string
	// Body is the JSON document (see Body).
	Body []byte
	// Outcome is one of Outcomes.
	Outcome string
	// Severity is the finding's severity label ("" when there is no finding).
	Severity string
}

// Body is the JSON the message carries: everything a responder needs, with a link to the execution.
type Body struct {
	Summary string `json:"summary"`
	Outcome string `json:"outcome"`
	// FindingFrom says whose word Finding is: "guardduty" when the verify step read it back from
	// GuardDuty (every decision that ran a bot), "event" when it is the input as it arrived (skip and
	// notify decisions of match, rejections): then every field of it is the sender's claim.
	FindingFrom string            `json:"findingFrom,omitempty"`
	Finding     *finding.Finding  `json:"finding,omitempty"`
	Decision    *mapping.Decision `json:"decision,omitempty"`
	Actions     []bots.Result     `json:"actions"`
	Error       *StepError        `json:"error,omitempty"`
	Execution   ExecutionLink     `json:"execution"`
	// Closure is what was recorded on the finding (GuardDuty feedback/archive, Security Hub workflow).
	Closure *Closure `json:"closure,omitempty"`
	// Truncated says bulky parts were dropped or cut to stay under SNS's size limit; Omitted says which.
	Truncated bool     `json:"truncated,omitempty"`
	Omitted   []string `json:"omitted,omitempty"`
}

// ExecutionLink identifies the execution and links to it in the Step Functions console.
type ExecutionLink struct {
	ARN        string `json:"arn"`
	Name       string `json:"name,omitempty"`
	StartTime  string `json:"startTime,omitempty"`
	ConsoleURL string `json:"consoleUrl,omitempty"`
}

// Build turns the workflow's final state into a message.
func Build(in Input) (Message, error) {
	outcome := OutcomeOf(in)
	m := Message{Outcome: outcome, Subject: Subject(in, outcome)}
	if in.Finding != nil {
		m.Severity = clean(string(in.Finding.SeverityLabel))
	}
	body := Body{
		Summary:     summary(in, outcome),
		Outcome:     outcome,
		FindingFrom: findingFrom(in),
		Finding:     in.Finding,
		Decision:    in.Decision,
		Actions:     in.Results,
		Error:       in.Error,
		Closure:     in.Closure,
		Execution: ExecutionLink{
			ARN:        in.Execution.ID,
			Name:       in.Execution.Name,
			StartTime:  in.Execution.StartTime,
			ConsoleURL: ConsoleURL(in.Execution.ID),
		},
	}
	if body.Actions == nil {
		body.Actions = []bots.Result{}
	}
	b, err := fitBody(body)
	if err != nil {
		return Message{}, fmt.Errorf("notify: encode message body: %w", err)
	}
	m.Body = b
	return m, nil
}

// OutcomeOf derives the outcome from the input (see the order of the Outcome constants).
func OutcomeOf(in Input) string {
	count := map[bots.Status]int{}
	held := 0
	for _, r := range in.Results {
		count[r.Status]++
		if r.Held {
			held++
		}
	}
	failed := in.Error != nil || count[bots.StatusFailed] > 0
	switch {
	case in.Error != nil && in.Error.Error == string(faults.Rejected) && count[bots.StatusRemediated] == 0:
		return OutcomeRejected
	case failed && count[bots.StatusRemediated] > 0:
		return OutcomePartial
	case failed:
		return OutcomeFailed
	case held > 0:
		// Ahead of remediated: the subject must tell a person that something still waits for them.
		return OutcomeHeld
	case count[bots.StatusRemediated] > 0:
		return OutcomeRemediated
	case count[bots.StatusDryRun] > 0:
		return OutcomeDryRun
	case count[bots.StatusAlreadyDone] > 0:
		return OutcomeAlreadyDone
	case count[bots.StatusNotified] > 0, in.Decision != nil && in.Decision.Outcome == mapping.NotifyOnly:
		return OutcomeNotifyOnly
	}
	return OutcomeSkipped
}

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

// ConsoleURL links to the execution in the Step Functions console of its partition and region; "" for
// anything that is not a Step Functions execution ARN (a local run id) or a partition without a known
// console.
func ConsoleURL(executionARN string) string {
	a, err := arn.Parse(executionARN)
	if err != nil || a.Service != "states" || !regionRE.MatchString(a.Region) ||
		!(strings.HasPrefix(a.Resource, "execution:") || strings.HasPrefix(a.Resource, "express:")) ||
		!arnSafeRE.MatchString(executionARN) {
		return ""
	}
	var host string
	switch a.Partition {
	case "aws":
		host = a.Region + ".console.aws.amazon.com"
	case "aws-cn":
		host = "console.amazonaws.cn"
	case "aws-us-gov":
		host = "console.amazonaws-us-gov.com"
	default:
		return ""
	}
	return "https://" + host + "/states/home?region=" + a.Region + "#/v2/executions/details/" + executionARN
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	// arnSafeRE: execution names are [A-Za-z0-9_-] (and a few more in practice); nothing that could
	// break out of a URL fragment.
	arnSafeRE = regexp.MustCompile(`^[A-Za-z0-9:/_.+=@-]+$`)
)

// resourceID is the one identifier a person looks for first.
func resourceID(f *finding.Finding) string {
	switch {
	case f.Instance != nil && f.Instance.ID != "":
		return f.Instance.ID
	case f.AccessKey != nil && f.AccessKey.UserName != "":
		return f.AccessKey.UserName
	case f.AccessKey != nil && f.AccessKey.AccessKeyID != "":
		return f.AccessKey.AccessKeyID
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

// findingFrom is Body.FindingFrom.
func findingFrom(in Input) string {
	switch {
	case in.Finding == nil:
		return ""
	case in.Decision != nil && in.Decision.Verified:
		return "guardduty"
	}
	return "event"
}

// summary is one human line for the body.
func summary(in Input, outcome string) string {
	var b strings.Builder
	b.WriteString(outcome)
	if f := in.Finding; f != nil {
		fmt.Fprintf(&b, ": %s %s", f.SeverityLabel, f.Type)
		if id := resourceID(f); id != "" {
			fmt.Fprintf(&b, " on %s", id)
		}
		fmt.Fprintf(&b, " in %s/%s", f.AccountID, f.Region)
		if findingFrom(in) != "guardduty" {
			b.WriteString(" (as the event says; not read back from GuardDuty)")
		}
	}
	if len(in.Results) > 0 {
		acts := make([]string, len(in.Results))
		var warnings []string
		for i, r := range in.Results {
			status := string(r.Status)
			if r.Held {
				status = "held"
			}
			acts[i] = fmt.Sprintf("%s %s", r.Bot, status)
			if (r.Status == bots.StatusSkipped || r.Held) && r.Reason != "" {
				acts[i] += " (" + r.Reason + ")"
			}
			warnings = append(warnings, r.Warnings...)
		}
		fmt.Fprintf(&b, "; actions: %s", strings.Join(acts, ", "))
		if len(warnings) > 0 {
			fmt.Fprintf(&b, "; warnings: %s", strings.Join(warnings, "; "))
		}
	} else if in.Decision != nil && in.Decision.Reason != "" {
		fmt.Fprintf(&b, "; %s", in.Decision.Reason)
	}
	if e := in.Error; e != nil {
		fmt.Fprintf(&b, "; %s failed: %s", orDefault(e.Step, "a step"), e.Error)
	}
	return ellipsize(clean(b.String()), 500)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
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

// truncateUTF8 cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…[truncated]"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + mark
}

// fitBody encodes body, dropping bulky parts step by step while it exceeds MaxBody.
func fitBody(body Body) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil || len(b) <= MaxBody {
		return b, err
	}
	body.Truncated = true
	steps := []struct {
		name string
		cut  func(*Body)
	}{
		{"finding.tags, finding.networkInterfaces, finding.containers, long remote IP lists", func(b *Body) { b.Finding = slimFinding(b.Finding) }},
		{"long errors, causes, reasons and change lists", func(b *Body) {
			b.Actions = cutResults(b.Actions, 4096, 50)
			if b.Error != nil {
				e := *b.Error
				e.Cause, e.Error = truncateUTF8(e.Cause, 4096), truncateUTF8(e.Error, 512)
				b.Error = &e
			}
			if b.Decision != nil {
				d := *b.Decision
				d.Reason = truncateUTF8(d.Reason, 1024)
				b.Decision = &d
			}
		}},
		{"finding details beyond its identifiers", func(b *Body) { b.Finding = coreFinding(b.Finding) }},
		{"decision action parameters", func(b *Body) {
			if b.Decision != nil {
				d := *b.Decision
				d.Actions = nil
				b.Decision = &d
			}
		}},
		{"action details beyond bot, status and reason", func(b *Body) { b.Actions = cutResults(b.Actions, 512, 0) }},
		{"error cause", func(b *Body) {
			if b.Error != nil {
				e := *b.Error
				e.Cause = truncateUTF8(e.Cause, 256)
				b.Error = &e
			}
		}},
	}
	for _, s := range steps {
		s.cut(&body)
		body.Omitted = append(body.Omitted, s.name)
		if b, err = json.Marshal(body); err != nil || len(b) <= MaxBody {
			return b, err
		}
	}
	// Pathological input (thousands of actions): keep what identifies the execution.
	body.Finding, body.Decision, body.Actions = coreFinding(body.Finding), nil, body.Actions[:min(len(body.Actions), 100)]
	body.Omitted = append(body.Omitted, "decision, actions beyond the first 100")
	return json.Marshal(body)
}

// slimFinding copies f without tags, interfaces, containers and long lists.
func slimFinding(f *finding.Finding) *finding.Finding {
	if f == nil {
		return nil
	}
	c := *f
	if f.Instance != nil {
		i := *f.Instance
		i.Tags, i.NetworkInterfaces = nil, nil
		c.Instance = &i
	}
	if f.Buckets != nil {
		c.Buckets = make([]finding.Bucket, len(f.Buckets))
		for i, b := range f.Buckets {
			b.Tags = nil
			c.Buckets[i] = b
		}
	}
	if f.EKS != nil {
		e := *f.EKS
		e.Tags = nil
		if len(e.UserGroups) > 20 {
			e.UserGroups = e.UserGroups[:20]
		}
		c.EKS = &e
	}
	if f.RDS != nil {
		r := *f.RDS
		r.Tags = nil
		c.RDS = &r
	}
	if f.Lambda != nil {
		l := *f.Lambda
		l.Tags = nil
		c.Lambda = &l
	}
	if f.Action != nil {
		a := *f.Action
		if len(a.RemoteIPs) > 20 {
			a.RemoteIPs = a.RemoteIPs[:20]
		}
		if len(a.LocalPorts) > 50 {
			a.LocalPorts = a.LocalPorts[:50]
		}
		if len(a.RemotePorts) > 50 {
			a.RemotePorts = a.RemotePorts[:50]
		}
		c.Action = &a
	}
	c.Containers = nil
	return &c
}

// coreFinding keeps what identifies the finding and its resource.
func coreFinding(f *finding.Finding) *finding.Finding {
	if f == nil {
		return nil
	}
	c := finding.Finding{
		ID: truncateUTF8(f.ID, 256), Arn: truncateUTF8(f.Arn, 512), Type: truncateUTF8(f.Type, 256),
		Severity: f.Severity, SeverityLabel: f.SeverityLabel,
		AccountID: truncateUTF8(f.AccountID, 64), Region: truncateUTF8(f.Region, 64), Partition: truncateUTF8(f.Partition, 64),
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Count: f.Count,
		ResourceKind: f.ResourceKind, ResourceType: truncateUTF8(f.ResourceType, 128),
	}
	if f.Instance != nil {
		c.Instance = &finding.Instance{ID: truncateUTF8(f.Instance.ID, 64)}
	}
	if f.AccessKey != nil {
		c.AccessKey = &finding.AccessKey{AccessKeyID: truncateUTF8(f.AccessKey.AccessKeyID, 128), UserName: truncateUTF8(f.AccessKey.UserName, 128), UserType: f.AccessKey.UserType}
	}
	return &c
}

// cutResults copies results with long fields cut; maxChanges 0 drops changes and before/after.
func cutResults(rs []bots.Result, maxText, maxChanges int) []bots.Result {
	out := make([]bots.Result, len(rs))
	for i, r := range rs {
		r.Reason, r.Error, r.Cause = truncateUTF8(r.Reason, maxText), truncateUTF8(r.Error, 512), truncateUTF8(r.Cause, maxText)
		if maxChanges == 0 {
			r.Changes, r.Before, r.After, r.Resources = nil, nil, nil, nil
		} else {
			if len(r.Changes) > maxChanges {
				r.Changes = r.Changes[:maxChanges]
			}
			cs := make([]string, len(r.Changes))
			for j, c := range r.Changes {
				cs[j] = truncateUTF8(c, 512)
			}
			r.Changes = cs
		}
		out[i] = r
	}
	return out
}
