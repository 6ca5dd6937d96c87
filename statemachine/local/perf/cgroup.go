package perf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB (AWS Lambda developer
// guide, "Configuring function memory"), so a 128 MB function gets about 7.2% of a core.
const FullCoreMB = 1769

// Share is the fraction of one core Lambda gives a function of memoryMB.
func Share(memoryMB int) float64 { return float64(memoryMB) / FullCoreMB }

// CFSPeriod is the quota's accounting period: the kernel's default. A process that uses its share of
// a period waits for the next one, so at 7.2% a call needing 8 ms of CPU takes more than 100 ms.
const CFSPeriod = 100 * time.Millisecond

// cgroupRoot is where cgroup v1 hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// Cgroup is a cgroup v1 group in the cpu hierarchy (for the CPU quota) and in the cpuacct hierarchy
// (for the CPU time its processes used). Processes join it through Command.
type Cgroup struct {
	cpu, acct string
}

var cgroupSeq atomic.Int64

// NewCgroup creates a group for one process (or one run of processes). It fails, saying why, where the
// machine does not allow it: no cgroup v1 cpu and cpuacct controllers mounted, or no permission (not
// root). Remove it when its processes have ended.
func NewCgroup(label string) (*Cgroup, error) {
	cpu, acct := filepath.Join(cgroupRoot, "cpu"), filepath.Join(cgroupRoot, "cpuacct")
	if _, err := os.Stat(filepath.Join(cpu, "cpu.cfs_quota_us")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 cpu controller at %s (cgroup v2 is not supported here): %w", cpu, err)
	}
	if _, err := os.Stat(filepath.Join(acct, "cpuacct.usage")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 cpuacct controller at %s: %w", acct, err)
	}
	name := fmt.Sprintf("guardbots-perf-%d-%d-%s", os.Getpid(), cgroupSeq.Add(1), label)
	g := &Cgroup{cpu: filepath.Join(cpu, name), acct: filepath.Join(acct, name)}
	if err := os.Mkdir(g.cpu, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s (root needed): %w", g.cpu, err)
	}
	// cpu and cpuacct mounted together (cpu,cpuacct) are one directory.
	if err := os.Mkdir(g.acct, 0o755); err != nil && !(errors.Is(err, os.ErrExist) && sameDir(g.cpu, g.acct)) {
		_ = os.Remove(g.cpu)
		return nil, fmt.Errorf("create cgroup %s: %w", g.acct, err)
	}
	if err := g.write(g.cpu, "cpu.cfs_period_us", strconv.FormatInt(CFSPeriod.Microseconds(), 10)); err != nil {
		g.Remove()
		return nil, err
	}
	return g, nil
}

func sameDir(a, b string) bool {
	x, err1 := os.Stat(a)
	y, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}

func (g *Cgroup) write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("cgroup: write %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	return nil
}

// SetShare confines the group to share of one core (quota = share × period); share ≤ 0 or ≥ 1 lifts
// the quota (a whole core, or what the machine gives). It applies at once to running processes.
func (g *Cgroup) SetShare(share float64) error {
	quota := "-1"
	if share > 0 && share < 1 {
		quota = strconv.FormatInt(int64(math.Round(share*float64(CFSPeriod.Microseconds()))), 10)
	}
	return g.write(g.cpu, "cpu.cfs_quota_us", quota)
}

// CPU is the CPU time the group's processes used since it was created or ResetCPU.
func (g *Cgroup) CPU() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(g.acct, "cpuacct.usage"))
	if err != nil {
		return 0, fmt.Errorf("cgroup: %w", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup: cpuacct.usage %q: %w", b, err)
	}
	return time.Duration(ns), nil
}

// ResetCPU sets the group's CPU time back to zero.
func (g *Cgroup) ResetCPU() error { return g.write(g.acct, "cpuacct.usage", "0") }

// Command makes cmd start in the group: a shell writes its own pid into the group's tasks and then
// execs the program, so the process is confined from its first instruction (cgroup v1 has no way to
// start a process inside a group). The shell's own start-up is not counted; the exec is.
func (g *Cgroup) Command(cmd *exec.Cmd) {
	// The program is run without arguments (a bootstrap takes none).
	const join = `echo $$ > "$1/tasks" && echo $$ > "$2/tasks" && exec "$0"`
	cmd.Path, cmd.Args = "/bin/sh", []string{"sh", "-c", join, cmd.Path, g.cpu, g.acct}
}

// Remove deletes the group; its processes must have exited (the kernel refuses otherwise).
func (g *Cgroup) Remove() {
	for _, d := range []string{g.cpu, g.acct} {
		// A process just killed leaves the group a moment after it is reaped.
		for range 50 {
			if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// ThreadsCPU is the CPU time every thread of pid has used (the sum of /proc/<pid>/task/*/schedstat):
// the measure where no cgroup can be made. Threads that have exited are not counted (the Go runtime
// keeps its threads).
func ThreadsCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no threads of pid %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}
