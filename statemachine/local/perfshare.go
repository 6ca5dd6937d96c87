package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/perf"
)

// CloudBots' Python Lambda measured the same way on this kind of machine (issue 18): process start → first
// poll, CPU time and wall time confined to 7.2% of a core.
const (
	cloudbotsInitCPU     = 142 * time.Millisecond
	cloudbotsInitAtShare = 2300 * time.Millisecond
)

// shareOpts are perf's --cpu-share measurements: every bootstrap under the CPU quota Lambda gives its
// memory size (perf.Share), in a cgroup.
type shareOpts struct {
	on bool
	// memory are the sizes measured, the deployed one first.
	memory []int
	// starts is how many starts of each bootstrap are measured under the quota (the provisioned-concurrency
	// case); cold and warm are the end-to-end runs per memory size; botCalls the calls of each other bot.
	starts, cold, warm, botCalls int
}

func parseMemory(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 128 || n > 10240 {
			return nil, fmt.Errorf("--share-memory: %q is not a Lambda memory size (128–10240 MB)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func ms2(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// quotaText describes the quota of memoryMB.
func quotaText(memoryMB int) string {
	sh := perf.Share(memoryMB)
	return fmt.Sprintf("%d MB: %.1f%% of a core, %.0f µs per %v CFS period", memoryMB, 100*sh,
		sh*float64(perf.CFSPeriod.Microseconds()), perf.CFSPeriod)
}

// inits measures every bootstrap's start: its CPU time at a full core (starts of each, interleaved) and,
// when a cgroup can be made, its start under the deployed memory size's quota.
func (o shareOpts) inits(ctx context.Context, out io.Writer, bins map[string]string, starts int) (map[string]perf.Inits, error) {
	g, cgErr := perf.NewCgroup("inits")
	method := "the cgroup's cpuacct.usage at the first poll (the process started inside a cpu,cpuacct cgroup)"
	if cgErr != nil {
		method = "the process's threads' run time (/proc/<pid>/task/*/schedstat) at the first poll: no cgroup (" + cgErr.Error() + ")"
		g = nil
	} else {
		defer g.Remove()
	}
	fmt.Fprintf(out, "\nStart-up CPU: process start → first Runtime API poll, %d starts of each bootstrap, interleaved; CPU time is\n%s.\nload average before: %s\n\n",
		starts, method, perf.LoadAverage())
	full, err := perf.MeasureInits(ctx, g, 0, bins, starts)
	if err != nil {
		return nil, err
	}
	var quota map[string]perf.Inits
	if g != nil && o.starts > 0 {
		if quota, err = perf.MeasureInits(ctx, g, perf.Share(o.memory[0]), bins, o.starts); err != nil {
			return nil, err
		}
	}
	floor := perf.Percentile(full[perf.FloorName].CPU, 50)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "function\tCPU median\tp90\t× floor\tCloudBots ÷\twall, full core\t"
	if quota != nil {
		header += fmt.Sprintf("at the %d MB quota: wall median\tp90\tCPU\tCloudBots ÷\t", o.memory[0])
	}
	fmt.Fprintln(tw, header)
	over := []string{}
	for _, name := range perf.SortedNames(full) {
		in := full[name]
		cpu := perf.Percentile(in.CPU, 50)
		if cpu > 5*time.Millisecond && name != perf.FloorName {
			over = append(over, fmt.Sprintf("%s %s", name, ms2(cpu)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.0f×\t%s\t", name, ms2(cpu), ms2(perf.Percentile(in.CPU, 90)),
			float64(cpu)/float64(floor), float64(cloudbotsInitCPU)/float64(cpu), ms2(perf.Percentile(in.Wall, 50)))
		if q, ok := quota[name]; ok {
			w := perf.Percentile(q.Wall, 50)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f×\t", ms(w), ms(perf.Percentile(q.Wall, 90)), ms2(perf.Percentile(q.CPU, 50)),
				float64(cloudbotsInitAtShare)/float64(w))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	goal := "every function ≤ 5 ms: met"
	if len(over) > 0 {
		goal = "over 5 ms: " + strings.Join(over, ", ")
	}
	fmt.Fprintf(out, "(floor: %s, aws-lambda-go with an echo handler and no AWS SDK; CloudBots' Python handler: %v of CPU, %v at 7.2%%;\n"+
		" goal %s; load average after: %s)\n", ms2(floor), cloudbotsInitCPU, cloudbotsInitAtShare, goal, perf.LoadAverage())
	if g == nil {
		fmt.Fprintf(out, "No start under a CPU quota: %v\n\n", cgErr)
	} else if quota != nil {
		fmt.Fprintf(out, "(at the quota: %s, the process in the cgroup from its exec: Lambda's provisioned-concurrency init; an on-demand init runs at a full core)\n\n",
			quotaText(o.memory[0]))
	}
	return full, nil
}

// stack measures the functions on the local stack, each in its own cgroup: first and warm invocation
// of every function at the deployed memory size's share, and one remediation cold and warm at every
// memory size of o.memory. The start-up figures (inits) give the cold remediation's init time.
func (o shareOpts) stack(ctx context.Context, out io.Writer, inits map[string]perf.Inits) error {
	groups, err := perf.NewGroups(append(slices.Clone(perf.E2EFunctions), botNames()...))
	if err != nil {
		fmt.Fprintf(out, "\nNo measurement at Lambda's CPU share: this machine does not allow a cgroup CPU quota here (%v).\n", err)
		return nil
	}
	defer groups.Close()
	tools, _, stack, err := startStack(ctx, demo.Options{FunctionEnv: perf.StackEnv(), Wrap: groups.Wrap, Suffix: "-share"})
	if err != nil {
		return err
	}
	defer stack.Close()
	ctx, cancel := stack.Context(ctx)
	defer cancel()
	fmt.Fprintf(out, "\nAt Lambda's CPU share, on the local stack (kumo, the real bootstraps, aws-local-stepfunctions in one Node process);\n"+
		"each bootstrap in its own cgroup, kumo and Node unconfined (AWS's services are not the function's CPU). Load average: %s\n", perf.LoadAverage())
	var runs []perf.ShareRuns
	for _, mem := range o.memory {
		r, err := perf.E2EAtShare(ctx, stack, tools, groups, mem, o.cold, o.warm)
		if err != nil {
			if serr := stack.Err(); serr != nil {
				return fmt.Errorf("at %d MB: local stack failed: %w", mem, serr)
			}
			return fmt.Errorf("at %d MB: %w", mem, err)
		}
		runs = append(runs, r)
	}
	others, err := perf.BotsAtShare(ctx, stack, groups, o.memory[0], o.botCalls)
	if err != nil {
		return err
	}
	o.printFunctions(out, runs[0], others)
	o.printRemediations(out, runs, inits)
	printTradeOff(out, runs, inits)
	fmt.Fprintf(out, "(load average after: %s)\n", perf.LoadAverage())
	return nil
}

func botNames() []string {
	var out []string
	for _, b := range bots.Registered() {
		if !slices.Contains(perf.E2EFunctions, b.Name) {
			out = append(out, b.Name)
		}
	}
	return out
}

// printFunctions is the first and warm invocation of each function at the deployed size's share.
func (o shareOpts) printFunctions(out io.Writer, r perf.ShareRuns, others []perf.BotWarm) {
	fmt.Fprintf(out, "\nFirst and warm invocation of each function at the %s (goal: first ≤ 60 ms median).\n"+
		"Timed at kumo's Lambda API (request in → response out, the Runtime API included). The remediation's functions: %d cold runs\n"+
		"(every one restarted, its init at a full core, then the quota) and %d warm runs a CFS period apart; the other bots: restarted,\n"+
		"then a dry-run call on the demo finding of their kind, and %d more a period apart. CPU: the function's cgroup, that call only.\n\n",
		quotaText(r.MemoryMB), len(r.Cold.InNode), len(r.Warm.InNode), o.botCalls)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tfirst: median\tp90\tits CPU\twarm: median\tp90\tits CPU\tcalled with\t")
	var over []string
	for _, fn := range perf.E2EFunctions {
		first := perf.Percentile(r.Cold.Hops[fn], 50)
		if first > 60*time.Millisecond {
			over = append(over, fmt.Sprintf("%s %s", fn, ms(first)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", fn, ms(first), ms(perf.Percentile(r.Cold.Hops[fn], 90)),
			ms2(perf.Percentile(r.ColdCPU[fn], 50)), ms(perf.Percentile(r.Warm.Hops[fn], 50)), ms(perf.Percentile(r.Warm.Hops[fn], 90)),
			ms2(perf.Percentile(r.WarmCPU[fn], 50)), "the remediation")
	}
	for _, b := range others {
		if b.First > 60*time.Millisecond {
			over = append(over, fmt.Sprintf("%s %s", b.Name, ms(b.First)))
		}
		o := b.Outcome
		if len(o) > 60 {
			o = o[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t–\t%s\t%s\t%s\t–\tdry run: %s\t\n", b.Name, ms(b.First), ms2(b.FirstCPU), ms(b.Median), ms(b.P90), o)
	}
	_ = tw.Flush()
	goal := "met by every function"
	if len(over) > 0 {
		goal = "over 60 ms: " + strings.Join(over, ", ")
	}
	fmt.Fprintf(out, "(first invocation ≤ 60 ms median: %s; a bot's first call is one sample)\n", goal)
}

// printRemediations is one remediation cold and warm at each memory size.
func (o shareOpts) printRemediations(out io.Writer, runs []perf.ShareRuns, inits map[string]perf.Inits) {
	var initSum time.Duration
	for _, fn := range perf.E2EFunctions {
		initSum += perf.Percentile(inits[fn].Wall, 50)
	}
	fmt.Fprintf(out, "\nOne remediation (%s: tag, then stop the instance), every Lambda at its memory size's share: cold, every function\n"+
		"of it started afresh before the run; warm, the same processes again, a CFS period after the last run. In Node, event in → execution end.\n"+
		"\"+ init\" adds the %d functions' own start at a full core (median start → first poll above: %s), which an on-demand cold start\n"+
		"spends before its first invocation; Lambda's own work to create an execution environment is not included.\n\n",
		perf.E2EFinding, len(perf.E2EFunctions), ms(initSum))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "memory\tCPU share\tcold: median\tp90\t+ init\twarm: median\tp90\tLambda hops, warm\tinterpreter, warm\t")
	for _, r := range runs {
		var hops time.Duration
		for _, fn := range perf.E2EFunctions {
			hops += perf.Percentile(r.Warm.Hops[fn], 50)
		}
		cold := perf.Percentile(r.Cold.InNode, 50)
		fmt.Fprintf(tw, "%d MB\t%.1f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.MemoryMB, 100*perf.Share(r.MemoryMB), ms(cold),
			ms(perf.Percentile(r.Cold.InNode, 90)), ms(cold+initSum), ms(perf.Percentile(r.Warm.InNode, 50)),
			ms(perf.Percentile(r.Warm.InNode, 90)), ms(hops), ms(perf.Percentile(r.Warm.Interpreter, 50)))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nEach hop at each size, first (cold) / warm median:")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "function\t")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d MB\t", r.MemoryMB)
	}
	fmt.Fprintln(tw)
	for _, fn := range perf.E2EFunctions {
		fmt.Fprintf(tw, "%s\t", fn)
		for _, r := range runs {
			fmt.Fprintf(tw, "%s / %s\t", ms(perf.Percentile(r.Cold.Hops[fn], 50)), ms(perf.Percentile(r.Warm.Hops[fn], 50)))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// printTradeOff is the memory-size trade-off of one remediation (the cost model's two-action shape, the
// same finding): the time to contain it, cold and warm, and what a million such findings cost at each
// size, its Lambda duration priced from what was measured at that size's share.
func printTradeOff(out io.Writer, runs []perf.ShareRuns, inits map[string]perf.Inits) {
	shape, ok := perf.ShapeNamed(perf.ShapeTwo)
	if !ok {
		return
	}
	// On demand, Lambda runs init at a full core whatever the size, and bills it (provided.al2023):
	// each function's median start, the mean over the remediation's functions.
	var initSum time.Duration
	for _, fn := range perf.E2EFunctions {
		initSum += perf.Percentile(inits[fn].Wall, 50)
	}
	initMs := float64(initSum) / float64(time.Millisecond) / float64(len(perf.E2EFunctions))
	// handlerMs is one run's billed handler time: each function's median at this share, rounded up to
	// Lambda's 1 ms billing step.
	handlerMs := func(hops map[string][]time.Duration) int {
		n := 0
		for _, fn := range perf.E2EFunctions {
			n += int(math.Ceil(float64(perf.Percentile(hops[fn], 50)) / float64(time.Millisecond)))
		}
		return n
	}
	price := func(hops map[string][]time.Duration, mem int, cold bool) (duration, total float64) {
		s := shape
		s.HandlerMs = handlerMs(hops)
		a := perf.DefaultAssumptions
		a.MemoryMB, a.ColdShare, a.InitMs = float64(mem), 0, initMs
		if cold {
			a.ColdShare = 1
		}
		m := perf.Monthly(s, 1e6, perf.ListPrices, a)
		for _, l := range m.Standard {
			if strings.HasPrefix(l.Item, "Lambda arm64 duration") {
				duration = l.Cost
			}
		}
		total, _ = perf.Total(m.Standard)
		return duration, total
	}
	fmt.Fprintf(out, "\nMemory size trade-off, one remediation of %s (the cost model's %q shape: %d Lambda invocations, %d AWS calls):\n"+
		"time to contain as measured here (cold: + the functions' init at a full core, %s); cost of 1M findings at list prices,\n"+
		"no free tier, Standard workflow, Lambda duration from the handler times measured at each share + %g ms per AWS call\n"+
		"(AWS's latency, the same at every size) + on a cold run each invocation's init (%.1f ms mean, billed).\n\n",
		perf.E2EFinding, perf.ShapeTwo, shape.Invocations, shape.Calls, ms(initSum), perf.DefaultAssumptions.APILatencyMs, initMs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "memory\tcontain cold\tcontain warm\tLambda duration, 1M cold\t1M warm\ttotal, 1M cold\t1M warm\t")
	for _, r := range runs {
		cd, ct := price(r.Cold.Hops, r.MemoryMB, true)
		wd, wt := price(r.Warm.Hops, r.MemoryMB, false)
		fmt.Fprintf(tw, "%d MB\t%s\t%s\t$%.2f\t$%.2f\t$%.2f\t$%.2f\t\n", r.MemoryMB,
			ms(perf.Percentile(r.Cold.InNode, 50)+initSum), ms(perf.Percentile(r.Warm.InNode, 50)), cd, wd, ct, wt)
	}
	_ = tw.Flush()
}
