package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/statetable"
)

// Config is the app's configuration, read from CDK context (cdk.json, `-c key=value`). Every field has a
// documented default (infra/README.md); FromContext fills them and Validate rejects what would deploy
// something broken.
type Config struct {
	// Settings are what the deployment chooses about its functions (shared/deployment): the role prefix
	// and external id, dry run, the mapping parameter and its TTL, verification, protected accounts,
	// closing the loop, the rails and the memory size. An ExternalID of "" also leaves the member
	// template's ExternalId parameter without a default (a deploy must then supply it).
	deployment.Settings
	// OrchestratorAccount is the account the orchestrator runs in (the member roles trust it); "" falls
	// back to CDK_DEFAULT_ACCOUNT, then to a member-template parameter without a default.
	OrchestratorAccount string
	// OrganizationID adds an aws:PrincipalOrgID condition to every member trust policy when set.
	OrganizationID string
	// SeverityFloor is the lowest GuardDuty severity the rule passes to the workflow.
	SeverityFloor float64
	// NotificationEmail subscribes an address to the topic when set.
	NotificationEmail string
	// HomeRegion is where the orchestrator runs and the only region the member StackSet deploys to.
	HomeRegion string
	// OtherRegions each get a forwarder stack; none gives one region-agnostic forwarder template.
	OtherRegions []string
	// SecurityHubRule adds the rule for GuardDuty findings imported into Security Hub.
	SecurityHubRule bool
	// MappingFile is the mapping deployed to SSM (in Settings.MappingParameter).
	MappingFile string
	// LogRetentionDays applies to every log group.
	LogRetentionDays int
	// OrganizationalUnits are the StackSet's deployment targets.
	OrganizationalUnits []string
	// StackSetCallAs is SELF (management account) or DELEGATED_ADMIN.
	StackSetCallAs string
	// StackSetFailureTolerance and StackSetMaxConcurrent are percentages of accounts per operation.
	StackSetFailureTolerance int
	StackSetMaxConcurrent    int

	// ApproverPrincipalArn may assume the approver role; "" trusts the orchestrator account's
	// principals that signed in with MFA (its IAM policies then decide who).
	ApproverPrincipalArn string

	// OrgConfig is the organization's part (organization.go).
	OrgConfig

	// Settings.EnabledBots nil means "not chosen": Build enables the bots the mapping names.

	// ManagementAccountMember synthesizes the guardbots-member stack, the member roles for the
	// organization's management account (which service-managed StackSets skip). Off by default: the
	// management account is never a member target unless a deployment says so.
	ManagementAccountMember bool
	// ManagementAccountIAMBots are the IAM-writing bots (deployment.WritesIAM) that also get a role in
	// the management account; every other IAM-writing bot is left out of it even when enabled.
	ManagementAccountIAMBots []string

	// Outputs are where outcomes go beyond the SNS topics (events.go).
	Outputs Outputs

	// Chat is the chat channels the chat topic goes to, with buttons (chat.go).
	Chat Chat
}

// Context keys. They are the documented interface of the app: keep infra/README.md in step.
const (
	ctxRolePrefix          = "rolePrefix"
	ctxExternalID          = "externalId"
	ctxOrchestratorAccount = "orchestratorAccount"
	ctxOrganizationID      = "organizationId"
	ctxSeverityFloor       = "severityFloor"
	ctxDryRun              = "dryRun"
	ctxAllowSamples        = "allowSampleFindings"
	ctxNotificationEmail   = "notificationEmail"
	ctxHomeRegion          = "homeRegion"
	ctxOtherRegions        = "otherRegions"
	ctxSecurityHubRule     = "securityHubRule"
	ctxMappingFile         = "mappingFile"
	ctxMappingParameter    = "mappingParameter"
	ctxMappingTTL          = "mappingTtl"
	ctxLogRetentionDays    = "logRetentionDays"
	ctxOrganizationalUnits = "organizationalUnits"
	ctxStackSetCallAs      = "stackSetCallAs"
	ctxStackSetTolerance   = "stackSetFailureTolerancePercentage"
	ctxStackSetConcurrent  = "stackSetMaxConcurrentPercentage"
	ctxVerifyFindings      = "verifyFindings"
	ctxApproverPrincipal   = "approverPrincipalArn"
	ctxProtectedAccounts   = "protectedAccounts"
	ctxCloseFindings       = "closeFindings"
	ctxDedupWindow         = "dedupWindow"
	ctxDedupLease          = "dedupLease"
	ctxMaxFindingAge       = "maxFindingAge"
	ctxBlastPerAccount     = "blastRadiusPerAccount"
	ctxBlastGlobal         = "blastRadiusGlobal"
	ctxAuditRetention      = "auditRetention"
	ctxLambdaMemory        = "lambdaMemoryMiB"
	ctxTrustedNetworks     = "trustedNetworks"
	// ctxEnabledBots is deployment.ContextEnabledBots (a test holds them equal), which match and verify name.
	ctxEnabledBots       = "enabledBots"
	ctxProtectedRoles    = "protectedRoles"
	ctxManagementMember  = "managementAccountMember"
	ctxManagementIAMBots = "managementAccountIamBots"
)

// DefaultConfig is the configuration with no context at all.
func DefaultConfig() Config {
	c := Config{
		Settings:                 deployment.DefaultSettings(),
		SeverityFloor:            mapping.DefaultSeverityFloor, // GuardDuty's Medium band starts at 4.0
		HomeRegion:               "us-east-1",
		MappingFile:              "", // the embedded shared/mapping/default.json
		LogRetentionDays:         365,
		StackSetCallAs:           "SELF",
		StackSetFailureTolerance: 10,
		StackSetMaxConcurrent:    25,
		OrgConfig:                OrgConfig{HealthSchedule: deployment.DefaultHealthSchedule},
		Outputs:                  DefaultOutputs(),
	}
	// Not chosen: the bots the mapping names (Build).
	c.EnabledBots = nil
	return c
}

// ContextReader is the part of a construct node FromContext needs (tests pass a map).
type ContextReader func(key string) any

// FromContext reads every key, falling back to DefaultConfig and, for the account and region, to the
// CLI's CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION.
func FromContext(get ContextReader) (Config, error) {
	c := DefaultConfig()
	if r := os.Getenv("CDK_DEFAULT_REGION"); r != "" {
		c.HomeRegion = r
	}
	c.OrchestratorAccount = os.Getenv("CDK_DEFAULT_ACCOUNT")
	var errs []string
	fail := func(key string, err error) { errs = append(errs, fmt.Sprintf("context %s: %v", key, err)) }

	str := func(key string, dst *string) {
		// "" in cdk.json means "the default", so the file can list every key.
		if v := get(key); v != nil && strings.TrimSpace(fmt.Sprint(v)) != "" {
			*dst = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	boolean := func(key string, dst *bool) {
		if v := get(key); v != nil {
			b, err := strconv.ParseBool(strings.TrimSpace(fmt.Sprint(v)))
			if err != nil {
				fail(key, fmt.Errorf("%v is not true or false", v))
				return
			}
			*dst = b
		}
	}
	number := func(key string, dst *float64) {
		if v := get(key); v != nil {
			f, err := strconv.ParseFloat(strings.TrimSpace(fmt.Sprint(v)), 64)
			if err != nil {
				fail(key, fmt.Errorf("%v is not a number", v))
				return
			}
			*dst = f
		}
	}
	integer := func(key string, dst *int) {
		var f float64 = float64(*dst)
		number(key, &f)
		if f != float64(int(f)) {
			fail(key, fmt.Errorf("%v is not a whole number", f))
		}
		*dst = int(f)
	}
	list := func(key string, dst *[]string) {
		v := get(key)
		switch v := v.(type) {
		case nil:
		case []any: // a JSON array in cdk.json
			*dst = nil
			for _, e := range v {
				if s := strings.TrimSpace(fmt.Sprint(e)); s != "" {
					*dst = append(*dst, s)
				}
			}
		default: // -c key=a,b on the command line
			*dst = nil
			s := strings.TrimSpace(fmt.Sprint(v))
			if strings.HasPrefix(s, "[") {
				if err := json.Unmarshal([]byte(s), dst); err != nil {
					fail(key, fmt.Errorf("%s is not a JSON list of strings", s))
				}
				return
			}
			for _, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); e != "" {
					*dst = append(*dst, e)
				}
			}
		}
	}

	str(ctxRolePrefix, &c.RolePrefix)
	str(ctxExternalID, &c.ExternalID)
	str(ctxOrchestratorAccount, &c.OrchestratorAccount)
	str(ctxOrganizationID, &c.OrganizationID)
	number(ctxSeverityFloor, &c.SeverityFloor)
	boolean(ctxDryRun, &c.DryRun)
	boolean(ctxAllowSamples, &c.AllowSampleFindings)
	str(ctxNotificationEmail, &c.NotificationEmail)
	str(ctxHomeRegion, &c.HomeRegion)
	list(ctxOtherRegions, &c.OtherRegions)
	boolean(ctxSecurityHubRule, &c.SecurityHubRule)
	str(ctxMappingFile, &c.MappingFile)
	str(ctxMappingParameter, &c.MappingParameter)
	duration := func(key string, dst *time.Duration) {
		if v := get(key); v != nil && strings.TrimSpace(fmt.Sprint(v)) != "" {
			d, err := time.ParseDuration(strings.TrimSpace(fmt.Sprint(v)))
			if err != nil {
				fail(key, fmt.Errorf("%v is not a Go duration such as 60s", v))
			} else {
				*dst = d
			}
		}
	}
	duration(ctxMappingTTL, &c.MappingTTL)
	integer(ctxLogRetentionDays, &c.LogRetentionDays)
	list(ctxOrganizationalUnits, &c.OrganizationalUnits)
	str(ctxStackSetCallAs, &c.StackSetCallAs)
	integer(ctxStackSetTolerance, &c.StackSetFailureTolerance)
	integer(ctxStackSetConcurrent, &c.StackSetMaxConcurrent)
	boolean(ctxVerifyFindings, &c.VerifyFindings)
	str(ctxApproverPrincipal, &c.ApproverPrincipalArn)
	list(ctxProtectedAccounts, &c.ProtectedAccounts)
	str(ctxCloseFindings, &c.CloseFindings)
	c.CloseFindings = strings.ToLower(c.CloseFindings)
	duration(ctxDedupWindow, &c.DedupWindow)
	duration(ctxDedupLease, &c.DedupLease)
	duration(ctxMaxFindingAge, &c.MaxFindingAge)
	integer(ctxBlastPerAccount, &c.BlastRadiusPerAccount)
	integer(ctxBlastGlobal, &c.BlastRadiusGlobal)
	str(ctxAuditRetention, &c.AuditRetention)
	integer(ctxLambdaMemory, &c.LambdaMemoryMiB)
	list(ctxTrustedNetworks, &c.TrustedNetworks)
	list(ctxEnabledBots, &c.EnabledBots)
	// The defaults stay protected: the list adds to them.
	var roles []string
	list(ctxProtectedRoles, &roles)
	for _, r := range roles {
		if !slices.Contains(c.ProtectedRoles, r) {
			c.ProtectedRoles = append(c.ProtectedRoles, r)
		}
	}
	boolean(ctxManagementMember, &c.ManagementAccountMember)
	list(ctxManagementIAMBots, &c.ManagementAccountIAMBots)

	readOrgContext(get, &c, fail)
	c.Outputs = readOutputs(get, c.Outputs)
	c.Chat = readChat(get, c.Chat)

	// Report every problem at once: one edit of cdk.json should fix them all.
	if err := c.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return c, nil
}

var (
	accountRE    = regexp.MustCompile(`^\d{12}$`)
	orgRE        = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	ouRE         = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	rolePrefixRE = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	paramNameRE  = regexp.MustCompile(`^/?[a-zA-Z0-9_.\-/]+$`)
	// An IAM user or role (paths allowed) or an account root, in any partition.
	principalArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)$`)
	// A role name, or path/name, in IAM's characters plus the * of a policy's resource pattern.
	protectedRoleRE = regexp.MustCompile(`^[\w+=,.@*-]+(/[\w+=,.@*-]+)*(/\*)?$`)
	// The prefix also starts every function name, which allows fewer characters than a role name.
	functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// Validate reports every setting that would synthesize a template that cannot deploy or would not work.
func (c Config) Validate() error {
	var errs []string
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("context %s: %s", key, fmt.Sprintf(format, a...)))
	}
	if !rolePrefixRE.MatchString(c.RolePrefix) || !functionNameRE.MatchString(c.RolePrefix) {
		bad(ctxRolePrefix, "%q: 1–32 characters of [A-Za-z0-9_-] (it starts every role and function name)", c.RolePrefix)
	}
	if c.ExternalID != "" && (len(c.ExternalID) < 2 || len(c.ExternalID) > 1224 || !externalIDRE.MatchString(c.ExternalID)) {
		bad(ctxExternalID, "2–1224 characters of [A-Za-z0-9+=,.@:/_-] (STS's rule)")
	}
	if c.OrchestratorAccount != "" && !accountRE.MatchString(c.OrchestratorAccount) {
		bad(ctxOrchestratorAccount, "%q is not a 12-digit account id", c.OrchestratorAccount)
	}
	if c.OrganizationID != "" && !orgRE.MatchString(c.OrganizationID) {
		bad(ctxOrganizationID, "%q is not an organization id (o-…)", c.OrganizationID)
	}
	if c.SeverityFloor < 0 || c.SeverityFloor > 10 {
		bad(ctxSeverityFloor, "%v: GuardDuty severities run from 0 to 10", c.SeverityFloor)
	}
	if !regionRE.MatchString(c.HomeRegion) {
		bad(ctxHomeRegion, "%q is not a region name", c.HomeRegion)
	}
	seen := map[string]bool{}
	for _, r := range c.OtherRegions {
		switch {
		case !regionRE.MatchString(r):
			bad(ctxOtherRegions, "%q is not a region name", r)
		case r == c.HomeRegion:
			// A forwarder in the home region would send the bus's events back to itself.
			bad(ctxOtherRegions, "%q is the home region", r)
		case seen[r]:
			bad(ctxOtherRegions, "%q is listed twice", r)
		}
		seen[r] = true
	}
	if c.NotificationEmail != "" && !strings.Contains(c.NotificationEmail, "@") {
		bad(ctxNotificationEmail, "%q is not an email address", c.NotificationEmail)
	}
	if len(c.MappingParameter) > 1011 || !paramNameRE.MatchString(c.MappingParameter) {
		bad(ctxMappingParameter, "%q is not an SSM parameter name", c.MappingParameter)
	}
	if c.MappingTTL < 0 {
		bad(ctxMappingTTL, "%v is negative", c.MappingTTL)
	}
	if _, ok := retentionByDays[c.LogRetentionDays]; !ok {
		bad(ctxLogRetentionDays, "%d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", c.LogRetentionDays)
	}
	for _, ou := range c.OrganizationalUnits {
		if !ouRE.MatchString(ou) && !regexp.MustCompile(`^r-[0-9a-z]{4,32}$`).MatchString(ou) {
			bad(ctxOrganizationalUnits, "%q is not an OU id (ou-…) or root id (r-…)", ou)
		}
	}
	if c.StackSetCallAs != "SELF" && c.StackSetCallAs != "DELEGATED_ADMIN" {
		bad(ctxStackSetCallAs, "%q: SELF or DELEGATED_ADMIN", c.StackSetCallAs)
	}
	if c.StackSetFailureTolerance < 0 || c.StackSetFailureTolerance > 100 {
		bad(ctxStackSetTolerance, "%d is not a percentage", c.StackSetFailureTolerance)
	}
	if c.StackSetMaxConcurrent < 1 || c.StackSetMaxConcurrent > 100 {
		bad(ctxStackSetConcurrent, "%d is not a percentage from 1 to 100", c.StackSetMaxConcurrent)
	}
	if c.ApproverPrincipalArn != "" && !principalArnRE.MatchString(c.ApproverPrincipalArn) {
		bad(ctxApproverPrincipal, "%q is not the ARN of an IAM role, user or account root", c.ApproverPrincipalArn)
	}
	for _, a := range c.ProtectedAccounts {
		if !accountRE.MatchString(a) {
			bad(ctxProtectedAccounts, "%q is not a 12-digit account id", a)
		}
	}
	for _, n := range c.TrustedNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			if _, err := netip.ParseAddr(n); err != nil {
				bad(ctxTrustedNetworks, "%q is not a CIDR (203.0.113.0/24) or an address", n)
			}
		}
	}
	switch c.CloseFindings {
	case deployment.CloseOff, deployment.CloseFeedback, deployment.CloseArchive:
	default:
		bad(ctxCloseFindings, "%q: false, true or archive", c.CloseFindings)
	}
	if c.DedupWindow <= 0 {
		bad(ctxDedupWindow, "%v: want a positive duration", c.DedupWindow)
	}
	// A lease shorter than a bot's run would let a second execution act while the first still runs.
	if c.DedupLease <= deployment.BotTimeout {
		bad(ctxDedupLease, "%v must exceed the bot Lambda timeout (%v)", c.DedupLease, deployment.BotTimeout)
	}
	// A finding older than the dedup window could be replayed after its claim expired and act again.
	if c.MaxFindingAge <= 0 || c.MaxFindingAge > c.DedupWindow {
		bad(ctxMaxFindingAge, "%v: want a positive duration of at most dedupWindow (%v)", c.MaxFindingAge, c.DedupWindow)
	}
	// Without verify, the event is the only evidence of a finding, and anyone who can put an event on
	// the bus or start an execution could drive a bot with a forged one: only a dry run may skip it.
	if !c.VerifyFindings && !c.DryRun {
		bad(ctxVerifyFindings, "false is allowed only with dryRun true (without verification a forged event could drive a bot)")
	}
	// The sliding window keeps a slot per allowed action in one state-table item.
	if c.BlastRadiusPerAccount < 1 || c.BlastRadiusPerAccount > deployment.MaxBlastRadius {
		bad(ctxBlastPerAccount, "%d: want 1 to %d", c.BlastRadiusPerAccount, deployment.MaxBlastRadius)
	}
	if c.BlastRadiusGlobal < 1 || c.BlastRadiusGlobal > deployment.MaxBlastRadius {
		bad(ctxBlastGlobal, "%d: want 1 to %d", c.BlastRadiusGlobal, deployment.MaxBlastRadius)
	}
	if _, err := statetable.ParseRetention(c.AuditRetention); err != nil {
		bad(ctxAuditRetention, "%q: want a positive number of days (365d) or a Go duration (8760h)", c.AuditRetention)
	}
	// A size under three times the measured peak risks an out-of-memory kill on a large finding.
	if floor := deployment.MemoryHeadroom * deployment.MeasuredPeakRSSMiB; c.LambdaMemoryMiB < max(deployment.LambdaMinMemoryMiB, floor) || c.LambdaMemoryMiB > deployment.LambdaMaxMemoryMiB {
		bad(ctxLambdaMemory, "%d: want %d–%d MB (at least three times the measured peak of %d MB, and Lambda's limits)",
			c.LambdaMemoryMiB, max(deployment.LambdaMinMemoryMiB, floor), deployment.LambdaMaxMemoryMiB, deployment.MeasuredPeakRSSMiB)
	}
	c.validateOrg(bad)
	for _, b := range c.EnabledBots {
		if _, ok := bots.Lookup(b); !ok {
			bad(ctxEnabledBots, "%q is not a bot (%s)", b, strings.Join(bots.Names(), ", "))
		}
	}
	for _, r := range c.ProtectedRoles {
		if len(r) > 512 || !protectedRoleRE.MatchString(r) {
			bad(ctxProtectedRoles, "%q: a role name or path/name (no leading /, no ARN), * allowed", r)
		}
	}
	for _, name := range c.ManagementAccountIAMBots {
		b, ok := bots.Lookup(name)
		switch {
		case !ok:
			bad(ctxManagementIAMBots, "%q is not a bot", name)
		case !deployment.WritesIAM(b):
			bad(ctxManagementIAMBots, "%s writes no IAM policy and changes no role: every enabled bot that does not is in the management account already", name)
		case !c.ManagementAccountMember:
			bad(ctxManagementIAMBots, "%s is named but %s is false: no member stack is made for the management account", name, ctxManagementMember)
		}
	}
	errs = append(errs, c.Outputs.validate()...)
	errs = append(errs, c.Chat.validate()...)
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// resolveBots fills EnabledBots with the bots the mapping m names when the deployment chose none, and
// checks that the management account's IAM-writing bots are enabled.
func (c *Config) resolveBots(m *mapping.Mapping) error {
	if c.EnabledBots == nil {
		c.EnabledBots = []string{}
		for _, b := range m.Bots() {
			c.EnabledBots = append(c.EnabledBots, b.Name)
		}
	}
	for _, name := range c.ManagementAccountIAMBots {
		if !slices.Contains(c.EnabledBots, name) {
			return fmt.Errorf("context %s: %s is not enabled (context %s: %s)", ctxManagementIAMBots, name, ctxEnabledBots, strings.Join(c.EnabledBots, ", "))
		}
	}
	return nil
}

// ManagementAccountBots are the bots that get a role in the management account's member stack: the
// enabled bots, less every IAM-writing one not named in ManagementAccountIAMBots.
func (c Config) ManagementAccountBots() []bots.Bot {
	var out []bots.Bot
	for _, b := range deployment.Bots(c.Settings) {
		if deployment.WritesIAM(b) && !slices.Contains(c.ManagementAccountIAMBots, b.Name) {
			continue
		}
		out = append(out, b)
	}
	return out
}

// MappingDocument is the mapping a deploy writes to SSM, validated against the bot registry (and the
// enabled bots, when the deployment names them), the parameter tier it needs, and the mapping parsed. An
// invalid or oversized mapping is an error naming each key and reason, so synth fails before anything
// deploys.
func (c Config) MappingDocument(root string) ([]byte, mapping.Tier, *mapping.Mapping, error) {
	doc, source := mapping.Default(), "shared/mapping/default.json (embedded)"
	if c.MappingFile != "" {
		path := c.MappingFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", nil, fmt.Errorf("context %s: %w", ctxMappingFile, err)
		}
		doc, source = b, c.MappingFile
	}
	// The Standard tier is free; Advanced (up to 8 KB) is charged per parameter, so only a mapping that
	// needs it gets it.
	tier := mapping.TierStandard
	if len(doc) > mapping.TierStandard.Limit() {
		tier = mapping.TierAdvanced
	}
	opts := []mapping.ParseOption{mapping.WithTier(tier)}
	if c.EnabledBots != nil {
		opts = append(opts, mapping.WithDeployedBots(c.EnabledBots))
	}
	m, err := mapping.Parse(doc, opts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("mapping %s is invalid: %w", source, err)
	}
	return doc, tier, m, nil
}
