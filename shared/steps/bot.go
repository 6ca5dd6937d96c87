package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// BotInput is one iteration of the state machine's Map over the decision's actions.
type BotInput struct {
	Finding *finding.Finding `json:"finding"`
	Action  mapping.Action   `json:"action"`
	// Execution is the execution ARN ($$.Execution.Id), recorded in tags and results.
	Execution string `json:"execution,omitempty"`
	// DryRun is the workflow-wide switch; an action's DRYRUN mode also makes it a dry run.
	DryRun bool `json:"dryRun,omitempty"`
	// Index is the action's position in the decision ($$.Map.Item.Index): an action with
	// onError "stop" that fails ends the actions after it, and only those.
	Index int `json:"index"`
}

// ConfigResolver gives a bot the AWS configuration for the finding's account and region
// (awsenv.Resolver: the member role when the account is not the orchestrator's).
type ConfigResolver interface {
	ForBot(ctx context.Context, bot, findingID, account, region, partition string) (aws.Config, string, error)
}

// BotRunner is the handler of one bot's Lambda. Each bot Lambda runs only its own bot: its role holds
// only that bot's permissions, so an input naming another bot is rejected rather than trusted.
type BotRunner struct {
	Bot      bots.Bot
	Resolver ConfigResolver
	// DryRun forces dry-run for every action (the deployment's global switch).
	DryRun bool
	// State is the orchestrator's state table (nil when not configured: bots that must remember how to
	// undo their work then fail, naming the variable to set).
	State bots.StateStore
}

// Run validates the action, resolves credentials for the finding's account and runs the bot.
func (r BotRunner) Run(ctx context.Context, in BotInput) (bots.Result, error) {
	b := r.Bot
	if in.Action.Bot != b.Name {
		return bots.Result{}, faults.Rejectf("bot %s was asked to run %q", b.Name, in.Action.Bot)
	}
	f := in.Finding
	if f == nil || f.ID == "" {
		return bots.Result{}, faults.Rejectf("bot %s: input has no finding", b.Name)
	}
	// The mapping was validated when it was read, but the input is re-validated: anyone able to start
	// an execution controls it.
	params, err := b.ParseParams(in.Action.Params)
	if err != nil {
		return bots.Result{}, faults.Reject(err)
	}
	res := bots.Result{Bot: b.Name, Account: f.AccountID, Region: f.Region}
	if !b.Handles(f.ResourceKind) {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("%s does not act on %s findings", b.Name, f.ResourceKind)
		return res, nil
	}
	stop, err := r.stopRecord(ctx, in.Execution)
	if err != nil {
		return bots.Result{}, err
	}
	if stop != nil && stop.Index < in.Index {
		res.Status = bots.StatusSkipped
		res.Reason = fmt.Sprintf("not run: action %d (%s) failed and its onError is stop", stop.Index+1, stop.Bot)
		return res, nil
	}
	out, err := r.run(ctx, in, params, res)
	if err != nil {
		if in.Action.OnError == mapping.Stop {
			err = r.recordStop(ctx, in, err)
		}
		return bots.Result{}, err
	}
	if stop != nil && stop.Index == in.Index {
		// An earlier attempt of this same action failed and Retry ran it again: it succeeded, so the
		// actions after it may run.
		if err := r.State.Delete(ctx, stopKey(in.Execution)); err != nil {
			return bots.Result{}, fmt.Errorf("bot %s: clear the stop record of execution %s: %w", b.Name, in.Execution, err)
		}
	}
	return out, nil
}

// run resolves credentials for the finding's account and runs the bot.
func (r BotRunner) run(ctx context.Context, in BotInput, params bots.Params, res bots.Result) (bots.Result, error) {
	b, f := r.Bot, in.Finding
	req := bots.Request{
		Finding:   f,
		Params:    params,
		DryRun:    r.DryRun || in.DryRun || in.Action.Mode == "DRYRUN",
		Execution: in.Execution,
		State:     r.State,
	}
	if len(b.Operations) > 0 {
		cfg, role, err := r.Resolver.ForBot(ctx, b.Name, f.ID, f.AccountID, f.Region, f.Partition)
		if err != nil {
			return bots.Result{}, fmt.Errorf("bot %s: credentials for account %s in %s: %w", b.Name, f.AccountID, f.Region, err)
		}
		req.AWS = cfg
		res.Role = role
	}
	start := time.Now()
	out, err := b.Run(ctx, req)
	if err != nil {
		return bots.Result{}, fmt.Errorf("bot %s on finding %s (account %s, %s): %w", b.Name, f.ID, f.AccountID, f.Region, err)
	}
	if out.Bot == "" {
		out.Bot = res.Bot
	}
	if out.Account == "" {
		out.Account, out.Region = res.Account, res.Region
	}
	if out.Role == "" {
		out.Role = res.Role
	}
	out.DryRun = out.DryRun || req.DryRun
	slog.InfoContext(ctx, "bot result", "bot", b.Name, "findingId", f.ID, "status", string(out.Status),
		"reason", out.Reason, "account", out.Account, "region", out.Region, "dryRun", out.DryRun,
		"durationMs", time.Since(start).Milliseconds())
	return out, nil
}

// stopped is the state-table record an action with onError "stop" leaves when it fails: the actions
// after it in the same execution are skipped. Iterations of the state machine's Map cannot see each
// other's results, so the record is how a later iteration learns of an earlier failure.
type stopped struct {
	Index int    `json:"index"`
	Bot   string `json:"bot"`
	Error string `json:"error"`
}

func stopKey(execution string) string { return "stop#" + execution }

func (r BotRunner) stopRecord(ctx context.Context, execution string) (*stopped, error) {
	if r.State == nil || execution == "" {
		return nil, nil
	}
	b, found, err := r.State.Get(ctx, stopKey(execution))
	if err != nil {
		return nil, fmt.Errorf("bot %s: read the stop record of execution %s: %w", r.Bot.Name, execution, err)
	}
	if !found {
		return nil, nil
	}
	var s stopped
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, faults.Fail(fmt.Errorf("bot %s: stop record of execution %s is not valid: %w", r.Bot.Name, execution, err))
	}
	return &s, nil
}

// recordStop leaves the stop record for the actions after this one and returns the bot's error (with
// any failure to record it: the notification must not claim the remaining actions were stopped).
func (r BotRunner) recordStop(ctx context.Context, in BotInput, botErr error) error {
	if r.State == nil || in.Execution == "" {
		return fmt.Errorf("%w (onError stop could not be recorded: no state table or execution id)", botErr)
	}
	b, err := json.Marshal(stopped{Index: in.Index, Bot: r.Bot.Name, Error: botErr.Error()})
	if err == nil {
		err = r.State.Put(ctx, stopKey(in.Execution), b)
	}
	if err != nil {
		return fmt.Errorf("%w (and recording onError stop failed: %v)", botErr, err)
	}
	return botErr
}
