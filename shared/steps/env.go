package steps

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/guardbots/guardbots/shared/mapping"
)

// The Lambdas' environment, their defaults and the log events the CDK app's metric filters match: the
// contract between infra/ (which sets and watches them) and the step packages (which read and write them).

// Environment variables the Lambdas read (the CDK app sets them; the local harness too).
const (
	// EnvDryRun makes every bot a dry run: the deployment-wide switch for a first rollout.
	EnvDryRun = "GUARDBOTS_DRY_RUN"
	// EnvTopicArn is the SNS topic notify publishes to.
	EnvTopicArn = "GUARDBOTS_TOPIC_ARN"
	// EnvCloseFindings makes notify record a remediation on the finding: false (default), true
	// (GuardDuty feedback USEFUL, Security Hub workflow RESOLVED/NOTIFIED) or archive (and archive the
	// GuardDuty finding).
	EnvCloseFindings = "GUARDBOTS_CLOSE_FINDINGS"
)

// EnvVerifyFindings switches the verify step's GuardDuty check (default true).
const EnvVerifyFindings = "GUARDBOTS_VERIFY_FINDINGS"

// EnvMaxFindingAge is how old GuardDuty's copy of a finding (its updatedAt) may be for the verify step to
// let a bot act on it (Go duration; default DefaultMaxFindingAge). Older is skipped "stale", so a finding
// replayed after the duplicate-suppression window (EnvDedupWindow, which must not be shorter) cannot act
// twice. The verify step also reads the mapping variables (mapping.EnvParameter, mapping.EnvTTL,
// mapping.EnvAllowSamples, mapping.EnvProtectedAccounts) to decide again on GuardDuty's copy.
const EnvMaxFindingAge = "GUARDBOTS_MAX_FINDING_AGE"

// DefaultMaxFindingAge: GuardDuty sends a new finding within about 5 minutes of its updatedAt. An update
// (more occurrences) goes out at the detector's publishing frequency, 6 hours by default, and may then be
// close to 6 hours old: the first delivery is the one that acts, later ones are suppressed as duplicates.
const DefaultMaxFindingAge = 6 * time.Hour

// The signed plan (shared/plan): verify signs every action of a remediate decision with an asymmetric KMS
// key; every bot, and notify when it closes the loop, verifies the signature with the key's public half
// and asks Step Functions whether the execution it names is running on the guardbots state machine.
const (
	// EnvSigningKey is the KMS key (id, ARN or alias) verify signs with (kms:Sign) and the bots and notify
	// verify with (kms:GetPublicKey). Required by verify and every bot: without it nothing can vouch for
	// a plan, so nothing acts.
	EnvSigningKey = "GUARDBOTS_SIGNING_KEY"
	// EnvStateMachineArn is the guardbots state machine's ARN: a plan is honoured only while the execution
	// it was signed for runs on it (DescribeExecution). Required by every bot.
	EnvStateMachineArn = "GUARDBOTS_STATE_MACHINE_ARN"
)

// ExecutionTimeout bounds a whole execution (the state machine's TimeoutSeconds): a week leaves room for
// several APPROVE actions at the longest approval timeout (one day each). A plan signed longer ago than
// this belongs to an execution that cannot still be running, so a bot refuses it.
const ExecutionTimeout = 7 * 24 * time.Hour

// Names of the workflow's states that the execution history is read by (shared/plan): the Map over the
// actions and the approval Task inside it. The statemachine package names its states with these.
const (
	StateRemediate       = "Remediate"
	StateWaitForApproval = "Wait for approval"
)

// Environment of the request_approval Lambda.
const (
	// EnvApproverRoleArn is the role allowed to send the task result; the message names it.
	EnvApproverRoleArn = "GUARDBOTS_APPROVER_ROLE_ARN"
	// EnvApprovalTopicArn is where approval requests go (default: GUARDBOTS_TOPIC_ARN).
	EnvApprovalTopicArn = "GUARDBOTS_APPROVAL_TOPIC_ARN"
)

// Environment variables of the safety rails in the bot Lambdas.
const (
	// EnvDedupWindow is how long an action done for (finding, bot, resource) suppresses the same action
	// of another execution (Go duration; default 24h).
	EnvDedupWindow = "GUARDBOTS_DEDUP_WINDOW"
	// EnvDedupLease is how long an in-progress claim blocks others before it counts as abandoned (a
	// crashed Lambda); longer than the bot Lambda's timeout. Default 15m.
	EnvDedupLease = "GUARDBOTS_DEDUP_LEASE"
	// EnvBlastPerAccount and EnvBlastGlobal cap disruptive and destructive actions per account and over all
	// accounts in any hour, sliding (defaults 10 and 50, at most MaxBlastRadius).
	EnvBlastPerAccount = "GUARDBOTS_BLAST_RADIUS_PER_ACCOUNT"
	EnvBlastGlobal     = "GUARDBOTS_BLAST_RADIUS_GLOBAL"
)

// Defaults of the rails.
const (
	DefaultDedupWindow  = 24 * time.Hour
	DefaultDedupLease   = 15 * time.Minute
	DefaultBlastPerAcct = 10
	DefaultBlastGlobal  = 50
	// MaxBlastRadius bounds both limits: the sliding window keeps one attribute per allowed action in one
	// state-table item, which every counted action rewrites: its size grows with the actions of the last
	// hour (about 15 bytes each), and DynamoDB bills a write unit per KB of it.
	MaxBlastRadius = 10_000
)

// BlastRadiusWindow is the span the blast-radius limits count over: any hour, sliding, not the clock's.
const BlastRadiusWindow = time.Hour

// Log events the CDK app's metric filters match ({ $.event = "…" }).
const (
	// EventBlastRadiusHeld: an action was held by the blast-radius limit (error level): alarm on it.
	EventBlastRadiusHeld = "guardbots.blast_radius_held"
	// EventAuditFailed: an action's audit record could not be written (error level): alarm on it.
	EventAuditFailed = "guardbots.audit_write_failed"
	// EventAudit is every action's audit record, also in the log (the table is the queryable copy).
	EventAudit = "guardbots.audit"
	// EventPlanRejected: a bot (or notify's close-the-loop) refused its input because the workflow did not
	// vouch for it — no valid signature, an execution that is not running, an approval the history does
	// not show (error level): a direct invoke of a guardbots Lambda, or a bug; alarm on it.
	EventPlanRejected = "guardbots.plan_rejected"
)

// EnvBoolDefault reads a true/false variable, def when unset.
func EnvBoolDefault(name string, def bool) (bool, error) {
	if os.Getenv(name) == "" {
		return def, nil
	}
	return EnvBool(name)
}

// EnvBool reads a true/false variable (unset is false); anything else is an error naming it.
func EnvBool(name string) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

// EnvDuration reads a positive Go duration, def when unset.
func EnvDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive Go duration such as 24h", name, v)
	}
	return d, nil
}

// EnvPositive reads a positive whole number, def when unset.
func EnvPositive(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", name, v)
	}
	return n, nil
}

// MatchOptionsFromEnv reads what match and verify both decide with besides the mapping itself:
// mapping.EnvAllowSamples and mapping.EnvProtectedAccounts. Both steps read the same variables, so
// GuardDuty's copy is decided with the rules the input was.
func MatchOptionsFromEnv() (mapping.MatchOptions, error) {
	allow, err := EnvBool(mapping.EnvAllowSamples)
	if err != nil {
		return mapping.MatchOptions{}, err
	}
	protected, err := mapping.ParseAccountList(os.Getenv(mapping.EnvProtectedAccounts))
	if err != nil {
		return mapping.MatchOptions{}, fmt.Errorf("%s: %w", mapping.EnvProtectedAccounts, err)
	}
	return mapping.MatchOptions{AllowSamples: allow, ProtectedAccounts: protected}, nil
}
