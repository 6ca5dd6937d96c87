package perf

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// A handful of runs of both stack measurements: they must complete and prove every finding handled once.
func TestStackPerf_E2EAndThroughputSmall(t *testing.T) {
	tools, err := aslrun.FindTools()
	if errors.Is(err, aslrun.ErrNoTools) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := filepath.Dir(filepath.Dir(tools.Dir))
	bins, err := demo.Build(ctx, root, filepath.Join(root, "build", "host"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stack, err := demo.Start(ctx, bins, demo.Options{FunctionEnv: StackEnv(), Suffix: "-perftest"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()

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
