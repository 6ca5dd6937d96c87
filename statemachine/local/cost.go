package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/perf"
)

// costCmd prints the monthly cost of a volume of findings of one shape (or every shape), or with
// --measure runs the shapes on the local stack and prints what they did.
func costCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := perf.DefaultAssumptions
	findings := fs.String("findings", "10000,1000000", "findings a month, comma-separated")
	shape := fs.String("shape", perf.ShapeTwo, "the shape priced, or all: "+shapeNames())
	fs.Float64Var(&a.MemoryMB, "memory", a.MemoryMB, "every function's memory size, MB")
	fs.Float64Var(&a.APILatencyMs, "api-ms", a.APILatencyMs, "billed Lambda ms per AWS API call")
	fs.Float64Var(&a.InitMs, "init-ms", a.InitMs, "a cold start's billed init, ms")
	fs.Float64Var(&a.ColdShare, "cold", a.ColdShare, "share of invocations that start cold (0–1)")
	fs.Float64Var(&a.Traced, "traced", a.Traced, "share of executions X-Ray records (0–1)")
	measure := fs.Int("measure", 0, "run every shape this many times on the local stack and print the counts instead")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *measure > 0 {
		if err := measureCost(context.Background(), stdout, *measure); err != nil {
			fmt.Fprintf(stderr, "cost: %v\n", err)
			return 1
		}
		return 0
	}
	var volumes []float64
	for _, f := range strings.Split(*findings, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(stderr, "cost: --findings %q: want positive numbers\n", f)
			return 1
		}
		volumes = append(volumes, v)
	}
	var shapes []perf.Shape
	if *shape == "all" {
		shapes = perf.Shapes
	} else {
		s, ok := perf.ShapeNamed(*shape)
		if !ok {
			fmt.Fprintf(stderr, "cost: no shape %q (%s)\n", *shape, shapeNames())
			return 1
		}
		shapes = []perf.Shape{s}
	}
	for _, s := range shapes {
		for _, v := range volumes {
			perf.PrintMonth(stdout, perf.Monthly(s, v, perf.ListPrices, a))
			fmt.Fprintln(stdout)
		}
	}
	fmt.Fprintln(stdout, "list prices, us-east-1 (statemachine/local/perf/cost.go names the sources); fixed costs not included: the topic's and the plan-signing KMS keys ($1 a month each, the topic key's rotation extra), alarms, log storage")
	return 0
}

func shapeNames() string {
	var names []string
	for _, s := range perf.Shapes {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// measureCost runs every shape on the local stack, with the API calls counted, and prints the counts
// in the form of perf.Shapes.
func measureCost(ctx context.Context, out io.Writer, runs int) error {
	tools, root, stack, err := startStack(ctx, demo.Options{FunctionEnv: perf.CostStackEnv(), CountAPICalls: true, Suffix: "-cost"})
	if err != nil {
		return err
	}
	defer stack.Close()
	ms, err := perf.MeasureShapes(ctx, stack, tools, root, runs)
	if err != nil {
		return err
	}
	for _, m := range ms {
		s := m.AsShape()
		fmt.Fprintf(out, "%s (%d runs, %s): transitions %d, invocations %d, handler ms %d, API calls %d (%s), WRU %g, RRU %g, publishes %d, Step Functions log %d B, Lambda log %d B, KMS signs %d, plan checks %d\n",
			s.Name, m.Runs, m.Status, s.Transitions, s.Invocations, s.HandlerMs, s.Calls, s.CallsBy, s.WriteUnits, s.ReadUnits,
			s.Publishes, s.SFNLogBytes, s.LambdaLogBytes, s.Signs, s.PlanChecks)
		for _, call := range perf.Sorted(m.Calls) {
			fmt.Fprintf(out, "    %-40s %d\n", call, m.Calls[call])
		}
	}
	return nil
}
