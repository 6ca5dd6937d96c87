package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/perf"
	"github.com/guardbots/guardbots/statemachine/local/procwatch"
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
	soak := fs.Bool("soak", false, "fail unless every process's descriptors and memory stayed flat over the --throughput run")
	var share shareOpts
	fs.BoolVar(&share.on, "cpu-share", false, "measure at Lambda's CPU share (a cgroup CPU quota): start-up CPU, first and warm invocations, one remediation cold and warm")
	memory := fs.String("share-memory", "128,256,512", "memory sizes (MB) whose CPU share --cpu-share measures one remediation at; the first is the deployed size")
	fs.IntVar(&share.starts, "share-starts", 7, "starts of each bootstrap under the deployed size's quota (--cpu-share)")
	fs.IntVar(&share.cold, "share-cold", 10, "remediations with every function cold, per memory size (--cpu-share)")
	fs.IntVar(&share.warm, "share-warm", 20, "remediations with every function warm, per memory size (--cpu-share)")
	fs.IntVar(&share.botCalls, "share-bot-calls", 10, "warm calls of each other bot after its first (--cpu-share)")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	var err error
	if share.memory, err = parseMemory(*memory); err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 2
	}
	// Interrupted: the deferred Closes still stop every process the run started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inits, err := runPerf(ctx, stdout, *starts, *invocations, share)
	if err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 1
	}
	if share.on {
		if err := share.stack(ctx, stdout, inits); err != nil {
			fmt.Fprintf(stderr, "perf: %v\n", err)
			return 1
		}
	}
	sp := stackPerf{e2e: *e2e, throughput: *throughput, concurrency: *concurrency, warmBots: *warmBots, soak: *soak}
	if err := sp.run(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 1
	}
	return 0
}

// runPerf measures each bootstrap on its own: cold starts, warm invocations; with share.on, its start-up
// CPU and its start under the quota too (returned, for the cold remediation's init time).
func runPerf(ctx context.Context, out io.Writer, starts, invocations int, share shareOpts) (map[string]perf.Inits, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "guardbots-perf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bins, err := perf.BuildHost(ctx, root, dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "machine: %s; load average %s\n\n", perf.Machine(), perf.LoadAverage())
	var inits map[string]perf.Inits
	if share.on {
		if inits, err = share.inits(ctx, out, bins, starts); err != nil {
			return nil, err
		}
	}
	return inits, runBootstraps(ctx, out, root, bins, starts, invocations)
}

func runBootstraps(ctx context.Context, out io.Writer, root string, bins map[string]string, starts, invocations int) error {

	fmt.Fprintf(out, "Cold start: process start → first Runtime API poll, %d starts each (CloudBots: %v median)\n\n", starts, cloudbotsColdStart)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tmedian\tp90\tvs CloudBots\tzipped arm64 artifact\t")
	for _, name := range perf.SortedNames(bins) {
		ds, err := perf.ColdStarts(ctx, bins[name], starts, perf.FunctionEnv(name)...)
		if err != nil {
			return err
		}
		med := perf.Percentile(ds, 50)
		zip := zipped(root, name)
		if name == perf.FloorName {
			zip = "(reference: aws-lambda-go only)"
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.0f×\t%s\t\n", name, med.Round(10*time.Microsecond), perf.Percentile(ds, 90).Round(10*time.Microsecond),
			float64(cloudbotsColdStart)/float64(med), zip)
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
		env := append(perf.FunctionEnv(name), "GUARDBOTS_AUDIT_TABLE=")
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

// stackPerf is what perf measures on the local stack.
type stackPerf struct {
	e2e, throughput, concurrency, warmBots int
	// soak fails the run unless descriptors and memory stayed flat over the throughput run.
	soak bool
}

// run measures the whole workflow on the local stack (demo.Stack: kumo, the real bootstraps,
// aws-local-stepfunctions), started before any timing: end-to-end latency of one remediation and
// throughput. Both are off unless asked: the stack and 1,000 findings take minutes. Every step is bound
// to the stack: a component that cannot go on fails the run with its name, and every process stops.
func (sp stackPerf) run(ctx context.Context, out io.Writer) error {
	if sp.e2e <= 0 && sp.throughput <= 0 && sp.warmBots <= 0 {
		return nil
	}
	tools, _, stack, err := startStack(ctx, demo.Options{FunctionEnv: perf.StackEnv()})
	if err != nil {
		return err
	}
	defer stack.Close()
	ctx, cancel := stack.Context(ctx)
	defer cancel()
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	// Every process's figures, read after start-up (one warm-up ping each) and after each run, so the
	// memory of the functions the workflow really used is seen after 1,000+ real invocations.
	peaks := []usageSnapshot{{"after start-up", usageByName(stack)}}
	defer func() { printPeaks(out, peaks, usageByName(stack)) }()
	row := func(tw io.Writer, name string, ds []time.Duration) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, ms(perf.Percentile(ds, 50)), ms(perf.Percentile(ds, 90)))
	}
	// A step's error says what failed; a failed stack's error says which component and why.
	failed := func(step string, err error) error {
		if serr := stack.Err(); serr != nil {
			return fmt.Errorf("%s: local stack failed: %w (every process it started is stopped)", step, serr)
		}
		return fmt.Errorf("%s: %w", step, err)
	}

	if sp.warmBots > 0 {
		ws, err := perf.WarmBots(ctx, stack, sp.warmBots)
		if err != nil {
			return failed("warm bots", err)
		}
		fmt.Fprintf(out, "\nEvery bot Lambda warm on the local stack: %d dry-run calls each after one unmeasured (kumo Lambda API → Runtime API →\n"+
			"the bootstrap, which reads the live resource from kumo); the outcome column says what the call did\n\n", sp.warmBots)
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
		peaks = append(peaks, usageSnapshot{fmt.Sprintf("after %d bot calls", sp.warmBots+1), usageByName(stack)})
	}

	if sp.e2e > 0 {
		const warmup = 3
		in, err := perf.E2EInRunner(ctx, stack, tools, sp.e2e, warmup)
		if err != nil {
			return failed("e2e", err)
		}
		fmt.Fprintf(out, "\nEnd to end, one remediation (%s: tag then stop the instance, stop not waiting for stopped), %d runs after %d warm-up,\n"+
			"one long-lived Node process (aws-local-stepfunctions), kumo and bootstraps already running (CloudBots: %v median warm call, p90 224 ms;\n"+
			"target: median < 67 ms, p90 < 100 ms)\n\n", perf.E2EFinding, sp.e2e, warmup, cloudbotsWarm)
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

		pe, err := perf.E2EPerExec(ctx, stack, tools, sp.e2e)
		if err != nil {
			return failed("e2e per execution", err)
		}
		fmt.Fprintf(out, "\nThe same, %d runs with aslrun as make demo runs it: one Node process per execution\n\n", sp.e2e)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "part\tmedian\tp90\t")
		row(tw, "Node start → report read", pe.Total)
		row(tw, "  Node start-up (→ first event)", pe.NodeStart)
		row(tw, "  execution (first → last event, ms clock)", pe.Execution)
		if err := tw.Flush(); err != nil {
			return err
		}
		peaks = append(peaks, usageSnapshot{fmt.Sprintf("after %d executions", 2*sp.e2e+3), usageByName(stack)})
	}

	if sp.throughput > 0 {
		t, err := perf.RunThroughput(ctx, stack, tools, sp.throughput, sp.concurrency)
		if err != nil {
			return failed("throughput", err)
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
		peaks = append(peaks, usageSnapshot{fmt.Sprintf("+ %d more", t.N), usageByName(stack)})
		fmt.Fprintf(out, "proof (%s): executions SUCCEEDED %d/%d; notifications: exactly one %d, none %d, more than one %d, unknown finding %d;\n"+
			"  audit: tag + stop records of its own execution %d/%d; instances stopped and tagged with their finding's id %d/%d\n",
			verdict, t.Succeeded, t.N, t.Once, t.Missing, t.Duplicated, t.Strays, t.AuditOK, t.N, t.Stopped, t.N)
		for _, f := range slices.Sorted(maps.Keys(t.Failures)) {
			fmt.Fprintf(out, "  not succeeded, %d×: %s\n", t.Failures[f], f)
		}
		flat := t.Flat()
		printFlatness(out, t, flat)
		if !t.OK() {
			return fmt.Errorf("throughput: a finding was lost or handled twice")
		}
		if sp.soak && flat != nil {
			return fmt.Errorf("soak: %w", flat)
		}
	}
	return nil
}

// usageSnapshot is every process's descriptors and memory at one point of the stack run, by name.
type usageSnapshot struct {
	when  string
	usage map[string]procwatch.Usage
}

func usageByName(stack *demo.Stack) map[string]procwatch.Usage {
	out := map[string]procwatch.Usage{}
	for _, u := range stack.Usage() {
		out[u.Name] = u
	}
	return out
}

// printPeaks prints, for this process, the Node runners and the bootstraps whose peak RSS grew by 1 MB or
// more after start-up (the ones the runs invoked), the peak RSS at each snapshot beside the peak descriptor count
// over the whole run; then the largest of all bootstraps, which the CDK app's memory size is checked
// against.
func printPeaks(out io.Writer, peaks []usageSnapshot, final map[string]procwatch.Usage) {
	fmt.Fprintf(out, "\nPeak RSS (VmHWM) and peak open descriptors of each process of the stack: this one, the Node runners,\n"+
		"the bootstraps the runs invoked (sampled every 0.5 s; the budget is half each process's limit, over it the run fails)\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "process\t")
	for _, p := range peaks {
		fmt.Fprintf(tw, "%s\t", p.when)
	}
	fmt.Fprintln(tw, "peak descriptors\tbudget\t")
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
	var largest int64
	var largestFD, bootstraps int
	for _, name := range perf.SortedNames(final) {
		u := final[name]
		if bootstrap := strings.HasPrefix(name, "bootstrap "); bootstrap {
			bootstraps++
			largest, largestFD = max(largest, u.PeakRSS), max(largestFD, u.PeakDescriptors)
			// An idle bootstrap's peak creeps up by a few hundred kilobytes (the Go runtime's own work).
			if u.PeakRSS-peaks[0].usage[name].PeakRSS < 1<<20 {
				continue
			}
		}
		fmt.Fprintf(tw, "%s\t", name)
		for _, p := range peaks {
			if pu, ok := p.usage[name]; ok {
				fmt.Fprintf(tw, "%s\t", mb(pu.PeakRSS))
			} else {
				fmt.Fprint(tw, "–\t")
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t\n", u.PeakDescriptors, u.Budget)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "largest peak of all %d bootstraps: %s, %d descriptors\n", bootstraps, mb(largest), largestFD)
}

// printFlatness prints the processes' descriptors and memory after each tenth of a throughput run: a
// leak shows as a column that keeps growing.
func printFlatness(out io.Writer, t perf.Throughput, flat error) {
	cps := t.Checkpoints
	if len(cps) == 0 {
		return
	}
	verdict := "flat"
	if flat != nil {
		verdict = "NOT FLAT: " + flat.Error()
	}
	fmt.Fprintf(out, "\nDescriptors and resident memory (VmRSS) after each tenth of the findings (%s)\n\n", verdict)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "process\t")
	for _, cp := range cps {
		fmt.Fprintf(tw, "%d\t", cp.Done)
	}
	fmt.Fprintln(tw)
	mb := func(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
	for _, u := range cps[len(cps)-1].Usage {
		if u.Ended {
			continue // an earlier runner
		}
		if strings.HasPrefix(u.Name, "bootstrap ") && !slices.Contains(perf.E2EFunctions, strings.TrimPrefix(u.Name, "bootstrap ")) {
			continue // not invoked by this run
		}
		for _, what := range []string{"descriptors", "RSS"} {
			fmt.Fprintf(tw, "%s, %s\t", u.Name, what)
			for _, cp := range cps {
				c, ok := cp.Find(u)
				switch {
				case !ok:
					fmt.Fprint(tw, "–\t")
				case what == "RSS":
					fmt.Fprintf(tw, "%s\t", mb(c.RSS))
				default:
					fmt.Fprintf(tw, "%d\t", c.Descriptors)
				}
			}
			fmt.Fprintln(tw)
		}
	}
	fmt.Fprintf(tw, "%s, goroutines\t", demo.SelfName)
	for _, cp := range cps {
		fmt.Fprintf(tw, "%d\t", cp.Goroutines)
	}
	fmt.Fprintf(tw, "\n%s, live heap\t", demo.SelfName)
	for _, cp := range cps {
		fmt.Fprintf(tw, "%s\t", mb(int64(cp.HeapLive)))
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
	if per := t.HeapGrowthPerFinding(); per != 0 {
		fmt.Fprintf(out, "(this process's live heap holds kumo's stored data — an instance, its tags, a state item, two audit records, the\n"+
			"GuardDuty stand-in's copy of the finding — and grew %.1f KB per finding from %d to %d findings)\n",
			per/1024, cps[0].Done, cps[len(cps)-1].Done)
	}
}
