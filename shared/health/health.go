// Package health is the member-role health check: for every bot that acts in member accounts, whether
// it can reach its member role in each account. It never assumes a member role itself (no principal
// gains trust in member roles for it): it signs a probe (shared/plan probe.go) per bot and invokes the
// bot's own Lambda with it, and the bot assumes its own role in each account and calls nothing else.
// It runs as the member-health state machine's one task (scheduled daily, or started by a person with
// `guardbots-local health`), publishes a metric per state and notifies when anything is not ok.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/org/orgapi"
	"github.com/guardbots/guardbots/shared/plan"
)

// Input is the health Lambda's payload, as the member-health state machine builds it: what the execution
// was started with, its own ARN, and the bot functions (written into the definition by the CDK app, not
// taken from the execution's input).
type Input struct {
	Input struct {
		// Accounts, when given, are probed instead of the organization's active accounts.
		Accounts []string `json:"accounts,omitempty"`
	} `json:"input"`
	Execution string `json:"execution"`
	// Functions maps each bot with a member role to its Lambda's ARN.
	Functions map[string]string `json:"functions"`
}

// Report is the check's output: the execution's result, the notification's body, the command's output.
type Report struct {
	Execution string `json:"execution"`
	// Accounts are the accounts probed; Skipped those of the organization left out (not ACTIVE).
	Accounts []string  `json:"accounts"`
	Skipped  []Skipped `json:"skipped,omitempty"`
	// Counts are the probes per state (every state, zeros included).
	Counts map[string]int `json:"counts"`
	// Problems are the probes that were not ok, each with what to inspect.
	Problems []Problem `json:"problems,omitempty"`
	// NotProbed are the bots left out of an account by design (the management account).
	NotProbed []NotProbed `json:"notProbed,omitempty"`
	// Bots are every bot's answers.
	Bots []plan.ProbeReport `json:"bots"`
	OK   bool               `json:"ok"`
	// Notified is the SNS message id when the check notified (something was not ok).
	Notified string `json:"notified,omitempty"`
}

// Skipped is an account of the organization the check did not probe.
type Skipped struct {
	Account string `json:"account"`
	State   string `json:"state"`
}

// Problem is one bot that cannot (or could not be shown to) reach its member role in one account.
type Problem struct {
	Bot     string `json:"bot"`
	Account string `json:"account"`
	State   string `json:"state"`
	Role    string `json:"role,omitempty"`
	Detail  string `json:"detail,omitempty"`
	// Inspect says where to look.
	Inspect string `json:"inspect"`
}

// Invoker is the Lambda call the check makes (the bots' functions, synchronously).
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Metrics is the CloudWatch call the check makes.
type Metrics interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Publisher is notify.Publisher.
type Publisher interface {
	Publish(ctx context.Context, m notify.Message) (string, error)
}

// Checker runs the check.
type Checker struct {
	// Organization lists the accounts (organizations:ListAccounts); nil requires Accounts or an input list.
	Organization orgapi.ListAPI
	// Accounts, when set, replace the organization's list (context memberHealthAccounts).
	Accounts []string
	Signer   plan.Signer
	Lambda   Invoker
	Metrics  Metrics
	// Namespace is the metrics' CloudWatch namespace.
	Namespace string
	Publisher Publisher
	// RolePrefix, StackSet and Region name what to inspect in a report.
	RolePrefix string
	StackSet   string
	Region     string
	// Management is the organization's management account, where only some bots have a member role.
	Management Management
}

// Management is the organization's management account. Service-managed StackSets skip it, and a
// deployment gives it member roles only with context managementAccountMember (and an IAM-writing bot one
// only when managementAccountIamBots names it): a bot without a role there is not probed there, and the
// report says so, instead of reporting a denied role every day for a role that is absent by design.
type Management struct {
	// Account is the management account (context managementAccount); "" looks it up with Lookup.
	Account string
	// Bots have a member role in the management account.
	Bots []string
	// Lookup reads the management account (organizations:DescribeOrganization, which any account of the
	// organization may call); nil when Account is set, or no organization is known (tests).
	Lookup DescribeOrganizationAPI
}

// DescribeOrganizationAPI is the Organizations call that names the management account.
type DescribeOrganizationAPI interface {
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, optFns ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
}

// NotProbed is a bot the check did not probe in an account, and why.
type NotProbed struct {
	Bot     string `json:"bot"`
	Account string `json:"account"`
	Reason  string `json:"reason"`
}

// notInManagement says why a bot is not probed in the management account.
const notInManagement = "the management account: this deployment gives the bot no member role there (context managementAccountMember, managementAccountIamBots)"

// managementAccount is Management.Account, else the organization's, else "" when the account is in no
// organization. Any other failure fails the run: probing the management account for every bot would
// raise the denied alarm for roles that are absent by design.
func (c *Checker) managementAccount(ctx context.Context) (string, error) {
	if c.Management.Account != "" || c.Management.Lookup == nil {
		return c.Management.Account, nil
	}
	out, err := c.Management.Lookup.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	switch {
	case errors.As(err, &notInUse):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("health: which account is the management account (organizations:DescribeOrganization): %w", err)
	case out.Organization == nil || !org.IsAccountID(aws.ToString(out.Organization.MasterAccountId)):
		return "", faults.Fail(errors.New("health: organizations:DescribeOrganization named no management account"))
	}
	return aws.ToString(out.Organization.MasterAccountId), nil
}

// botConcurrency bounds the bots probed at once (each probes its accounts eight at a time).
const botConcurrency = 4

// Run probes every bot in every account, publishes the metrics and, when anything is not ok, notifies.
// A failure to list accounts, sign, publish metrics or notify fails the run (the state machine retries
// it, and its failure alarms); a bot whose Lambda fails is reported as an error for each of its accounts.
func (c *Checker) Run(ctx context.Context, in Input) (Report, error) {
	if in.Execution == "" {
		return Report{}, faults.Rejectf("health: the input names no execution")
	}
	if len(in.Functions) == 0 {
		return Report{}, faults.Rejectf("health: the input names no bot functions")
	}
	rep := Report{Execution: in.Execution, Counts: map[string]int{}}
	var err error
	if rep.Accounts, rep.Skipped, err = c.accounts(ctx, in.Input.Accounts); err != nil {
		return Report{}, err
	}
	mgmt, err := c.managementAccount(ctx)
	if err != nil {
		return Report{}, err
	}
	bots := slices.Sorted(maps.Keys(in.Functions))
	targets := make([][]string, len(bots))
	for i, bot := range bots {
		for _, a := range rep.Accounts {
			if a == mgmt && !slices.Contains(c.Management.Bots, bot) {
				rep.NotProbed = append(rep.NotProbed, NotProbed{Bot: bot, Account: a, Reason: notInManagement})
				continue
			}
			targets[i] = append(targets[i], a)
		}
	}
	rep.Bots = make([]plan.ProbeReport, len(bots))
	errs := make([]error, len(bots))
	sem := make(chan struct{}, botConcurrency)
	var wg sync.WaitGroup
	for i, bot := range bots {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rep.Bots[i], errs[i] = c.probeBot(ctx, in.Execution, bot, in.Functions[bot], targets[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Report{}, err
	}
	for _, s := range plan.ProbeStates {
		rep.Counts[s] = 0
	}
	for _, b := range rep.Bots {
		for _, r := range b.Results {
			rep.Counts[r.State]++
			if r.State != plan.ProbeOK {
				rep.Problems = append(rep.Problems, Problem{Bot: b.Bot, Account: r.Account, State: r.State, Role: r.Role, Detail: r.Detail,
					Inspect: c.inspect(b.Bot, r)})
			}
		}
	}
	rep.OK = len(rep.Problems) == 0
	if err := c.putMetrics(ctx, rep.Counts); err != nil {
		return Report{}, err
	}
	if !rep.OK {
		if rep.Notified, err = c.notify(ctx, rep); err != nil {
			return Report{}, err
		}
	}
	return rep, nil
}

// accounts are the input's list, else the configured list, else the organization's ACTIVE accounts.
func (c *Checker) accounts(ctx context.Context, given []string) ([]string, []Skipped, error) {
	list := given
	if len(list) == 0 {
		list = c.Accounts
	}
	if len(list) > 0 {
		seen := map[string]bool{}
		for _, a := range list {
			if !org.IsAccountID(a) {
				return nil, nil, faults.Rejectf("health: account %q is not a 12-digit account id", clip(a))
			}
			if seen[a] {
				return nil, nil, faults.Rejectf("health: account %s is listed twice", a)
			}
			seen[a] = true
		}
		return slices.Sorted(slices.Values(list)), nil, nil
	}
	if c.Organization == nil {
		return nil, nil, faults.Fail(errors.New("health: no accounts given and no organization to list them from"))
	}
	members, err := orgapi.Accounts(ctx, c.Organization)
	if err != nil {
		return nil, nil, fmt.Errorf("health: list the organization's accounts (the management account's resource policy must allow this role organizations:ListAccounts): %w", err)
	}
	var active []string
	var skipped []Skipped
	for _, m := range members {
		// Suspended and closing accounts cannot be assumed into; they are listed, not probed.
		if m.State == org.StateActive {
			active = append(active, m.ID)
		} else {
			skipped = append(skipped, Skipped{Account: m.ID, State: m.State})
		}
	}
	if len(active) == 0 {
		return nil, nil, faults.Fail(errors.New("health: the organization lists no active account"))
	}
	return active, skipped, nil
}

// probeBot signs a probe per chunk of accounts and invokes the bot's Lambda with each. A Lambda error
// makes each account of the chunk an error naming it; an answer that is not for these accounts fails.
func (c *Checker) probeBot(ctx context.Context, execution, bot, function string, accounts []string) (plan.ProbeReport, error) {
	rep := plan.ProbeReport{Bot: bot}
	for chunk := range slices.Chunk(accounts, plan.MaxProbeAccounts) {
		p := plan.Probe{Execution: execution, Bot: bot, Accounts: chunk}
		if err := c.Signer.SignProbe(ctx, &p); err != nil {
			return rep, fmt.Errorf("health: %w", err)
		}
		payload, _ := json.Marshal(map[string]any{"probe": p}) // plain strings and slices always marshal
		out, err := c.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: payload})
		if err == nil && out.FunctionError != nil {
			err = fmt.Errorf("the bot's Lambda failed (%s): %s", aws.ToString(out.FunctionError), clip(string(out.Payload)))
		}
		var got plan.ProbeReport
		if err == nil {
			if jerr := json.Unmarshal(out.Payload, &got); jerr != nil {
				err = fmt.Errorf("the bot's answer is not a probe report: %w", jerr)
			} else if got.Bot != bot || !sameAccounts(got.Results, chunk) {
				err = fmt.Errorf("the bot's answer is for bot %q and %d accounts, not %s and these %d", clip(got.Bot), len(got.Results), bot, len(chunk))
			}
		}
		if err != nil {
			for _, a := range chunk {
				rep.Results = append(rep.Results, plan.ProbeResult{Account: a, State: plan.ProbeError,
					Detail: clip(fmt.Sprintf("invoke %s: %v", function, err))})
			}
			continue
		}
		rep.Results = append(rep.Results, got.Results...)
	}
	return rep, nil
}

func sameAccounts(rs []plan.ProbeResult, want []string) bool {
	if len(rs) != len(want) {
		return false
	}
	got := make([]string, len(rs))
	for i, r := range rs {
		got[i] = r.Account
	}
	slices.Sort(got)
	w := slices.Sorted(slices.Values(want))
	return slices.Equal(got, w)
}

// inspect says where to look for a probe that was not ok.
func (c *Checker) inspect(bot string, r plan.ProbeResult) string {
	role := c.RolePrefix + "-" + bot
	switch r.State {
	case plan.ProbeDenied:
		return fmt.Sprintf("role %s in account %s is missing or does not trust the bot's Lambda role (AssumeRole cannot tell which): "+
			"inspect the stack instance of StackSet %s for account %s in %s (failed, outdated, or the account is outside the StackSet's OUs; "+
			"the management account is not covered by a service-managed StackSet: deploy guardbots-member there), "+
			"and check context rolePrefix, externalId, orchestratorAccount and organizationId against the deployed member template",
			role, r.Account, c.StackSet, r.Account, c.Region)
	case plan.ProbeThrottled:
		return "STS throttled the AssumeRole: the role's health is unknown; the next run probes it again"
	default:
		return "the probe could not run: see detail"
	}
}

func (c *Checker) putMetrics(ctx context.Context, counts map[string]int) error {
	var data []cwtypes.MetricDatum
	now := time.Now()
	for _, s := range plan.ProbeStates {
		data = append(data, cwtypes.MetricDatum{
			MetricName: aws.String(deployment.HealthMetric), Timestamp: aws.Time(now), Unit: cwtypes.StandardUnitCount,
			Value: aws.Float64(float64(counts[s])), Dimensions: []cwtypes.Dimension{{Name: aws.String(MetricDimension), Value: aws.String(s)}},
		})
	}
	if _, err := c.Metrics.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(c.Namespace), MetricData: data}); err != nil {
		return fmt.Errorf("health: PutMetricData in namespace %s: %w", c.Namespace, err)
	}
	return nil
}

// MetricDimension is the probe metric's (deployment.HealthMetric) one dimension: the state.
const MetricDimension = "State"

func (c *Checker) notify(ctx context.Context, rep Report) (string, error) {
	var parts []string
	for _, s := range plan.ProbeStates[1:] {
		if n := rep.Counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	accounts := map[string]bool{}
	for _, p := range rep.Problems {
		accounts[p.Account] = true
	}
	body, err := json.Marshal(struct {
		Summary string `json:"summary"`
		Report
	}{fmt.Sprintf("member roles: %s, in %d of %d accounts (%d probes ok)", strings.Join(parts, ", "), len(accounts), len(rep.Accounts), rep.Counts[plan.ProbeOK]), rep})
	if err != nil {
		return "", fmt.Errorf("health: encode the report: %w", err)
	}
	if len(body) > notify.MaxBody {
		// A report of many broken roles: keep the counts and the first problems, say how many were cut.
		cut := rep
		cut.Bots = nil
		for len(cut.Problems) > 0 {
			cut.Problems = cut.Problems[:len(cut.Problems)/2]
			if body, err = json.Marshal(struct {
				Summary string `json:"summary"`
				Report
			}{fmt.Sprintf("member roles: %s, in %d of %d accounts; the first %d of %d problems listed, the execution's output holds every one",
				strings.Join(parts, ", "), len(accounts), len(rep.Accounts), len(cut.Problems), len(rep.Problems)), cut}); err == nil && len(body) <= notify.MaxBody {
				break
			}
		}
	}
	m := notify.Message{
		Subject: fmt.Sprintf("[guardbots] member roles: %s", strings.Join(parts, ", ")),
		Body:    body, Outcome: notify.OutcomeMemberRoleHealth,
		Routing: notify.Routing{Outcome: notify.OutcomeMemberRoleHealth},
	}
	id, err := c.Publisher.Publish(ctx, m)
	if err != nil {
		return "", fmt.Errorf("health: notify: %w", err)
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 400 {
		return strings.ToValidUTF8(s[:400], "") + "…"
	}
	return s
}
