package deployment

import (
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultOrgTTL: an account moved to another OU, or retagged, is decided by its new place at most
	// this long after the move (org.DefaultTTL).
	DefaultOrgTTL = 15 * time.Minute
	// DefaultOwnerTag is the account tag read as its owner.
	DefaultOwnerTag = "owner"
)

// Organization is what a deployment chooses about the organization: the CDK app reads it from context
// (protectedOUs, ownerTag, organizationLookups, organizationTtl).
type Organization struct {
	// Lookups switches the deciding steps' AWS Organizations reads (EnvOrgLookups).
	Lookups bool
	// TTL is how long a looked-up account is reused (EnvOrgTTL).
	TTL time.Duration
	// ProtectedOUs are OU or root ids whose accounts no bot may change (EnvProtectedOUs).
	ProtectedOUs []string
	// OwnerTag is the account tag naming the team that owns the account (EnvOwnerTag).
	OwnerTag string
}

// DefaultOrganization: lookups on, DefaultOrgTTL, no protected OUs, DefaultOwnerTag.
func DefaultOrganization() Organization {
	return Organization{Lookups: true, TTL: DefaultOrgTTL, OwnerTag: DefaultOwnerTag}
}

// env is what match and verify read about the organization.
func (o Organization) env() map[string]string {
	env := map[string]string{
		EnvOrgLookups: strconv.FormatBool(o.Lookups),
		EnvOrgTTL:     o.TTL.String(),
		EnvOwnerTag:   o.OwnerTag,
	}
	// Unset rather than empty when none, as protected accounts.
	if len(o.ProtectedOUs) > 0 {
		env[EnvProtectedOUs] = strings.Join(o.ProtectedOUs, ",")
	}
	return env
}

// The member-role health check.
const (
	// HealthStateMachineName is the member-health state machine's name (its ARN is known before it
	// exists, so the bots' environment can name it).
	HealthStateMachineName = "guardbots-member-health"
	// HealthFunction is the health check's Lambda (functions/member_health).
	HealthFunction = "member_health"
	// HealthNamespace is the CloudWatch namespace of the probe metrics: MemberRoleProbes by State.
	HealthNamespace = "guardbots"
	// HealthMetric is the probe metric's name; its State dimension is ok, denied, throttled or error.
	HealthMetric = "MemberRoleProbes"
	// DefaultHealthSchedule runs the check daily.
	DefaultHealthSchedule = "rate(1 day)"
	// HealthTimeout is the health Lambda's timeout: it waits for every bot's probe.
	HealthTimeout = 14 * time.Minute
)

// HealthEnv is what the member-health Lambda reads besides the resources: its probe key and topic, the
// role prefix and StackSet named in its report, and the accounts to probe when not the organization's.
type HealthEnv struct {
	StackSet string
	Accounts []string
	// ManagementAccount is the organization's management account when the deployment names it, and
	// ManagementBots the bots with a member role there (the others are not probed there).
	ManagementAccount string
	ManagementBots    []string
}

// Health is the member-role health check's function (not a workflow step: the member-health state
// machine runs it, and the remediation workflow never does).
func Health(s Settings, r Resources, h HealthEnv) Function {
	env := map[string]string{
		EnvProbeKey:        r.ProbeKey,
		EnvTopicArn:        r.TopicArn,
		EnvRolePrefix:      s.RolePrefix,
		EnvHealthNamespace: HealthNamespace,
	}
	if h.StackSet != "" {
		env[EnvHealthStackSet] = h.StackSet
	}
	if len(h.Accounts) > 0 {
		env[EnvHealthAccounts] = strings.Join(h.Accounts, ",")
	}
	if h.ManagementAccount != "" {
		env[EnvHealthManagementAccount] = h.ManagementAccount
	}
	if len(h.ManagementBots) > 0 {
		env[EnvHealthManagementBots] = strings.Join(h.ManagementBots, ",")
	}
	f := s.function(HealthFunction, false, "guardbots member-role health check", HealthTimeout, env)
	return f
}
