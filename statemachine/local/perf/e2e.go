package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// E2EFinding is the demo finding measured: its mapping rule tags then stops the instance.
const E2EFinding = "ec2_malicious_ip_caller_custom"

// templateID is the finding id in the committed event; each run gets a fresh one so the rails'
// duplicate suppression does not skip it.
const templateID = "7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51"

// E2EFunctions are the Lambda hops of one remediation of E2EFinding, in order.
var E2EFunctions = []string{"parse", "transform", "match", "verify", "ec2_tag_instance", "ec2_stop_instance", "notify"}

// StackEnv lifts the blast-radius limit for the measured bots: 50 stops in an hour would otherwise be
// held for approval after the tenth (the rail works; it is not what is measured).
func StackEnv() map[string][]string {
	lift := []string{"GUARDBOTS_BLAST_RADIUS_PER_ACCOUNT=10000", "GUARDBOTS_BLAST_RADIUS_GLOBAL=10000"}
	return map[string][]string{"ec2_tag_instance": lift, "ec2_stop_instance": lift}
}

// FreshEvent is the E2EFinding event aimed at instance with a new random finding id.
func FreshEvent(tmpl []byte, r demo.Resources, instance string) ([]byte, string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r.InstanceID = instance
	return bytes.ReplaceAll(r.Substitute(tmpl), []byte(templateID), []byte(id)), id
}

// PerExec is the end-to-end figure with aslrun's runner: one Node process per execution.
type PerExec struct {
	// Total is stack.Run's execution time: Node start → report read (Elapsed).
	Total []time.Duration
	// NodeStart is the call → the execution's first event (Node start-up and loading the library).
	NodeStart []time.Duration
	// Execution is the first event → the last (the event log's millisecond timestamps).
	Execution []time.Duration
}

// E2EPerExec runs the finding n times through stack.Run, restarting the instance before each run.
func E2EPerExec(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, n int) (PerExec, error) {
	f, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		return PerExec{}, err
	}
	var out PerExec
	for i := range n {
		if err := startInstances(ctx, stack, stack.Resources.InstanceID); err != nil {
			return out, err
		}
		event, _ := FreshEvent(f.Event, stack.Resources, stack.Resources.InstanceID)
		t0 := time.Now()
		ex, err := stack.Run(ctx, tools, E2EFinding, event, demo.RunOptions{})
		if err != nil {
			return out, err
		}
		if err := remediated(ex.Status, ex.Notifications); err != nil {
			return out, fmt.Errorf("per-execution run %d: %w", i+1, err)
		}
		first, last := ex.Events[0].Time(), ex.Events[len(ex.Events)-1].Time()
		out.Total = append(out.Total, ex.Elapsed)
		out.NodeStart = append(out.NodeStart, first.Sub(t0))
		out.Execution = append(out.Execution, last.Sub(first))
	}
	return out, nil
}

// InRunner is the end-to-end figure with one long-lived Node process (Runner).
type InRunner struct {
	Startup time.Duration
	// InNode is the event's arrival in Node → the execution's end; RoundTrip adds the pipe from Go.
	InNode, RoundTrip []time.Duration
	// Hops are each function's Lambda invocation as timed at kumo's Lambda API (the proxy).
	Hops map[string][]time.Duration
	// Interpreter is InNode minus the hops: aws-local-stepfunctions' own work (Pass, Choice, Map,
	// JSONPath, the SDK's Invoke calls).
	Interpreter []time.Duration
	Warmup      int
}

// E2EInRunner runs warmup unmeasured executions (every bootstrap's first call does one-time work),
// then n measured ones, one at a time, restarting the instance before each.
func E2EInRunner(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, n, warmup int) (InRunner, error) {
	f, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		return InRunner{}, err
	}
	r, err := newStackRunner(ctx, stack, tools, "end to end")
	if err != nil {
		return InRunner{}, err
	}
	defer r.Close()
	out := InRunner{Startup: r.Startup, Hops: map[string][]time.Duration{}, Warmup: warmup}
	for i := range warmup + n {
		res, invokes, err := remediateOnce(ctx, stack, r, f.Event)
		if err != nil {
			return out, fmt.Errorf("run %d: %w", i+1, err)
		}
		if i >= warmup {
			out.add(res, invokes)
		}
	}
	return out, nil
}

// add records one execution: its time in Node, its Lambda hops and the interpreter's own part.
func (out *InRunner) add(res Result, invokes []demo.Invoke) {
	var hops time.Duration
	for _, in := range invokes {
		out.Hops[in.Function] = append(out.Hops[in.Function], in.Duration)
		hops += in.Duration
	}
	out.InNode = append(out.InNode, res.InNode)
	out.RoundTrip = append(out.RoundTrip, res.RoundTrip)
	out.Interpreter = append(out.Interpreter, res.InNode-hops)
}

// remediateOnce restarts the stack's instance, runs a fresh copy of the E2EFinding event through r and
// checks it was remediated; it returns the execution's report and its Lambda invocations.
func remediateOnce(ctx context.Context, stack *demo.Stack, r *Runner, tmpl []byte) (Result, []demo.Invoke, error) {
	if err := startInstances(ctx, stack, stack.Resources.InstanceID); err != nil {
		return Result{}, nil, err
	}
	event, _ := FreshEvent(tmpl, stack.Resources, stack.Resources.InstanceID)
	job, arn, err := stack.Prepare(ctx, E2EFinding, event, demo.RunOptions{})
	if err != nil {
		return Result{}, nil, err
	}
	stack.TakeInvokes()
	res, err := r.Run(ctx, job)
	if err != nil {
		return Result{}, nil, err
	}
	if err := stack.Finish(ctx, arn); err != nil {
		return Result{}, nil, err
	}
	invokes := stack.TakeInvokes()
	notes, err := stack.Receive(ctx)
	if err != nil {
		return Result{}, nil, err
	}
	if err := remediated(res.Status, notes); err != nil {
		return Result{}, nil, fmt.Errorf("%w (%s %s)", err, res.Error, res.Cause)
	}
	return res, invokes, nil
}

// newStackRunner starts a Runner with the stack's definition and Lambda endpoint, bound to the stack (a
// failed stack kills Node and fails its executions with the stack's error) and watched by it under
// RunnerName and label.
func newStackRunner(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, label string) (*Runner, error) {
	job, arn, err := stack.Prepare(ctx, "runner", []byte(`{}`), demo.RunOptions{NotInGuardDuty: true})
	if err != nil {
		return nil, err
	}
	if err := stack.Finish(ctx, arn); err != nil {
		return nil, err
	}
	ctx, cancel := stack.Context(ctx)
	r, err := StartRunner(ctx, tools, job.Definition, job.Env)
	if err != nil {
		cancel()
		return nil, err
	}
	unwatch := stack.Watch(RunnerName+", "+label, r.PID())
	r.atClose = append(r.atClose, unwatch, cancel)
	return r, nil
}

// remediated checks an execution succeeded and sent exactly one "remediated" notification.
func remediated(status string, notes []demo.Notification) error {
	if status != "SUCCEEDED" {
		return fmt.Errorf("execution %s", status)
	}
	if len(notes) != 1 || notes[0].Outcome != notify.OutcomeRemediated {
		outs := []string{}
		for _, n := range notes {
			outs = append(outs, n.Outcome+": "+n.Body.Summary)
		}
		return fmt.Errorf("want one %q notification, got %d %v", notify.OutcomeRemediated, len(notes), outs)
	}
	return nil
}

// startInstances puts the instances back to running (kumo's StartInstances), outside the timing.
func startInstances(ctx context.Context, stack *demo.Stack, ids ...string) error {
	_, err := ec2.NewFromConfig(stack.AWS).StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids})
	if err != nil {
		return fmt.Errorf("restart %v: %w", ids, err)
	}
	return nil
}
