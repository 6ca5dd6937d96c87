// Package deployment is the one description of the Lambda functions a guardbots deployment runs —
// each one's name, package, timeout, memory and environment — computed from the deployment's settings,
// and the environment variables those functions read. It links no CDK and no AWS service client, so the
// CDK app (infra), the state machine's placeholders and the local stack all take the functions from
// here: the demo runs exactly what the CDK app deploys.
package deployment

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
)

// The workflow's step functions (their functions/<name> and build/<name> directories).
const (
	StepParse     = "parse"
	StepTransform = "transform"
	StepMatch     = "match"
	// StepVerify re-reads the finding from GuardDuty; StepRequestApproval asks a person to approve.
	StepVerify          = "verify"
	StepRequestApproval = "request_approval"
	StepNotify          = "notify"
)

// Steps are the step functions, in the order the workflow first runs them.
var Steps = []string{StepParse, StepTransform, StepMatch, StepVerify, StepRequestApproval, StepNotify}

// Lambda timeouts. The workflow's Task around each function waits longer (statemachine's
// StepTimeoutSeconds and BotTimeoutSeconds), so the Lambda's own timeout error, which Retry and Catch
// can classify, arrives before the state's States.Timeout.
const (
	StepTimeout = 50 * time.Second
	// BotTimeout: a bot reads, acts and may wait for the resource to settle.
	BotTimeout = 270 * time.Second
)

// ExecutionTimeout bounds a whole execution (the state machine's TimeoutSeconds): a week leaves room for
// several APPROVE actions at the longest approval timeout (one day each). A plan signed longer ago than
// this belongs to an execution that cannot still be running, so a bot refuses it.
const ExecutionTimeout = 7 * 24 * time.Hour

// Settings are what a deployment chooses about its functions. The CDK app reads them from context
// (infra/README.md documents each key and its default); the local stack starts from DefaultSettings.
type Settings struct {
	// RolePrefix names member roles "<prefix>-<bot>" (and, in the CDK app, the bot Lambdas' roles
	// "<prefix>-lambda-<bot>").
	RolePrefix string
	// ExternalID is sent with every AssumeRole into a member account; "" lets bots act only in the
	// orchestrator's own account.
	ExternalID string
	// DryRun makes every bot a dry run (EnvDryRun): the switch for a first rollout.
	DryRun bool
	// AllowSampleFindings lets GuardDuty's sample findings through match and verify.
	AllowSampleFindings bool
	// MappingParameter is the SSM parameter holding the mapping; MappingTTL how long match and verify
	// reuse a fetched mapping (EnvMappingTTL).
	MappingParameter string
	MappingTTL       time.Duration
	// VerifyFindings makes the verify step re-read every finding from GuardDuty before any bot runs
	// (EnvVerifyFindings). The CDK app allows it off only in a dry run: a forged event could then
	// drive a bot.
	VerifyFindings bool
	// ProtectedAccounts are never changed by any bot (EnvProtectedAccounts, in match and verify).
	ProtectedAccounts []string
	// CloseFindings is notify's close-the-loop mode: CloseOff, CloseFeedback or CloseArchive.
	CloseFindings string
	// DedupWindow and DedupLease are the duplicate-suppression window and in-progress lease of the bots.
	DedupWindow time.Duration
	DedupLease  time.Duration
	// MaxFindingAge is how old GuardDuty's copy of a finding (its updatedAt) may be for verify to let a
	// bot act on it (EnvMaxFindingAge); older ones are skipped as stale. At most DedupWindow, so a
	// replayed finding is either still deduplicated or already too old to act on.
	MaxFindingAge time.Duration
	// BlastRadiusPerAccount and BlastRadiusGlobal cap disruptive actions per account and overall per hour.
	BlastRadiusPerAccount int
	BlastRadiusGlobal     int
	// AuditRetention is how long audit records live: days ("365d") or a Go duration (EnvAuditRetention).
	AuditRetention string
	// LambdaMemoryMiB is every function's memory size (MemorySizeFor the measured peak by default).
	LambdaMemoryMiB int
	// TrustedNetworks are CIDRs the address deny (iam_deny_source_ip) never covers (EnvTrustedNetworks).
	TrustedNetworks []string
	// Organization is what match and verify know about the organization (org.go).
	Organization Organization
	// EnabledBots are the bots the deployment runs (by name): only they get a function, a Lambda role
	// and a member role, and match and verify refuse a mapping that names another (EnvEnabledBots).
	// DefaultSettings enables every registered bot (the local stack, the committed definition); the
	// CDK app enables the bots its mapping names unless context enabledBots lists them
	// (ContextEnabledBots). Nil or empty enables none: nothing runs that was not named.
	EnabledBots []string
	// ProtectedRoles are roles no IAM-writing bot may change, in any account, matched by name at any
	// path (ProtectedRoleResources); DefaultProtectedRoles when the deployment names none.
	ProtectedRoles []string
}

// DefaultSettings are the settings of a deployment that chooses nothing: the CDK app's defaults.
func DefaultSettings() Settings {
	return Settings{
		RolePrefix:            DefaultRolePrefix,
		DryRun:                true,
		MappingParameter:      DefaultMappingParameter,
		MappingTTL:            DefaultMappingTTL,
		VerifyFindings:        true,
		CloseFindings:         CloseOff,
		DedupWindow:           DefaultDedupWindow,
		DedupLease:            DefaultDedupLease,
		MaxFindingAge:         DefaultMaxFindingAge,
		BlastRadiusPerAccount: DefaultBlastPerAcct,
		BlastRadiusGlobal:     DefaultBlastGlobal,
		AuditRetention:        "365d",
		LambdaMemoryMiB:       MemorySizeFor(MeasuredPeakRSSMiB),
		Organization:          DefaultOrganization(),
		EnabledBots:           bots.Names(),
		ProtectedRoles:        slices.Clone(DefaultProtectedRoles),
	}
}

// Resources name what the deployment provisions that its functions are told about: CDK tokens in the
// CDK app, names and ARNs in the local stack.
type Resources struct {
	// AccountID is the orchestrator's own account.
	AccountID string
	// TopicArn is the notifications topic (notify, and request_approval's approval requests).
	TopicArn string
	// MailTopicArn is the mail topic: the same messages as plain text, for email subscriptions.
	MailTopicArn string
	// ChatTopicArn is the chat topic: the same messages for a Slack or Teams channel configuration.
	ChatTopicArn string
	// EventBus is the bus notify puts each outcome's event on ("default" in the CDK app).
	EventBus string
	// ApproverRoleArn is the only role meant to answer approval requests.
	ApproverRoleArn string
	// StateTable and AuditTable are the bots' state and audit tables.
	StateTable string
	AuditTable string
	// SigningKey is the plan-signing KMS key; StateMachineArn the guardbots state machine, whose running
	// executions alone a signed plan may act for (shared/plan).
	SigningKey      string
	StateMachineArn string
	// ProbeKey and HealthStateMachineArn are the member-role health check's probe key and state machine
	// (the bots check its probes); "" when the deployment has no health check.
	ProbeKey              string
	HealthStateMachineArn string
}

// Function is one Lambda function of the deployment.
type Function struct {
	// Name is the function's name in the workflow: its build/<Name>/bootstrap, and what the state
	// machine's placeholder for it stands for.
	Name string
	// Package is the main package built into its bootstrap, relative to the module root
	// ("./functions/parse", "./functions/bots/ec2_stop_instance").
	Package string
	// Bot is true for a bot's function, false for a step's.
	Bot         bool
	Description string
	Timeout     time.Duration
	MemoryMiB   int
	// Env is the function's whole environment, as the deployment sets it.
	Env map[string]string
}

// Bots are the bots the deployment runs, each in its own function: the registered bots s enables, by
// name. A name that is no registered bot is left out here; the CDK app refuses it (context enabledBots).
func Bots(s Settings) []bots.Bot {
	var out []bots.Bot
	for _, b := range bots.Registered() {
		if slices.Contains(s.EnabledBots, b.Name) {
			out = append(out, b)
		}
	}
	return out
}

// PrunesDenies reports whether the deployment has a bot whose denies expire (bots.Bot.Prunes): only
// then does it schedule the clean-up of expired IAM denies, and does verify read the state table.
func PrunesDenies(s Settings) bool {
	for _, b := range Bots(s) {
		if b.Prunes() {
			return true
		}
	}
	return false
}

// Functions are every function of a deployment with settings s and resources r: the steps, in
// workflow order, then one per bot, by name.
func Functions(s Settings, r Resources) []Function {
	var out []Function
	for _, name := range Steps {
		out = append(out, s.function(name, false, "guardbots workflow step: "+name, StepTimeout, s.stepEnv(name, r)))
	}
	for _, b := range Bots(s) {
		out = append(out, s.function(b.Name, true, "guardbots bot: "+b.Name, BotTimeout, s.botEnv(r)))
	}
	return out
}

func (s Settings) function(name string, bot bool, description string, timeout time.Duration, env map[string]string) Function {
	pkg := "./functions/" + name
	if bot {
		pkg = "./functions/bots/" + name
	}
	if env == nil {
		env = map[string]string{}
	}
	env[EnvGoMemLimit] = GoMemLimit(s.LambdaMemoryMiB)
	return Function{Name: name, Package: pkg, Bot: bot, Description: description, Timeout: timeout,
		MemoryMiB: s.LambdaMemoryMiB, Env: env}
}

// stepEnv is what each step reads. Match decides on the input to route skips and notifications
// cheaply; verify makes every remediate decision again on GuardDuty's copy of the finding, so both get
// the same mapping configuration.
func (s Settings) stepEnv(name string, r Resources) map[string]string {
	switch name {
	case StepMatch:
		return s.mappingEnv()
	case StepVerify:
		env := s.mappingEnv()
		env[EnvVerifyFindings] = strconv.FormatBool(s.VerifyFindings)
		env[EnvMaxFindingAge] = s.MaxFindingAge.String()
		env[EnvSigningKey] = r.SigningKey
		// The deny records it plans the scheduled clean-up of expired IAM denies from.
		if PrunesDenies(s) {
			env[EnvStateTable] = r.StateTable
		}
		return env
	case StepRequestApproval:
		return envVars{
			EnvApprovalTopicArn: r.TopicArn,
			EnvApproverRoleArn:  r.ApproverRoleArn,
			EnvDryRun:           strconv.FormatBool(s.DryRun),
		}.with(EnvMailTopicArn, r.MailTopicArn).with(EnvChatTopicArn, r.ChatTopicArn)
	case StepNotify:
		env := envVars{
			EnvTopicArn:      r.TopicArn,
			EnvAuditTable:    r.AuditTable,
			EnvCloseFindings: s.CloseFindings,
		}.with(EnvMailTopicArn, r.MailTopicArn).with(EnvChatTopicArn, r.ChatTopicArn).with(EnvEventBus, r.EventBus)
		if s.CloseFindings != CloseOff {
			// Closing the loop checks the plan's signature, as the bots do.
			maps.Copy(env, r.planEnv())
		}
		return env
	}
	return nil // parse and transform read nothing
}

// mappingEnv is what a step that makes the mapping decision reads: the parameter, how long to reuse
// it, whether sample findings pass, and the protected accounts.
func (s Settings) mappingEnv() map[string]string {
	env := map[string]string{
		EnvMappingParameter: s.MappingParameter,
		EnvMappingTTL:       s.MappingTTL.String(),
		EnvAllowSamples:     strconv.FormatBool(s.AllowSampleFindings),
		// Set even when empty: an empty list enables no bot, an unset one is a broken deployment.
		EnvEnabledBots: strings.Join(botNames(Bots(s)), ","),
	}
	// Unset rather than empty when none: both read as "no protected accounts".
	if len(s.ProtectedAccounts) > 0 {
		env[EnvProtectedAccounts] = strings.Join(s.ProtectedAccounts, ",")
	}
	maps.Copy(env, s.Organization.env())
	return env
}

// botEnv is what every bot function reads: its roles, the dry-run switch and its rails.
func (s Settings) botEnv(r Resources) map[string]string {
	env := map[string]string{
		EnvRolePrefix: s.RolePrefix,
		// Its own account, so a bot never calls STS to learn it.
		EnvAccountID: r.AccountID,
		EnvDryRun:    strconv.FormatBool(s.DryRun),
		// Required by every bot that changes something: the rails refuse to start without it.
		EnvStateTable:      r.StateTable,
		EnvAuditTable:      r.AuditTable,
		EnvAuditRetention:  s.AuditRetention,
		EnvDedupWindow:     s.DedupWindow.String(),
		EnvDedupLease:      s.DedupLease.String(),
		EnvBlastPerAccount: strconv.Itoa(s.BlastRadiusPerAccount),
		EnvBlastGlobal:     strconv.Itoa(s.BlastRadiusGlobal),
	}
	if s.ExternalID != "" {
		env[EnvExternalID] = s.ExternalID
	}
	if len(s.TrustedNetworks) > 0 {
		env[EnvTrustedNetworks] = strings.Join(s.TrustedNetworks, ",")
	}
	// Unset when the defaults: the bots' own check then uses the same list the fence was built from.
	if !slices.Equal(s.ProtectedRoles, DefaultProtectedRoles) {
		env[EnvProtectedRoles] = strings.Join(s.ProtectedRoles, ",")
	}
	maps.Copy(env, r.planEnv())
	if r.ProbeKey != "" && r.HealthStateMachineArn != "" {
		env[EnvProbeKey], env[EnvHealthStateMachineArn] = r.ProbeKey, r.HealthStateMachineArn
	}
	return env
}

func botNames(bs []bots.Bot) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

// planEnv is what a function that checks signed plans reads.
func (r Resources) planEnv() map[string]string {
	return map[string]string{EnvSigningKey: r.SigningKey, EnvStateMachineArn: r.StateMachineArn}
}

// ModuleRoot is the repository root, which each Function.Package is relative to: the directory holding
// go.mod, found upwards from the working directory (the CDK CLI runs the app at the root, go generate
// and go test in a package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run it inside the repository")
		}
		dir = parent
	}
}

// envVars is a function's environment.
type envVars map[string]string

// with sets an optional variable: left unset when the deployment has no value for it.
func (e envVars) with(name, value string) envVars {
	if value != "" {
		e[name] = value
	}
	return e
}
