package notify

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// Routing is what a message is routed by: whose account it is about and what kind of thing happened.
// Every form a message takes reads it from here — the SNS message attributes a team's subscription
// filter policy matches (Attributes), and later forms (mail, chat, EventBridge events, metrics) alike.
type Routing struct {
	// Outcome is one of Outcomes (or OutcomeApprovalRequested, OutcomeMemberRoleHealth).
	Outcome string
	// Severity is the finding's severity label.
	Severity string
	// Account is the finding's account id.
	Account string
	// Owner is the account's owner tag (organization lookups, deployment.EnvOwnerTag), "" when unknown.
	Owner string
	// Kind is the finding's resource kind (Instance, AccessKey, S3Bucket, …).
	Kind string
	// Type is the finding type.
	Type string
	// OU is the account's OU path from the root: a team subscribed to an OU gets the accounts below it.
	OU []string
}

// Message attribute names: what a subscription filter policy filters on.
const (
	AttrOutcome  = "outcome"
	AttrSeverity = "severity"
	AttrAccount  = "account"
	AttrOwner    = "owner"
	AttrKind     = "kind"
	AttrType     = "type"
	// AttrOU is a String.Array: a filter policy value matches when it is any element of the path.
	AttrOU = "ou"
)

// Attribute is one message attribute: its SNS data type ("String" or "String.Array") and value (for a
// String.Array, the JSON array).
type Attribute struct {
	DataType string
	Value    string
}

// Attributes are the message attributes of r. SNS refuses an empty value, so an unknown one is left
// out rather than sent empty: a subscription that filters on it does not get the message, one that
// does not filter still does.
func (r Routing) Attributes() map[string]Attribute {
	out := map[string]Attribute{}
	str := func(name, v string) {
		if v = AttrValue(v); v != "" {
			out[name] = Attribute{DataType: "String", Value: v}
		}
	}
	str(AttrOutcome, r.Outcome)
	str(AttrSeverity, r.Severity)
	str(AttrAccount, r.Account)
	str(AttrOwner, r.Owner)
	str(AttrKind, r.Kind)
	str(AttrType, r.Type)
	var ou []string
	for _, id := range r.OU {
		// Only ids Organizations itself issues: they need no escaping in a filter policy.
		if org.IsOU(id) || org.IsRoot(id) {
			ou = append(ou, id)
		}
	}
	if len(ou) > 0 {
		b, _ := json.Marshal(ou) // a list of strings always marshals
		out[AttrOU] = Attribute{DataType: "String.Array", Value: string(b)}
	}
	return out
}

// RoutingOf is the routing of the message Build makes for in: the finding's account, kind, type and
// severity, and the owner and OU path match or verify looked up (the decision's account).
func RoutingOf(in Input, outcome string) Routing {
	r := routingOfFinding(in.Finding, outcome)
	if in.Decision != nil && in.Decision.Account != nil && (in.Finding == nil || in.Decision.Account.ID == in.Finding.AccountID) {
		r.Owner = in.Decision.Account.Owner
		r.OU = slices.Clone(in.Decision.Account.OUPath)
	}
	return r
}

// routingOfFinding is what a finding alone says about where a message goes.
func routingOfFinding(f *finding.Finding, outcome string) Routing {
	r := Routing{Outcome: outcome}
	if f != nil {
		r.Severity, r.Account, r.Kind, r.Type = string(f.SeverityLabel), f.AccountID, string(f.ResourceKind), f.Type
	}
	return r
}

// AttrValue makes a value safe to send and to match: valid UTF-8, no control, format (bidi overrides,
// zero-width) or private-use characters — so the value a filter policy matches is the one a person
// reads — no quote or backslash (SNS needs those double-escaped in a filter policy, so no route could
// match them anyway), at most 256 characters. An account's tags are set by whoever administers the organization, the
// finding's fields by GuardDuty or, before verify, by the sender.
func AttrValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || r == '"' || r == '\\' || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 256 {
		s = string(r[:256])
	}
	return s
}

// OutcomeMemberRoleHealth is the outcome of the member-role health check's message (shared/health):
// sent when a bot cannot reach its member role in some account.
const OutcomeMemberRoleHealth = "member-role-health"
