// Package route is how a team gets the notifications about its own accounts: a route is an SNS
// subscription (email, SQS or HTTPS) whose filter policy matches the message attributes notify sets
// (shared/notify routing.go) — the account's owner tag or its OU path. The CDK app reads routes from
// context (infra/README.md, "routes") and rejects at synth a route SNS would refuse or could never
// match; Matches evaluates a filter policy as SNS does, so tests can show which route gets which message.
package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/org"
)

// Route is one team's subscription.
type Route struct {
	// Name names the route (the subscription's construct id): letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Protocol is email, sqs or https; Endpoint the address, queue ARN or URL.
	Protocol string `json:"protocol"`
	Endpoint string `json:"endpoint"`
	// Owners are owner-tag values (the deployment's ownerTag); OUs are OU or root ids, matching every
	// account below them. A message matches when its owner is one of Owners or its OU path contains one
	// of OUs (either, when both are given).
	Owners []string `json:"owners,omitempty"`
	OUs    []string `json:"ous,omitempty"`
	// Outcomes and Severities narrow the route further (all outcomes, all severities when empty).
	Outcomes   []string `json:"outcomes,omitempty"`
	Severities []string `json:"severities,omitempty"`
}

// SNS's limits on a filter policy (Amazon SNS developer guide, "Filter policy constraints"), and its
// default quota of filter policies per topic.
const (
	MaxKeys           = 5
	MaxCombinations   = 150
	MaxPolicyBytes    = 256 * 1024
	MaxRoutesPerTopic = 200
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	sqsArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
)

// Parse reads the routes context value (a JSON list of routes) and checks each one and the list: an
// unknown field, a duplicate name or any route Validate refuses is an error naming it.
func Parse(b []byte) ([]Route, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rs []Route
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf(`routes: %w (want [{"name": …, "protocol": "email"|"sqs"|"https", "endpoint": …, "owners": […], "ous": […]}])`, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("routes: more than one JSON value")
	}
	return rs, Check(rs)
}

// Check validates every route and the list as a whole.
func Check(rs []Route) error {
	var problems []string
	if len(rs) > MaxRoutesPerTopic {
		problems = append(problems, fmt.Sprintf("%d routes: SNS allows %d filter policies per topic", len(rs), MaxRoutesPerTopic))
	}
	seen := map[string]bool{}
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("routes[%d] (%s): %v", i, clip(r.Name), err))
		}
		if seen[r.Name] {
			problems = append(problems, fmt.Sprintf("routes[%d]: name %q is used twice", i, clip(r.Name)))
		}
		seen[r.Name] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Validate reports what SNS would refuse in r's subscription or filter policy, and what could never
// match a message notify sends.
func (r Route) Validate() error {
	var bad []string
	if !nameRE.MatchString(r.Name) {
		bad = append(bad, fmt.Sprintf("name %q: 1–64 of [A-Za-z0-9_-]", clip(r.Name)))
	}
	switch r.Protocol {
	case "email":
		if at := strings.Index(r.Endpoint, "@"); at < 1 || at == len(r.Endpoint)-1 || strings.ContainsAny(r.Endpoint, " \t\r\n") {
			bad = append(bad, fmt.Sprintf("endpoint %q is not an email address", clip(r.Endpoint)))
		}
	case "sqs":
		if !sqsArnRE.MatchString(r.Endpoint) {
			bad = append(bad, fmt.Sprintf("endpoint %q is not an SQS queue ARN", clip(r.Endpoint)))
		}
	case "https":
		// Plain http would carry findings in clear text.
		if !strings.HasPrefix(r.Endpoint, "https://") || len(r.Endpoint) <= len("https://") || strings.ContainsAny(r.Endpoint, " \t\r\n") {
			bad = append(bad, fmt.Sprintf("endpoint %q is not an https:// URL", clip(r.Endpoint)))
		}
	default:
		bad = append(bad, fmt.Sprintf("protocol %q: email, sqs or https", clip(r.Protocol)))
	}
	if len(r.Owners) == 0 && len(r.OUs) == 0 {
		// Without either the route is a subscription to every account (context notificationEmail is that).
		bad = append(bad, "no owners and no ous: a route filters by the account's owner or OU")
	}
	for _, o := range r.Owners {
		// notify sends attribute values cleaned the same way: a value it would change never matches.
		if o == "" || notify.AttrValue(o) != o {
			bad = append(bad, fmt.Sprintf("owner %q: a non-empty tag value of at most 256 characters, without quotes, backslashes or control characters", clip(o)))
		}
	}
	for _, ou := range r.OUs {
		if !org.IsOU(ou) && !org.IsRoot(ou) {
			bad = append(bad, fmt.Sprintf("ou %q is not an OU id (ou-…) or root id (r-…)", clip(ou)))
		}
	}
	known := append(slices.Clone(notify.Outcomes), notify.OutcomeApprovalRequested, notify.OutcomeMemberRoleHealth)
	for _, o := range r.Outcomes {
		if !slices.Contains(known, o) {
			bad = append(bad, fmt.Sprintf("outcome %q: one of %s", clip(o), strings.Join(known, ", ")))
		}
	}
	for _, s := range r.Severities {
		switch finding.SeverityLabel(s) {
		case finding.SeverityLow, finding.SeverityMedium, finding.SeverityHigh, finding.SeverityCritical:
		default:
			bad = append(bad, fmt.Sprintf("severity %q: LOW, MEDIUM, HIGH or CRITICAL", clip(s)))
		}
	}
	for _, l := range [][]string{r.Owners, r.OUs, r.Outcomes, r.Severities} {
		if d := duplicate(l); d != "" {
			bad = append(bad, fmt.Sprintf("%q is listed twice", clip(d)))
		}
	}
	if len(bad) == 0 {
		p := r.FilterPolicy()
		if k := Keys(p); k > MaxKeys {
			bad = append(bad, fmt.Sprintf("filter policy has %d keys, SNS allows %d", k, MaxKeys))
		}
		if c := Combinations(p); c > MaxCombinations {
			bad = append(bad, fmt.Sprintf("filter policy has %d value combinations, SNS allows %d: split the route", c, MaxCombinations))
		}
		if b, _ := json.Marshal(p); len(b) > MaxPolicyBytes {
			bad = append(bad, fmt.Sprintf("filter policy is %d bytes, SNS allows %d", len(b), MaxPolicyBytes))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// FilterPolicy is r's subscription filter policy on the message attributes: owner or OU (with "$or"
// when both are given), and the outcomes and severities when set.
func (r Route) FilterPolicy() map[string]any {
	common := map[string]any{}
	if len(r.Outcomes) > 0 {
		common[notify.AttrOutcome] = strs(r.Outcomes)
	}
	if len(r.Severities) > 0 {
		common[notify.AttrSeverity] = strs(r.Severities)
	}
	with := func(key string, values []string) map[string]any {
		m := map[string]any{key: strs(values)}
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	switch {
	case len(r.Owners) > 0 && len(r.OUs) > 0:
		p := map[string]any{"$or": []any{map[string]any{notify.AttrOwner: strs(r.Owners)}, map[string]any{notify.AttrOU: strs(r.OUs)}}}
		for k, v := range common {
			p[k] = v
		}
		return p
	case len(r.OUs) > 0:
		return with(notify.AttrOU, r.OUs)
	default:
		return with(notify.AttrOwner, r.Owners)
	}
}

// Keys counts a policy's distinct attribute names, inside "$or" branches too.
func Keys(p map[string]any) int {
	names := map[string]bool{}
	var walk func(map[string]any)
	walk = func(m map[string]any) {
		for k, v := range m {
			if k != "$or" {
				names[k] = true
				continue
			}
			for _, b := range v.([]any) {
				walk(b.(map[string]any))
			}
		}
	}
	walk(p)
	return len(names)
}

// Combinations is the policy's total combination of values: the product of the number of values of each
// key, a "$or" counting as the sum over its branches (each branch is a policy of its own to SNS).
func Combinations(p map[string]any) int {
	n := 1
	for k, v := range p {
		if k == "$or" {
			sum := 0
			for _, b := range v.([]any) {
				sum += Combinations(b.(map[string]any))
			}
			n *= sum
			continue
		}
		if l, ok := v.([]any); ok {
			n *= max(1, len(l))
		}
	}
	return n
}

func strs(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func duplicate(l []string) string {
	seen := map[string]bool{}
	for _, s := range l {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 80 {
		return strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}
