package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// BotWarm is one bot Lambda invoked many times in dry run on the local stack.
type BotWarm struct {
	Name string
	// Finding is the demo finding it was given; Outcome what the last call reported ("dry-run",
	// "skipped: …", or the error), so a figure is never read as more work than it was.
	Finding, Outcome string
	// First is the first call's latency (after a restart when the bot was measured cold); Median and
	// P90 are the calls after it.
	First, Median, P90 time.Duration
	// FirstCPU is the CPU time of the first call (when botCalls.cpu could read it).
	FirstCPU time.Duration
}

// WarmBots invokes every bot Lambda of the stack n times (after one unmeasured call) through kumo's
// Lambda API, in dry run — the bot reads the live resource and reports what it would change, so nothing
// changes between calls — on the demo finding that names a resource of the bot's kind (the EC2 finding
// when none does: the runner then skips it as another resource kind, and the outcome says so).
func WarmBots(ctx context.Context, stack *demo.Stack, n int) ([]BotWarm, error) {
	byKind, err := demoFindingsByKind(ctx, stack.Resources)
	if err != nil {
		return nil, err
	}
	var out []BotWarm
	for _, b := range bots.Registered() {
		f, err := demoFindingFor(b, byKind)
		if err != nil {
			return nil, err
		}
		w, err := warmBot(ctx, stack, b.Name, f, n, botCalls{})
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// botCalls says how warmBot calls a bot: prepare runs before the first call (a restart, a CPU quota),
// gap is the pause before each later call.
type botCalls struct {
	prepare func(ctx context.Context) error
	gap     time.Duration
	// cpu, when set, reads the bot process's CPU time, read around the first call.
	cpu func() (time.Duration, error)
}

// demoFindingFor is the demo finding that names a resource of one of the bot's kinds (the EC2 finding
// when none does: the runner then skips it as another resource kind, and the outcome says so).
func demoFindingFor(b bots.Bot, byKind map[finding.ResourceKind]demoFinding) (demoFinding, error) {
	for _, k := range b.Resources {
		if g, found := byKind[k]; found {
			return g, nil
		}
	}
	f, ok := byKind[finding.KindInstance]
	if !ok {
		return f, fmt.Errorf("warm bots: no demo finding for instances")
	}
	return f, nil
}

type demoFinding struct {
	name string
	f    *finding.Finding
}

// demoFindingsByKind transforms the demo findings (filled with the stack's resources) in process.
func demoFindingsByKind(ctx context.Context, r demo.Resources) (map[finding.ResourceKind]demoFinding, error) {
	all, err := demo.Findings()
	if err != nil {
		return nil, err
	}
	out := map[finding.ResourceKind]demoFinding{}
	for _, df := range all {
		p, err := steps.Parse(ctx, r.Substitute(df.Event))
		if err != nil {
			return nil, fmt.Errorf("demo finding %s: %w", df.Name, err)
		}
		t, err := steps.Transform(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("demo finding %s: %w", df.Name, err)
		}
		if _, seen := out[t.Finding.ResourceKind]; !seen {
			out[t.Finding.ResourceKind] = demoFinding{name: df.Name, f: t.Finding}
		}
	}
	return out, nil
}

func warmBot(ctx context.Context, stack *demo.Stack, bot string, f demoFinding, n int, how botCalls) (BotWarm, error) {
	w := BotWarm{Name: bot, Finding: f.name}
	lat := make([]time.Duration, 0, n)
	// One running execution, and the plan verify would sign in it: every call is a bot's real work,
	// the plan check included (the same action again, as a Step Functions retry sends it).
	exec, err := stack.Plans.Start(ctx, executionName("perf-warm-"+bot))
	if err != nil {
		return w, err
	}
	defer func() { _ = stack.Plans.Stop(ctx, exec) }()
	in := steps.BotInput{Finding: f.f, Execution: exec,
		Action: mapping.Action{Bot: bot, Mode: string(mapping.ModeDryRun), Params: map[string]any{}, OnError: mapping.Continue}}
	if err := stack.Plans.Sign(ctx, &in); err != nil {
		return w, err
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return w, err
	}
	if how.prepare != nil {
		if err := how.prepare(ctx); err != nil {
			return w, err
		}
	}
	for i := range n + 1 {
		if i > 0 && how.gap > 0 {
			time.Sleep(how.gap)
		}
		var cpu0 time.Duration
		if i == 0 && how.cpu != nil {
			if cpu0, err = how.cpu(); err != nil {
				return w, err
			}
		}
		start := time.Now()
		resp, err := stack.Host.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(bot), Payload: payload})
		d := time.Since(start)
		if err != nil {
			return w, fmt.Errorf("invoke %s: %w", bot, err)
		}
		if i == 0 && how.cpu != nil {
			cpu1, err := how.cpu()
			if err != nil {
				return w, err
			}
			w.FirstCPU = cpu1 - cpu0
		}
		if i == 0 {
			w.First = d
		} else {
			lat = append(lat, d)
		}
		w.Outcome = outcome(bot, resp)
	}
	w.Median, w.P90 = Percentile(lat, 50), Percentile(lat, 90)
	return w, nil
}

// outcome is a bot call's result in a few words: its status (and reason when skipped) or its error —
// named as kumo's gap when the bot needs an operation the emulator does not serve.
func outcome(bot string, resp *lambda.InvokeOutput) string {
	if resp.FunctionError != nil {
		if lacks := demo.KumoLacks(bot); len(lacks) > 0 {
			return "failed: kumo does not serve " + strings.Join(lacks, ", ") + " (AWS does)"
		}
		var e struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(resp.Payload, &e)
		return "failed: " + e.ErrorType + ": " + e.ErrorMessage
	}
	var r bots.Result
	if err := json.Unmarshal(resp.Payload, &r); err != nil {
		return "unreadable result: " + err.Error()
	}
	if r.Reason != "" {
		return string(r.Status) + ": " + r.Reason
	}
	return string(r.Status)
}

// executionName is name made unique (kumo keeps every execution of a process).
func executionName(name string) string {
	return fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
}
