package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/procwatch"
)

// A handful of runs of both stack measurements: they must complete and prove every finding handled once.
func TestStackPerf_E2EAndThroughputSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tools, _, stack := testStack(ctx, t, demo.Options{FunctionEnv: StackEnv(), Suffix: "-perftest"})

	in, err := E2EInRunner(ctx, stack, tools, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.InNode) != 3 || len(in.Hops["ec2_stop_instance"]) != 3 {
		t.Fatalf("in runner: %d runs, %d stop hops", len(in.InNode), len(in.Hops["ec2_stop_instance"]))
	}
	pe, err := E2EPerExec(ctx, stack, tools, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(pe.Total) != 2 {
		t.Fatalf("per execution: %d runs", len(pe.Total))
	}
	tp, err := RunThroughput(ctx, stack, tools, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !tp.OK() {
		t.Fatalf("throughput proof failed: %+v", tp)
	}
}

// Issue 19 at a small scale: every Lambda invocation used to leave a connection open between the Node
// runner and this process (the interpreter's client per Task, a proxy that never closed idle
// connections), so both processes' descriptors grew by one per invocation until the machine's limit
// stopped the run. Over 120 findings (840 invocations) no process of the stack may gain more than a
// few descriptors, nor this process goroutines, between the first tenth of the run and its end.
func TestStack_DescriptorsDoNotGrowWithInvocations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tools, _, stack := testStack(ctx, t, demo.Options{FunctionEnv: StackEnv(), Suffix: "-fdtest"})
	tp, err := RunThroughput(ctx, stack, tools, 120, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !tp.OK() {
		t.Fatalf("throughput proof failed: %+v", tp)
	}
	if len(tp.Checkpoints) != 10 {
		t.Fatalf("%d checkpoints", len(tp.Checkpoints))
	}
	first, last := tp.Checkpoints[0], tp.Checkpoints[9]
	seen := map[string]bool{}
	for _, u := range last.Usage {
		f, ok := first.Find(u)
		if !ok {
			continue
		}
		seen[u.Name] = true
		if strings.HasPrefix(u.Name, "bootstrap ") && u.Name != "bootstrap ec2_stop_instance" {
			continue
		}
		t.Logf("%s: %d descriptors after %d findings, %d after %d (peak %d)", u.Name, f.Descriptors, first.Done, u.Descriptors, last.Done, u.PeakDescriptors)
	}
	for _, want := range []string{demo.SelfName, RunnerName + ", throughput", "bootstrap ec2_stop_instance"} {
		if !seen[want] {
			t.Errorf("%s was not watched", want)
		}
	}
	if err := tp.Flat(); err != nil {
		t.Error(err)
	}
}

// A bootstrap that dies fails the run at once — not after kumo's 30 s pickup timeout and the SDK's
// retries — with an error naming it, and the stack stops every process it started: the other
// bootstraps and the Node runner bound to it.
func TestStack_DeadBootstrapFailsTheRunAndStopsEveryProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tools, _, stack := testStack(ctx, t, demo.Options{FunctionEnv: StackEnv(), Suffix: "-deadtest"})
	r, err := newStackRunner(ctx, stack, tools, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		t.Fatal(err)
	}
	event, _ := FreshEvent(f.Event, stack.Resources, stack.Resources.InstanceID)
	job, _, err := stack.Prepare(ctx, "dead", event, demo.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	procs := stack.Host.Processes()
	for _, p := range procs {
		if p.Name == "verify" {
			if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	_, err = r.Run(ctx, job)
	var fail *procwatch.Failure
	if !errors.As(err, &fail) || !strings.HasPrefix(fail.Component, "bootstrap verify (pid ") ||
		!strings.Contains(fail.Error(), "exited (signal: killed): the function can no longer be invoked") {
		t.Fatalf("run error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run failed %v after the bootstrap died", d)
	}
	if !errors.Is(stack.Err(), fail) {
		t.Errorf("stack error %v", stack.Err())
	}
	for _, p := range procs {
		select {
		case <-p.Exited():
		case <-time.After(5 * time.Second):
			t.Errorf("bootstrap %s still running", p.Name)
		}
	}
	// Node is killed by its context (a zombie until Close reaps it).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.PID()))
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the Node runner is still running: %s", b)
			break
		}
	}
	// aslrun's runner (make demo, make replay) fails with the same cause, at once.
	_, err = stack.Run(ctx, tools, "after", event, demo.RunOptions{})
	if !errors.As(err, &fail) {
		t.Errorf("stack.Run after the failure: %v", err)
	}
}

// An execution that does not end in its time fails the run with an error naming the runner.
func TestRunner_StuckExecutionFails(t *testing.T) {
	tools, err := aslrun.FindTools()
	if errors.Is(err, aslrun.ErrNoTools) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRunner(context.Background(), tools,
		json.RawMessage(`{"StartAt": "Forever", "States": {"Forever": {"Type": "Wait", "Seconds": 3600, "End": true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Timeout = time.Second
	_, err = r.Run(context.Background(), aslrun.Job{Input: 1})
	if !errors.Is(err, aslrun.ErrStuck) || !strings.HasPrefix(err.Error(), RunnerName+" (pid ") {
		t.Fatalf("error %v", err)
	}
}

// The cost model's per-execution counts are what the real bootstraps do on the local stack: the same
// transitions, invocations, API calls (DynamoDB units, SNS publishes) for every shape, and log sizes
// within 10% (ids and timestamps vary). Handler times depend on the machine and are not compared.
func TestCostShapes_MatchTheLocalStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tools, root, stack := testStack(ctx, t, demo.Options{FunctionEnv: CostStackEnv(), Suffix: "-costtest", CountAPICalls: true})
	ms, err := MeasureShapes(ctx, stack, tools, root, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(Shapes) {
		t.Fatalf("measured %d shapes, the model has %d", len(ms), len(Shapes))
	}
	within := func(got, want int) bool { return math.Abs(float64(got-want)) <= 0.1*float64(want) }
	for _, m := range ms {
		got := m.AsShape()
		want, ok := ShapeNamed(got.Name)
		if !ok {
			t.Errorf("measured shape %s is not in the model", got.Name)
			continue
		}
		if got.Transitions != want.Transitions || got.Invocations != want.Invocations || got.Calls != want.Calls ||
			got.CallsBy != want.CallsBy || got.WriteUnits != want.WriteUnits || got.ReadUnits != want.ReadUnits ||
			got.Publishes != want.Publishes || got.Signs != want.Signs || got.PlanChecks != want.PlanChecks ||
			!within(got.SFNLogBytes, want.SFNLogBytes) || !within(got.LambdaLogBytes, want.LambdaLogBytes) {
			t.Errorf("%s: the local stack did\n %+v\nthe cost model says\n %+v\n(calls %v; update perf.Shapes from `go run ./statemachine/local cost --measure 20`, then go generate ./...)",
				got.Name, got, want, m.Calls)
		}
	}
}

// testStack builds the bootstraps and starts the local stack with opts, closed when the test ends; it
// skips the test without the npm tools.
func testStack(ctx context.Context, t *testing.T, opts demo.Options) (aslrun.Tools, string, *demo.Stack) {
	t.Helper()
	tools, err := aslrun.FindTools()
	if errors.Is(err, aslrun.ErrNoTools) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(tools.Dir))
	bins, err := demo.Build(ctx, root, filepath.Join(root, "build", "host"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stack, err := demo.Start(ctx, bins, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	return tools, root, stack
}
