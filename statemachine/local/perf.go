package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/perf"
)

// CloudBots' figures on this kind of machine (Python 3.11, boto3 1.26, against kumo), the reference.
const (
	cloudbotsColdStart = 149 * time.Millisecond // median, best of the measured range 149–188 ms
	cloudbotsWarm      = 67 * time.Millisecond  // median warm handler call
	cloudbotsRSS       = 65 << 20               // after one call (141 MB after 51)
)

// perfCmd measures every bootstrap: cold start, warm invocations, peak memory, artifact size.
func perfCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	starts := fs.Int("starts", 20, "cold starts per bootstrap")
	invocations := fs.Int("invocations", 1000, "warm invocations of the pure-CPU bootstraps")
	e2e := fs.Int("e2e", 0, "end-to-end runs of one remediation on the local stack (0: skip; the issue asks ≥ 50)")
	throughput := fs.Int("throughput", 0, "distinct findings through the local workflow (0: skip; the issue asks 1000)")
	concurrency := fs.Int("concurrency", 4, "executions in flight during --throughput")
	warmBots := fs.Int("bots", 0, "dry-run invocations of every bot Lambda on the local stack (0: skip)")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if err := runPerf(context.Background(), stdout, *starts, *invocations); err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 1
	}
	if err := runStackPerf(context.Background(), stdout, *e2e, *throughput, *concurrency, *warmBots); err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 1
	}
	return 0
}

func runPerf(ctx context.Context, out io.Writer, starts, invocations int) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "guardbots-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := perf.BuildHost(ctx, root, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "machine: %s\n\n", perf.Machine())

	fmt.Fprintf(out, "Cold start: process start → first Runtime API poll, %d starts each (CloudBots: %v median)\n\n", starts, cloudbotsColdStart)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tmedian\tp90\tvs CloudBots\tzipped arm64 artifact\t")
	for _, name := range perf.SortedNames(bins) {
		ds, err := perf.ColdStarts(ctx, bins[name], starts)
		if err != nil {
			return err
		}
		med := perf.Percentile(ds, 50)
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.0f×\t%s\t\n", name, med.Round(10*time.Microsecond), perf.Percentile(ds, 90).Round(10*time.Microsecond),
			float64(cloudbotsColdStart)/float64(med), zipped(root, name))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// notify_only checks its plan on every call (the signature, and DescribeExecution): an in-process
	// kumo holds the key and a running execution.
	srv := kumo.NewServer()
	defer srv.Close()
	plans, err := plantest.New(ctx, demo.Config(srv.URL), demo.StateMachineName)
	if err != nil {
		return err
	}
	payloads, err := warmPayloads(ctx, root, plans)
	if err != nil {
		return err
	}
	// notify_only needs no state table (it changes nothing: no claim, no stop record to read).
	botEnv := append([]string{"AWS_ENDPOINT_URL=" + srv.URL, "GUARDBOTS_STATE_TABLE="}, plans.Env()...)
	fmt.Fprintf(out, "\nWarm invocations through the Runtime API, %d each (CloudBots: %v median warm call, %d MB after one call)\n\n",
		invocations, cloudbotsWarm, cloudbotsRSS>>20)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "function\tmedian\tp90\t"
	for calls := 1; calls <= invocations; calls *= 10 {
		if calls == 1 {
			header += "peak RSS after 1\t"
			continue
		}
		header += fmt.Sprintf("after %d\t", calls)
	}
	if !perf.IsPowerOfTen(invocations) {
		header += fmt.Sprintf("after %d\t", invocations)
	}
	fmt.Fprintln(tw, header)
	for _, name := range []string{"parse", "transform", "notify_only"} {
		// notify_only writes its audit record to the log only (no audit table): its AWS calls are the plan
		// check's, to the in-process kumo.
		env := []string{"GUARDBOTS_AUDIT_TABLE="}
		if name == "notify_only" {
			env = append(env, botEnv...)
		}
		w, err := perf.InvokeWarm(ctx, bins[name], payloads[name], invocations, env...)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t", name, w.Median.Round(time.Microsecond), w.P90.Round(time.Microsecond))
		for _, r := range w.RSS {
			fmt.Fprintf(tw, "%.1f MB\t", float64(r.Bytes)/(1<<20))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// zipped is the size of build/<name>/bootstrap (the linux/arm64 artifact make build writes) zipped.
func zipped(root, name string) string {
	n, err := perf.ZipSize(filepath.Join(root, "build", name, "bootstrap"))
	if err != nil {
		return "(run make build)"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// warmPayloads are realistic inputs: a 9 KB SNS-wrapped EC2 finding for parse, parse's output for
// transform, and a notify_only action for the bot runner, signed for a running execution in plans.
func warmPayloads(ctx context.Context, root string, plans *plantest.Local) (map[string][]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "events", "envelope_sns_string.json"))
	if err != nil {
		return nil, err
	}
	parsed, err := steps.Parse(ctx, raw)
	if err != nil {
		return nil, err
	}
	tr, err := steps.Transform(ctx, parsed)
	if err != nil {
		return nil, err
	}
	parsedJSON, err := json.Marshal(parsed)
	if err != nil {
		return nil, err
	}
	exec, err := plans.Start(ctx, fmt.Sprintf("perf-warm-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	in := steps.BotInput{Finding: tr.Finding, Execution: exec, Action: mapping.Action{Bot: "notify_only", Mode: "AUTO", Params: map[string]any{}, OnError: mapping.Continue}}
	if err := plans.Sign(ctx, &in); err != nil {
		return nil, err
	}
	bot, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"parse": raw, "transform": parsedJSON, "notify_only": bot}, nil
}

// startStack builds the bootstraps for this machine and starts the local stack with opts, for the
// measurements that need it.
func startStack(ctx context.Context, opts demo.Options) (aslrun.Tools, string, *demo.Stack, error) {
	tools, err := aslrun.FindTools()
	if err != nil {
		return tools, "", nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return tools, "", nil, err
	}
	bins, err := demo.Build(ctx, root, filepath.Join(root, "build", "host"), nil, nil)
	if err != nil {
		return tools, "", nil, err
	}
	stack, err := demo.Start(ctx, bins, opts)
	return tools, root, stack, err
}

// runStackPerf measures the whole workflow on the local stack (demo.Stack: kumo, the real bootstraps,
// aws-local-stepfunctions), started before any timing: end-to-end latency of one remediation and
// throughput. Both are off unless asked: the stack and 1,000 findings take minutes.
func runStackPerf(ctx context.Context, out io.Writer, e2e, throughput, concurrency, warmBots int) error {
	if e2e <= 0 && throughput <= 0 && warmBots <= 0 {
		return nil
	}
	tools, _, stack, err := startStack(ctx, demo.Options{FunctionEnv: perf.StackEnv()})
	if err != nil {
		return err
	}
	defer stack.Close()
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	// Peak RSS of every bootstrap, read after start-up (one warm-up ping each) and after each run, so the
	// memory of the functions the workflow really used is seen after 1,000+ real invocations.
	peaks := []rssSnapshot{{"after start-up", stackPeakRSS(stack)}}
	defer func() { printPeaks(out, peaks) }()
	row := func(tw io.Writer, name string, ds []time.Duration) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, ms(perf.Percentile(ds, 50)), ms(perf.Percentile(ds, 90)))
	}

	if warmBots > 0 {
		ws, err := perf.WarmBots(ctx, stack, warmBots)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nEvery bot Lambda warm on the local stack: %d dry-run calls each after one unmeasured (kumo Lambda API → Runtime API →\n"+
			"the bootstrap, which reads the live resource from kumo); the outcome column says what the call did\n\n", warmBots)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "bot\tmedian\tp90\tdemo finding\toutcome of the last call\t")
		for _, w := range ws {
			o := w.Outcome
			if len(o) > 90 {
				o = o[:87] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", w.Name, ms(w.Median), ms(w.P90), w.Finding, o)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		peaks = append(peaks, rssSnapshot{fmt.Sprintf("after %d bot calls", warmBots+1), stackPeakRSS(stack)})
	}

	if e2e > 0 {
		const warmup = 3
		in, err := perf.E2EInRunner(ctx, stack, tools, e2e, warmup)
		if err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
		fmt.Fprintf(out, "\nEnd to end, one remediation (%s: tag then stop the instance, stop not waiting for stopped), %d runs after %d warm-up,\n"+
			"one long-lived Node process (aws-local-stepfunctions), kumo and bootstraps already running (CloudBots: %v median warm call, p90 224 ms;\n"+
			"target: median < 67 ms, p90 < 100 ms)\n\n", perf.E2EFinding, e2e, warmup, cloudbotsWarm)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "part\tmedian\tp90\t")
		row(tw, "whole execution (event in Node → execution end)", in.InNode)
		row(tw, "  + Go↔Node pipe and JSON", in.RoundTrip)
		for _, fn := range perf.E2EFunctions {
			row(tw, "  Lambda "+fn, in.Hops[fn])
		}
		row(tw, "  interpreter (Pass/Choice/Map, JSONPath, SDK)", in.Interpreter)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "(Node runner start-up, once: %s; each Lambda hop is timed at kumo's Lambda API: the SDK call from Node excluded)\n",
			ms(in.Startup))

		pe, err := perf.E2EPerExec(ctx, stack, tools, e2e)
		if err != nil {
			return fmt.Errorf("e2e per execution: %w", err)
		}
		fmt.Fprintf(out, "\nThe same, %d runs with aslrun as make demo runs it: one Node process per execution\n\n", e2e)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "part\tmedian\tp90\t")
		row(tw, "Node start → report read", pe.Total)
		row(tw, "  Node start-up (→ first event)", pe.NodeStart)
		row(tw, "  execution (first → last event, ms clock)", pe.Execution)
		if err := tw.Flush(); err != nil {
			return err
		}
		peaks = append(peaks, rssSnapshot{fmt.Sprintf("after %d executions", 2*e2e+3), stackPeakRSS(stack)})
	}

	if throughput > 0 {
		t, err := perf.RunThroughput(ctx, stack, tools, throughput, concurrency)
		if err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		verdict := "none lost, none handled twice"
		if !t.OK() {
			verdict = "FAILED: some finding was lost or handled twice"
		}
		fmt.Fprintf(out, "\nThroughput: %d distinct %s findings, each about its own instance, ≤ %d in flight in one Node process\n\n",
			t.N, perf.E2EFinding, t.Concurrency)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "findings\telapsed\tfindings/s\tlatency median\tp90\t")
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%s\t%s\t\n", t.N, t.Elapsed.Round(time.Millisecond), t.PerSecond,
			ms(perf.Percentile(t.Latency, 50)), ms(perf.Percentile(t.Latency, 90)))
		if err := tw.Flush(); err != nil {
			return err
		}
		peaks = append(peaks, rssSnapshot{fmt.Sprintf("+ %d more", t.N), stackPeakRSS(stack)})
		fmt.Fprintf(out, "proof (%s): executions SUCCEEDED %d/%d; notifications: exactly one %d, none %d, more than one %d, unknown finding %d;\n"+
			"  audit: tag + stop records of its own execution %d/%d; instances stopped and tagged with their finding's id %d/%d\n",
			verdict, t.Succeeded, t.N, t.Once, t.Missing, t.Duplicated, t.Strays, t.AuditOK, t.N, t.Stopped, t.N)
		if !t.OK() {
			return fmt.Errorf("throughput: a finding was lost or handled twice")
		}
	}
	return nil
}

// rssSnapshot is every bootstrap's peak RSS at one point of the stack run.
type rssSnapshot struct {
	when  string
	bytes map[string]int64
}

func stackPeakRSS(stack *demo.Stack) map[string]int64 {
	out := map[string]int64{}
	for _, p := range stack.Host.Processes() {
		if n, err := p.PeakRSS(); err == nil {
			out[p.Name] = n
		}
	}
	return out
}

// printPeaks prints the functions whose peak grew after start-up (the ones the runs invoked) and the
// largest peak of all, which the CDK app's memory size is checked against.
func printPeaks(out io.Writer, peaks []rssSnapshot) {
	if len(peaks) < 2 {
		return
	}
	fmt.Fprintf(out, "\nPeak RSS of each bootstrap in the stack (VmHWM; functions the runs invoked, then the largest of all)\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "function\t")
	for _, p := range peaks {
		fmt.Fprintf(tw, "%s\t", p.when)
	}
	fmt.Fprintln(tw)
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
	last := peaks[len(peaks)-1].bytes
	var largest int64
	for _, name := range perf.SortedNames(last) {
		largest = max(largest, last[name])
		if last[name] == peaks[0].bytes[name] {
			continue
		}
		fmt.Fprintf(tw, "%s\t", name)
		for _, p := range peaks {
			fmt.Fprintf(tw, "%s\t", mb(p.bytes[name]))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "largest peak of all %d bootstraps: %s\n", len(last), mb(largest))
}
