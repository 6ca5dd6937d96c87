package perf

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
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
