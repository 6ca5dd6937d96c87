package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// InitSample is one start of a bootstrap: process start → its first Runtime API poll, in wall time and in
// the CPU time it used.
type InitSample struct {
	Wall, CPU time.Duration
}

// Inits is a bootstrap's starts.
type Inits struct {
	Wall, CPU []time.Duration
}

// MeasureInits starts each bootstrap of bins n times, in g when g is not nil, under share of a core (0: no
// quota), and returns each one's starts. The rounds are interleaved (every bootstrap once, then again), so
// a change in the machine's load falls on every function alike.
func MeasureInits(ctx context.Context, g *Cgroup, share float64, bins map[string]string, n int) (map[string]Inits, error) {
	if g != nil {
		if err := g.SetShare(share); err != nil {
			return nil, err
		}
		defer g.SetShare(0)
	}
	out := map[string]Inits{}
	for range n {
		for _, name := range SortedNames(bins) {
			if g != nil && share > 0 {
				// A fresh execution environment starts with the whole period's budget: the previous
				// start's CPU in this period would otherwise throttle this one (a start under a 7.2%
				// quota then takes a whole period more).
				time.Sleep(CFSPeriod)
			}
			s, err := initOnce(ctx, g, bins[name], FunctionEnv(name)...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			in := out[name]
			in.Wall, in.CPU = append(in.Wall, s.Wall), append(in.CPU, s.CPU)
			out[name] = in
		}
	}
	return out, nil
}

func initOnce(ctx context.Context, g *Cgroup, bootstrap string, env ...string) (InitSample, error) {
	p, err := StartIn(g, bootstrap, env...)
	if err != nil {
		return InitSample{}, err
	}
	defer p.Stop()
	wall, err := p.WaitFirstNext(ctx)
	if err != nil {
		return InitSample{}, err
	}
	cpu, err := p.InitCPU()
	return InitSample{Wall: wall, CPU: cpu}, err
}

// Groups is one cgroup per function of the local stack, each function's own CPU share as on Lambda.
type Groups struct {
	byName map[string]*Cgroup
}

// NewGroups makes a group for each name; on a machine that does not allow it, the error says why.
func NewGroups(names []string) (*Groups, error) {
	g := &Groups{byName: map[string]*Cgroup{}}
	for _, n := range names {
		c, err := NewCgroup(n)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.byName[n] = c
	}
	return g, nil
}

// Wrap starts the named function's bootstrap in its group (demo.Options.Wrap).
func (g *Groups) Wrap(name string, cmd *exec.Cmd) {
	if c := g.byName[name]; c != nil {
		c.Command(cmd)
	}
}

// SetShare gives each named function share of a core (0: no quota).
func (g *Groups) SetShare(names []string, share float64) error {
	var errs []error
	for _, n := range names {
		if c := g.byName[n]; c != nil {
			errs = append(errs, c.SetShare(share))
		}
	}
	return errors.Join(errs...)
}

// CPU is the CPU time each named function's group has used (cpuacct), by name.
func (g *Groups) CPU(names []string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, n := range names {
		if c := g.byName[n]; c != nil {
			d, err := c.CPU()
			if err != nil {
				return nil, err
			}
			out[n] = d
		}
	}
	return out, nil
}

// Close removes the groups (their processes must have ended).
func (g *Groups) Close() {
	for _, c := range g.byName {
		c.Remove()
	}
}

// ShareRuns is one remediation through the local workflow with each Lambda at the CPU share of MemoryMB:
// Cold with every function of the remediation started afresh before each run (its init at a full core, as
// Lambda runs an on-demand init, then the quota), Warm with the same processes invoked again.
type ShareRuns struct {
	MemoryMB   int
	Cold, Warm InRunner
	// ColdCPU and WarmCPU are the CPU time each function used in each run (its cgroup's accounting):
	// what its invocation cost, whatever the quota made it wait.
	ColdCPU, WarmCPU map[string][]time.Duration
}

// measured runs one remediation and records it, with each function's CPU time, in runs and cpu.
func measured(ctx context.Context, stack *demo.Stack, r *Runner, groups *Groups, tmpl []byte, runs *InRunner, cpu map[string][]time.Duration) error {
	before, err := groups.CPU(E2EFunctions)
	if err != nil {
		return err
	}
	res, invokes, err := remediateOnce(ctx, stack, r, tmpl)
	if err != nil {
		return err
	}
	after, err := groups.CPU(E2EFunctions)
	if err != nil {
		return err
	}
	runs.add(res, invokes)
	for fn, d := range after {
		cpu[fn] = append(cpu[fn], d-before[fn])
	}
	return nil
}

// E2EAtShare runs cold, then warm remediations of E2EFinding with every function of E2EFunctions at the
// CPU share of memoryMB, one at a time, each warm run a CFS period after the last (an isolated finding,
// the quota's budget renewed) — back-to-back runs would measure how fast the quota lets calls through,
// not how long one takes. The quota is lifted when it returns.
func E2EAtShare(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, groups *Groups, memoryMB, cold, warm int) (ShareRuns, error) {
	f, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		return ShareRuns{}, err
	}
	r, err := newStackRunner(ctx, stack, tools, fmt.Sprintf("at the %d MB share", memoryMB))
	if err != nil {
		return ShareRuns{}, err
	}
	defer r.Close()
	defer groups.SetShare(E2EFunctions, 0)
	out := ShareRuns{MemoryMB: memoryMB,
		Cold:    InRunner{Startup: r.Startup, Hops: map[string][]time.Duration{}},
		Warm:    InRunner{Startup: r.Startup, Hops: map[string][]time.Duration{}},
		ColdCPU: map[string][]time.Duration{}, WarmCPU: map[string][]time.Duration{}}
	// One remediation first, unmeasured and at a full core: the runner's, kumo's and the stand-ins' own
	// first-time work is not the functions'.
	if _, _, err := remediateOnce(ctx, stack, r, f.Event); err != nil {
		return out, fmt.Errorf("warm-up: %w", err)
	}
	share := Share(memoryMB)
	for i := range cold {
		if err := groups.SetShare(E2EFunctions, 0); err != nil {
			return out, err
		}
		for _, fn := range E2EFunctions {
			if err := stack.Restart(ctx, fn); err != nil {
				return out, err
			}
		}
		if err := groups.SetShare(E2EFunctions, share); err != nil {
			return out, err
		}
		if err := measured(ctx, stack, r, groups, f.Event, &out.Cold, out.ColdCPU); err != nil {
			return out, fmt.Errorf("cold run %d at %d MB: %w", i+1, memoryMB, err)
		}
	}
	for i := range warm {
		time.Sleep(CFSPeriod)
		if err := measured(ctx, stack, r, groups, f.Event, &out.Warm, out.WarmCPU); err != nil {
			return out, fmt.Errorf("warm run %d at %d MB: %w", i+1, memoryMB, err)
		}
	}
	return out, nil
}

// BotsAtShare measures every bot Lambda the remediation of E2EFinding does not use at the CPU share of
// memoryMB: restarted (its init at a full core), then its first call at the share and n more, a CFS
// period apart, each a dry run on the demo finding of its kind (WarmBots).
func BotsAtShare(ctx context.Context, stack *demo.Stack, groups *Groups, memoryMB, n int) ([]BotWarm, error) {
	byKind, err := demoFindingsByKind(ctx, stack.Resources)
	if err != nil {
		return nil, err
	}
	var out []BotWarm
	for _, b := range bots.Registered() {
		if slices.Contains(E2EFunctions, b.Name) {
			continue
		}
		f, err := demoFindingFor(b, byKind)
		if err != nil {
			return nil, err
		}
		name := []string{b.Name}
		cold := func(ctx context.Context) error {
			if err := groups.SetShare(name, 0); err != nil {
				return err
			}
			if err := stack.Restart(ctx, b.Name); err != nil {
				return err
			}
			return groups.SetShare(name, Share(memoryMB))
		}
		cpu := func() (time.Duration, error) {
			m, err := groups.CPU(name)
			return m[b.Name], err
		}
		w, err := warmBot(ctx, stack, b.Name, f, n, botCalls{prepare: cold, gap: CFSPeriod, cpu: cpu})
		_ = groups.SetShare(name, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// LoadAverage is the machine's load average (1, 5, 15 minutes), for the report: the figures of a loaded
// machine are not a quiet one's.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
