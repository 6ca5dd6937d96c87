package botstep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/steps"
)

// Request is what a bot's Lambda is given: an action of the remediation workflow (steps.BotInput), or a
// probe of the member-role health check — never both.
type Request struct {
	steps.BotInput
	Probe *plan.Probe `json:"probe,omitempty"`
}

// probeConcurrency bounds the AssumeRole calls in flight: STS's request quota is per account and region,
// shared with the bots acting at the same time.
const probeConcurrency = 8

// Handle runs a workflow action (Run) or a probe (RunProbe).
func (r Runner) Handle(ctx context.Context, req Request) (any, error) {
	if req.Probe == nil {
		return r.Run(ctx, req.BotInput)
	}
	if req.Finding != nil || req.Action.Bot != "" || req.Execution != "" {
		return nil, faults.Rejectf("bot %s: an input is an action or a probe, not both", r.Bot.Name)
	}
	return r.RunProbe(ctx, *req.Probe)
}

// RunProbe checks the probe's signature and execution, then assumes the bot's own member role in each
// account, exactly as an action would (the same resolver: ExternalId, session name, source identity), and
// calls nothing with the credentials. A probe the bot cannot verify runs nothing.
func (r Runner) RunProbe(ctx context.Context, p plan.Probe) (plan.ProbeReport, error) {
	b := r.Bot
	if r.Probes == nil {
		return plan.ProbeReport{}, faults.Fail(fmt.Errorf("bot %s: probes are not configured (%s, %s)", b.Name, deployment.EnvProbeKey, deployment.EnvHealthStateMachineArn))
	}
	if err := r.Probes.CheckProbe(ctx, b.Name, p); err != nil {
		if faults.Classify(err) == faults.Rejected {
			slog.ErrorContext(ctx, "probe rejected", "event", deployment.EventPlanRejected, "bot", b.Name, "execution", clip(p.Execution), "error", err.Error())
		}
		return plan.ProbeReport{}, err
	}
	if len(b.Operations) == 0 {
		return plan.ProbeReport{}, faults.Rejectf("bot %s calls no AWS API and has no member role to probe", b.Name)
	}
	region := r.Region
	if region == "" {
		return plan.ProbeReport{}, faults.Fail(fmt.Errorf("bot %s: no region to call STS in", b.Name))
	}
	// A session of its own per health execution: a role that broke since the last run is assumed again,
	// not answered from a cached session.
	session := "probe-" + p.Execution[strings.LastIndex(p.Execution, ":")+1:]
	rep := plan.ProbeReport{Bot: b.Name, Results: make([]plan.ProbeResult, len(p.Accounts))}
	sem := make(chan struct{}, probeConcurrency)
	var wg sync.WaitGroup
	for i, account := range p.Accounts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, role, err := r.Resolver.ForBot(ctx, b.Name, session, account, region, finding.PartitionOf(region))
			rep.Results[i] = classifyProbe(account, role, err)
		})
	}
	wg.Wait()
	slog.InfoContext(ctx, "probe", "bot", b.Name, "execution", p.Execution, "accounts", len(p.Accounts))
	return rep, nil
}

// classifyProbe names what an AssumeRole answered.
func classifyProbe(account, role string, err error) plan.ProbeResult {
	res := plan.ProbeResult{Account: account, Role: role, State: plan.ProbeOK}
	if err == nil {
		if role == "" {
			res.Detail = "the orchestrator's own account: the bot uses its Lambda role, no member role"
		}
		return res
	}
	res.Detail = clip(err.Error())
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied":
		res.State = plan.ProbeDenied
	case errors.As(err, &ae) && throttleCodes[ae.ErrorCode()]:
		res.State = plan.ProbeThrottled
	default:
		res.State = plan.ProbeError
	}
	return res
}

var throttleCodes = map[string]bool{"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true, "TooManyRequestsException": true}
