package demo

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
)

// Expected is what a demo finding must lead to.
type Expected struct {
	Status string
	// Bots are the bots that must run, in order, each with Result.
	Bots   []string
	Result bots.Status
	// Outcome is the notification's outcome.
	Outcome string
	// Resource checks the read-back state ("" when it holds); nil for findings that change nothing.
	Resource func(State) string
	// Verification, when set, must be in the notified decision's verification (what verify said).
	Verification []string
	// Mode, when set, is every decided action's mode, and Scope the mapping scope that set it ("" when
	// the rule's own mode did): the organization shaping the decision.
	Mode, Scope string
	// Owner, when set, is the account owner the notification names and routes by.
	Owner string
}

// Expectations are the demo findings' expected outcomes, by finding name; dry run expects every bot to
// report dry-run and every resource to be unchanged.
func Expectations(dryRun bool) map[string]Expected {
	result, outcome := bots.StatusRemediated, notify.OutcomeRemediated
	if dryRun {
		result, outcome = bots.StatusDryRun, notify.OutcomeDryRun
	}
	check := func(changed bool, what, got string) string {
		if changed != dryRun {
			return ""
		}
		if dryRun {
			return fmt.Sprintf("dry run changed the %s: %s", what, got)
		}
		return fmt.Sprintf("the %s did not change: %s", what, got)
	}
	return map[string]Expected{
		"ec2_malicious_ip_caller_custom": {Status: "SUCCEEDED", Bots: []string{"ec2_tag_instance", "ec2_stop_instance"}, Result: result, Outcome: outcome,
			Resource: func(s State) string {
				return check(s.Instance == "stopped" || s.Instance == "stopping", "instance", "state "+s.Instance)
			}},
		// Only what the attacker holds: the stolen session and its address, on the role; then the instance
		// the credentials came from (a related target: the session is named after it).
		"iam_instance_credential_exfiltration": {Status: "SUCCEEDED", Bots: []string{"iam_deny_session", "iam_deny_source_ip", "ec2_tag_instance"},
			Result: result, Outcome: outcome,
			Resource: func(s State) string {
				return check(s.SessionDenied != "" && s.AddressDenied != "", "role",
					"session deny "+orNone(s.SessionDenied)+", address deny "+orNone(s.AddressDenied))
			}},
		"s3_bucket_block_public_access_disabled": {Status: "SUCCEEDED", Bots: []string{"s3_block_public_access"}, Result: result, Outcome: outcome,
			Resource: func(s State) string { return check(s.BucketBlocked, "bucket", s.BucketBlock) }},
		"s3_object_malicious_file": {Status: "SUCCEEDED", Bots: []string{"s3_quarantine_object"}, Result: result, Outcome: outcome,
			Resource: func(s State) string { return check(s.ObjectQuarantined, "object", s.Object) }},
		"unmapped_bedrock_model_invocation": {Status: "SUCCEEDED", Outcome: notify.OutcomeSkipped},
		// An attack sequence: each (action, member) pair APPROVE, and nobody approves locally (every
		// approval wait times out), so only notify_only, on the whole sequence, runs; the notification
		// lists every member and what was done to it (nothing: approval timed out).
		"attack_sequence_compromised_data": {Status: "SUCCEEDED", Bots: []string{"notify_only"}, Result: bots.StatusNotified, Outcome: notify.OutcomeNotifyOnly},
		// The hourly clean-up removes the deny that expired (planted by the demo), and only it.
		CleanupScene: {Status: "SUCCEEDED", Bots: []string{"iam_deny_session"}, Result: result, Outcome: outcome,
			Resource: func(s State) string {
				expired := slices.ContainsFunc(s.Denies, func(d string) bool { return strings.HasPrefix(d, ExpiredDenyPolicy+":") })
				return check(!expired, "expired deny", map[bool]string{true: ExpiredDenyPolicy + " still on the role", false: "removed"}[expired])
			}},
		// The same finding type in the production account: the workload OU's scope makes it APPROVE, and
		// nobody answers locally (ApprovalWaitStandIn), so nothing runs and the notification says so.
		"ec2_malicious_ip_caller_custom_production": {Status: "SUCCEEDED", Outcome: notify.OutcomeSkipped, Mode: "APPROVE",
			Scope: "rules[0].scopes[0]", Owner: "team-payments"},
		// The edited replay acts on GuardDuty's copy: the demo instance, which the first scene handled
		// (a dry run claims nothing, so there it plans again).
		"replay_edited_" + ReplayOf: {Status: "SUCCEEDED", Bots: []string{"ec2_tag_instance", "ec2_stop_instance"},
			Result:       map[bool]bots.Status{false: bots.StatusSkipped, true: bots.StatusDryRun}[dryRun],
			Outcome:      map[bool]string{false: notify.OutcomeSkipped, true: notify.OutcomeDryRun}[dryRun],
			Verification: []string{`instance (input "` + ReplayInstance + `"`, `severity (input "8", GuardDuty "5")`, `resource role (input "TARGET", GuardDuty "ACTOR")`}},
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Check lists how the execution differs from e (nil when it does not). The resource is checked by
// the caller once every execution has run.
func (e Expected) Check(ex *Execution) []string {
	var bad []string
	if ex.Status != e.Status {
		bad = append(bad, fmt.Sprintf("execution %s (%s: %s), want %s", ex.Status, ex.Error, ex.Cause, e.Status))
	}
	var ran []string
	for _, in := range ex.BotInvokes() {
		ran = append(ran, in.Function)
		var r bots.Result
		if in.ErrorType != "" || json.Unmarshal(in.Output, &r) != nil {
			bad = append(bad, fmt.Sprintf("bot %s failed: %s %s", in.Function, in.ErrorType, errorMessage(in.Output)))
			continue
		}
		if r.Status != e.Result {
			bad = append(bad, fmt.Sprintf("bot %s reported %s (%s), want %s", in.Function, r.Status, r.Reason, e.Result))
		}
	}
	if !slices.Equal(ran, e.Bots) {
		bad = append(bad, fmt.Sprintf("bots ran %v, want %v", ran, e.Bots))
	}
	switch {
	case len(ex.Notifications) != 1:
		bad = append(bad, fmt.Sprintf("%d notifications received, want 1", len(ex.Notifications)))
	case ex.Notifications[0].Outcome != e.Outcome:
		bad = append(bad, fmt.Sprintf("notified outcome %s, want %s", ex.Notifications[0].Outcome, e.Outcome))
	}
	if len(ex.Notifications) == 1 {
		body := ex.Notifications[0].Body
		if e.Mode != "" {
			if d := body.Decision; d == nil || d.Scope != e.Scope || len(d.Actions) == 0 ||
				slices.ContainsFunc(d.Actions, func(a mapping.Action) bool { return a.Mode != e.Mode }) {
				bad = append(bad, fmt.Sprintf("decision %+v, want every action %s, decided by scope %q", d, e.Mode, e.Scope))
			}
		}
		if e.Owner != "" && (body.Account == nil || body.Account.Owner != e.Owner) {
			bad = append(bad, fmt.Sprintf("notified account %+v, want owner %s", body.Account, e.Owner))
		}
	}
	if len(e.Verification) > 0 && len(ex.Notifications) == 1 {
		var got string
		if d := ex.Notifications[0].Body.Decision; d != nil {
			got = d.Verification
		}
		for _, w := range e.Verification {
			if !strings.Contains(got, w) {
				bad = append(bad, fmt.Sprintf("verification %q does not say %s", got, w))
			}
		}
	}
	return bad
}
