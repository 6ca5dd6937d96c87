package deployment

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Every environment variable a guardbots Lambda reads. Functions sets them from the deployment's
// settings; the step packages read them (with the readers below) and fall back to the defaults.

// Every function that acts or decides.
const (
	// EnvDryRun makes every bot a dry run: the deployment-wide switch for a first rollout (bots and
	// request_approval).
	EnvDryRun = "GUARDBOTS_DRY_RUN"
)

// The mapping decision (match and verify).
const (
	// EnvMappingParameter names the SSM parameter holding the mapping.
	EnvMappingParameter = "GUARDBOTS_MAPPING_PARAMETER"
	// EnvMappingTTL is how long a fetched mapping is reused, as a Go duration ("60s", "5m"; "0s" reads
	// every time).
	EnvMappingTTL = "GUARDBOTS_MAPPING_TTL"
	// EnvAllowSamples lets GuardDuty's sample findings through (mapping.MatchOptions.AllowSamples).
	EnvAllowSamples = "GUARDBOTS_ALLOW_SAMPLE_FINDINGS"
	// EnvProtectedAccounts is the comma-separated list of accounts no bot may change, set per
	// deployment; the mapping's defaults.protectedAccounts adds to it without a redeploy.
	EnvProtectedAccounts = "GUARDBOTS_PROTECTED_ACCOUNTS"
	// EnvEnabledBots is the comma-separated list of the bots the deployment runs (Settings.EnabledBots;
	// empty: none). Match and verify refuse a mapping that names any other bot, naming it and
	// ContextEnabledBots: there is no Lambda and no role to run it, and enabling it needs a deploy.
	// Required: a step that cannot tell which bots exist does not decide.
	EnvEnabledBots = "GUARDBOTS_ENABLED_BOTS"
)

// ContextEnabledBots is the CDK context key that names the bots a deployment enables (infra/README.md),
// which the refusal of a mapping naming another bot points to.
const ContextEnabledBots = "enabledBots"

// The organization (match and verify): rules that know an account's OU path and tags, protected OUs,
// and the account's name, OU path and owner on every notification.
const (
	// EnvOrgLookups switches the deciding steps' AWS Organizations reads (DescribeAccount, ListParents,
	// ListTagsForResource, from the security account, as the management account's resource policy
	// allows). Default true. Off, a rule or protected OU that needs the organization stops the decision
	// with an error, and notifications carry the account id alone.
	EnvOrgLookups = "GUARDBOTS_ORGANIZATION_LOOKUPS"
	// EnvOrgTTL is how long a looked-up account is reused (Go duration; default DefaultOrgTTL).
	EnvOrgTTL = "GUARDBOTS_ORGANIZATION_TTL"
	// EnvProtectedOUs is the comma-separated list of OU (or root) ids whose accounts, at any depth, no bot
	// may change; the mapping's defaults.protectedOUs adds to it without a redeploy.
	EnvProtectedOUs = "GUARDBOTS_PROTECTED_OUS"
	// EnvOwnerTag is the account tag (in AWS Organizations) whose value names the team that owns the
	// account: the notification's owner and its "owner" message attribute (default DefaultOwnerTag).
	EnvOwnerTag = "GUARDBOTS_OWNER_TAG"
)

// The member-role health check (shared/health).
const (
	// EnvHealthAccounts is a comma-separated list of accounts to probe instead of every active account
	// of the organization (organizations:ListAccounts).
	EnvHealthAccounts = "GUARDBOTS_HEALTH_ACCOUNTS"
	// EnvHealthStackSet names the member StackSet, for the report's hint on a denied role.
	EnvHealthStackSet = "GUARDBOTS_HEALTH_STACKSET"
	// EnvHealthNamespace is the CloudWatch namespace of the probe metrics (default HealthNamespace).
	EnvHealthNamespace = "GUARDBOTS_HEALTH_NAMESPACE"
	// EnvHealthManagementAccount is the organization's management account (context managementAccount);
	// unset, the check reads it with organizations:DescribeOrganization.
	EnvHealthManagementAccount = "GUARDBOTS_HEALTH_MANAGEMENT_ACCOUNT"
	// EnvHealthManagementBots is the comma-separated list of the bots with a member role in the
	// management account (context managementAccountMember, managementAccountIamBots); the others are not
	// probed there. Unset: none.
	EnvHealthManagementBots = "GUARDBOTS_HEALTH_MANAGEMENT_BOTS"
)

// The verify step.
const (
	// EnvVerifyFindings switches the verify step's GuardDuty check (default true).
	EnvVerifyFindings = "GUARDBOTS_VERIFY_FINDINGS"
	// EnvMaxFindingAge is how old GuardDuty's copy of a finding (its updatedAt) may be for the verify
	// step to let a bot act on it (Go duration; default DefaultMaxFindingAge). Older is skipped "stale",
	// so a finding replayed after the duplicate-suppression window (EnvDedupWindow, which must not be
	// shorter) cannot act twice.
	EnvMaxFindingAge = "GUARDBOTS_MAX_FINDING_AGE"
)

// The signed plan (shared/plan): verify signs every action of a remediate decision with an asymmetric
// KMS key; every bot, and notify when it closes the loop, verifies the signature with the key's public
// half and asks Step Functions whether the execution it names is running on the guardbots state machine.
const (
	// EnvSigningKey is the KMS key (id, ARN or alias) verify signs with (kms:Sign) and the bots and notify
	// verify with (kms:GetPublicKey). Required by verify and every bot: without it nothing can vouch for
	// a plan, so nothing acts.
	EnvSigningKey = "GUARDBOTS_SIGNING_KEY"
	// EnvStateMachineArn is the guardbots state machine's ARN: a plan is honoured only while the execution
	// it was signed for runs on it (DescribeExecution). Required by every bot.
	EnvStateMachineArn = "GUARDBOTS_STATE_MACHINE_ARN"
	// EnvProbeKey is the member-role health check's probe key (shared/plan probe.go): the health check
	// signs probes with it (kms:Sign, its role only), every bot checks them with its public half.
	EnvProbeKey = "GUARDBOTS_PROBE_KEY"
	// EnvHealthStateMachineArn is the member-health state machine: a probe is run only while its
	// execution runs there.
	EnvHealthStateMachineArn = "GUARDBOTS_HEALTH_STATE_MACHINE_ARN"
)

// The notify and request_approval steps.
const (
	// EnvTopicArn is the SNS topic notify publishes to.
	EnvTopicArn = "GUARDBOTS_TOPIC_ARN"
	// EnvCloseFindings makes notify record a remediation on the finding: CloseOff (default),
	// CloseFeedback or CloseArchive.
	EnvCloseFindings = "GUARDBOTS_CLOSE_FINDINGS"
	// EnvMailTopicArn is the mail topic: the same messages as plain text for email subscriptions
	// (optional: unset, nothing is mailed as text).
	EnvMailTopicArn = "GUARDBOTS_MAIL_TOPIC_ARN"
	// EnvChatTopicArn is the chat topic: the same messages as custom notifications of Amazon Q Developer
	// in chat applications (optional: unset, nothing is sent in the chat form).
	EnvChatTopicArn = "GUARDBOTS_CHAT_TOPIC_ARN"
	// EnvEventBus is the EventBridge bus notify puts each outcome's event on (unset: no event).
	EnvEventBus = "GUARDBOTS_EVENT_BUS"
	// EnvApprovalTopicArn is where approval requests go (default: EnvTopicArn).
	EnvApprovalTopicArn = "GUARDBOTS_APPROVAL_TOPIC_ARN"
	// EnvApproverRoleArn is the role allowed to send the task result; the message names it.
	EnvApproverRoleArn = "GUARDBOTS_APPROVER_ROLE_ARN"
)

// Close modes (EnvCloseFindings): what notify records on the finding itself (notifystep.Closer).
const (
	CloseOff      = "false"   // record nothing on the finding (default)
	CloseFeedback = "true"    // GuardDuty feedback USEFUL; Security Hub workflow RESOLVED / NOTIFIED
	CloseArchive  = "archive" // the same, and archive the GuardDuty finding
)

// The bots: their roles and their safety rails.
const (
	// EnvRolePrefix names the member roles a bot assumes, "<prefix>-<bot>" (default DefaultRolePrefix).
	EnvRolePrefix = "GUARDBOTS_MEMBER_ROLE_PREFIX"
	// EnvExternalID is sent with every AssumeRole into a member account.
	EnvExternalID = "GUARDBOTS_EXTERNAL_ID"
	// EnvAccountID is the orchestrator's own account, so a bot never calls STS to learn it.
	EnvAccountID = "GUARDBOTS_ACCOUNT_ID"
	// EnvStateTable names the state table (claims, counters, undo records).
	EnvStateTable = "GUARDBOTS_STATE_TABLE"
	// EnvAuditTable names the audit table; EnvAuditRetention is how long its records live: days
	// ("365d") or a Go duration (default 365 days).
	EnvAuditTable     = "GUARDBOTS_AUDIT_TABLE"
	EnvAuditRetention = "GUARDBOTS_AUDIT_RETENTION"
	// EnvDedupWindow is how long an action done for (finding, bot, resource) suppresses the same action
	// of another execution (Go duration; default DefaultDedupWindow).
	EnvDedupWindow = "GUARDBOTS_DEDUP_WINDOW"
	// EnvDedupLease is how long an in-progress claim blocks others before it counts as abandoned (a
	// crashed Lambda); longer than the bot Lambda's timeout. Default DefaultDedupLease.
	EnvDedupLease = "GUARDBOTS_DEDUP_LEASE"
	// EnvBlastPerAccount and EnvBlastGlobal cap disruptive and destructive actions per account and over all
	// accounts in any hour, sliding (defaults DefaultBlastPerAcct and DefaultBlastGlobal, at most
	// MaxBlastRadius).
	EnvBlastPerAccount = "GUARDBOTS_BLAST_RADIUS_PER_ACCOUNT"
	EnvBlastGlobal     = "GUARDBOTS_BLAST_RADIUS_GLOBAL"
	// EnvTrustedNetworks lists, comma-separated, the CIDRs iam_deny_source_ip never denies (the
	// deployment's trusted networks: the organization's own egress, a partner's range).
	EnvTrustedNetworks = "GUARDBOTS_TRUSTED_NETWORKS"
	// EnvProtectedRoles lists, comma-separated, the roles no bot changes (Settings.ProtectedRoles, the
	// patterns of bots.ProtectedRoles); unset, bots.ProtectedRoleDefaults. The IAM-writing bots refuse
	// them before they write, as the fence denies them in IAM.
	EnvProtectedRoles = "GUARDBOTS_PROTECTED_ROLES"
)

// EnvGoMemLimit is the Go runtime's soft memory limit, set on every function (GoMemLimit).
const EnvGoMemLimit = "GOMEMLIMIT"

// What a function uses when its variable is unset, and what DefaultSettings deploys.
const (
	DefaultMappingParameter = "/guardbots/mapping"
	DefaultMappingTTL       = 60 * time.Second
	// DefaultMaxFindingAge: GuardDuty sends a new finding within about 5 minutes of its updatedAt. An
	// update (more occurrences) goes out at the detector's publishing frequency, 6 hours by default, and
	// may then be close to 6 hours old: the first delivery is the one that acts, later ones are
	// suppressed as duplicates.
	DefaultMaxFindingAge = 6 * time.Hour
	// DefaultRolePrefix names member roles "<prefix>-<bot>".
	DefaultRolePrefix = "guardbots"
	// DefaultAuditRetention is how long audit records are kept when EnvAuditRetention is unset.
	DefaultAuditRetention = 365 * 24 * time.Hour
	DefaultDedupWindow    = 24 * time.Hour
	DefaultDedupLease     = 15 * time.Minute
	DefaultBlastPerAcct   = 10
	DefaultBlastGlobal    = 50
	// MaxBlastRadius bounds both limits: the sliding window keeps one attribute per allowed action in one
	// state-table item, which every counted action rewrites: its size grows with the actions of the last
	// hour (about 15 bytes each), and DynamoDB bills a write unit per KB of it.
	MaxBlastRadius = 10_000
)

// BlastRadiusWindow is the span the blast-radius limits count over: any hour, sliding, not the clock's.
const BlastRadiusWindow = time.Hour

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

// Log events the CDK app's metric filters match ({ $.event = "…" }), written by the bot runner (and
// notify's close-the-loop).
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

// EnabledBotsFromEnv reads EnvEnabledBots: the bots the deployment runs. Unset is an error (the
// deployment always sets it, empty when it enables none), as is a name that is not a bot name.
func EnabledBotsFromEnv() ([]string, error) {
	v, ok := os.LookupEnv(EnvEnabledBots)
	if !ok {
		return nil, fmt.Errorf("%s is not set: the deployment names the bots it runs there (shared/deployment), and without it no mapping can be checked against them", EnvEnabledBots)
	}
	out := []string{}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !botNameRE.MatchString(name) {
			return nil, fmt.Errorf("%s=%q: %q is not a bot name", EnvEnabledBots, v, name)
		}
		out = append(out, name)
	}
	return out, nil
}

var botNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)
