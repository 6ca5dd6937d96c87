// Package mapping is the finding-type → actions mapping kept in SSM Parameter Store: the CloudBots
// GD_ACTIONS document verbatim and a richer form, validated against the bot registry, and the match
// that turns a normalized finding into a Decision.
//
// The two forms (README.md is the reference a user edits by):
//
//	{"UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": "AUTO: ec2_stop_instance | NOTIFY"}
//
//	{"version": 1,
//	 "defaults": {"minSeverity": 4, "onError": "continue", "mode": "AUTO"},
//	 "rules": [{"match": "UnauthorizedAccess:EC2/*" | [patterns…], "minSeverity": 7,
//	            "mode": "AUTO" | "NOTIFY" | "DRYRUN" | "APPROVE", "approvalTimeoutSeconds": 3600, "note": "…",
//	            "actions": [{"bot": "ec2_stop_instance", "params": {…}, "onError": "stop"}]}]}
//
// CloudBots keys are exact types. Rich patterns use '*' for any run of characters. One rule decides a
// finding: exact beats wildcard, then more literal characters, then a longer literal prefix, then
// document order. Parse compiles patterns so Match does a map lookup and a short scan.
package mapping

import (
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// Outcome is what the workflow does with a finding.
type Outcome string

const (
	// Remediate: run Actions in order.
	Remediate Outcome = "remediate"
	// NotifyOnly: the mapping says to tell people but not act (a non-AUTO CloudBots value, NOTIFY mode).
	NotifyOnly Outcome = "notify"
	// Skip: nothing to do (no entry, below the severity floor, sample or archived finding); still notified.
	Skip Outcome = "skip"
	// ExpireDenies is no finding's: the decision on the schedule's request for the clean-up of expired IAM
	// denies (shared/steps, ScheduleRequest), which verify plans from the state table.
	ExpireDenies Outcome = "expire-denies"
)

// OnError says what the workflow does with the remaining actions when one fails.
type OnError string

const (
	Continue OnError = "continue"
	Stop     OnError = "stop"
)

// Decision is match's output.
type Decision struct {
	Outcome Outcome `json:"decision"`
	Reason  string  `json:"reason"`
	// Key is the mapping entry that matched ("" when none did).
	Key     string   `json:"mappingKey"`
	Actions []Action `json:"actions"`
	// Rule is where the deciding rule is in the document ("rules[2]", or the CloudBots key); Scope the
	// scope of it that set the mode ("rules[2].scopes[0]"), "" when the rule's own mode applied.
	Rule  string `json:"rule,omitempty"`
	Scope string `json:"scope,omitempty"`
	// Explain says how the organization shaped the decision: each rule passed over because its where did
	// not hold, each scope tried, a protected OU; empty when no rule had a where or scopes.
	Explain []string `json:"explain,omitempty"`
	// Account is the finding's account as the organization describes it (name, OU path, owner), for the
	// notification and its routing: set by match and verify when organization lookups are on. It is
	// what the lookup said, not part of what was decided or signed.
	Account *org.Summary `json:"account,omitempty"`
	// Verification says whether GuardDuty confirmed the finding before any action ran, and where the
	// input differed from GuardDuty's copy (the verify step sets it on a remediate decision).
	Verification string `json:"verification,omitempty"`
	// Verified: the finding beside this decision is GuardDuty's own copy, read back by the verify step,
	// and the decision was made again on it. Set only by the verify step; match never sets it (its
	// decision is on the input), so nothing upstream of verify can.
	Verified bool `json:"verified,omitempty"`
	// Members are an attack sequence's members and what the decision plans for each (sequence.go).
	Members []MemberPlan `json:"members,omitempty"`
}

// Action is one bot to run, with validated parameters in their JSON form.
type Action struct {
	Bot     string         `json:"bot"`
	Params  map[string]any `json:"params"`
	OnError OnError        `json:"onError"`
	// Mode is AUTO (act), DRYRUN (plan only, the bot reports what it would do) or APPROVE (act once a
	// person approves; the state machine waits for the approval before the bot's Task).
	Mode string `json:"mode"`
	// ApprovalTimeoutSeconds is how long an APPROVE action waits for a decision (the Task's
	// TimeoutSecondsPath); set only in APPROVE mode.
	ApprovalTimeoutSeconds int `json:"approvalTimeoutSeconds,omitempty"`
	// Approval is what the approver sent (send-task-success output), added by the state machine after
	// approval so the bot's input and the execution history carry it. Informational: the authenticated
	// identity of the sender is in CloudTrail (SendTaskSuccess).
	Approval *Approval `json:"approval,omitempty"`
	// Held is the reason the blast-radius limit held this action (the bot's own held result), set by
	// the state machine when it turns the held action into an approval. Never set by Match, so neither
	// the mapping nor the event can carry it. With an Approval it lets the action past the limit.
	Held string `json:"held,omitempty"`
	// Signature is the verify step's signature of this action in this execution (shared/plan). Never set
	// by Match, nor by the mapping: only verify signs, with a KMS key only it may use, and a bot acts only
	// on an action whose signature its key's public half confirms. Held and Approval stay outside it (the
	// state machine adds them after verify); the execution history vouches for an approval instead.
	Signature *Signature `json:"signature,omitempty"`
	// Member is the attack-sequence member this action acts on (one (action, member) pair); nil for
	// every other finding. Set only by Decide, and signed with the action.
	Member *finding.Member `json:"member,omitempty"`
}

// Signature is an action's signature: the version of the canonical encoding that was signed, when, and
// the ECDSA P-256 signature (ASN.1 DER, base64) of its SHA-256 digest.
type Signature struct {
	Version  int    `json:"v"`
	SignedAt string `json:"signedAt"`
	Value    string `json:"sig"`
}

// Approval is the task output an approver sends: {"approved": true, "approver": "alice", "comment": "…"}.
type Approval struct {
	Approved bool   `json:"approved"`
	Approver string `json:"approver,omitempty"`
	Comment  string `json:"comment,omitempty"`
}
