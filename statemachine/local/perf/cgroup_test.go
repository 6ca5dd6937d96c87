package perf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestShare_IsLambdasCPUForTheMemory(t *testing.T) {
	for mem, want := range map[int]string{128: "0.0724", 256: "0.1447", 512: "0.2894", 1769: "1.0000"} {
		if got := strconv.FormatFloat(Share(mem), 'f', 4, 64); got != want {
			t.Errorf("Share(%d) = %s, want %s", mem, got, want)
		}
	}
}

// A process started through Command runs inside the group from its exec: it is in the group's tasks,
// the quota set is the one written, and its CPU time is accounted there. Skipped, saying why, where the
// machine allows no cgroup (not root, or no cgroup v1 cpu and cpuacct controllers).
func TestCgroup_ConfinesAndAccountsAProcessFromItsStart(t *testing.T) {
	g, err := NewCgroup("test")
	if err != nil {
		t.Skipf("no cgroup here: %v", err)
	}
	t.Cleanup(g.Remove)
	if err := g.SetShare(Share(128)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(g.cpu, "cpu.cfs_quota_us"))
	if err != nil || strings.TrimSpace(string(b)) != "7236" {
		t.Fatalf("quota %q (%v), want 7236 µs per 100 ms period", b, err)
	}
	if err := g.ResetCPU(); err != nil {
		t.Fatal(err)
	}
	// The program reads its own cgroup membership: it must name the group, in both hierarchies.
	prog := filepath.Join(t.TempDir(), "whereami")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ncat /proc/self/cgroup\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog)
	g.Command(cmd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run in the group: %v", err)
	}
	name := filepath.Base(g.cpu)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if (strings.Contains(line, ":cpu,") || strings.Contains(line, ",cpu:") || strings.Contains(line, ":cpu:") ||
			strings.Contains(line, "cpuacct")) && !strings.HasSuffix(line, "/"+name) {
			t.Errorf("the program's cgroup %q, want the group %s", line, name)
		}
	}
	used, err := g.CPU()
	if err != nil || used <= 0 {
		t.Errorf("CPU accounted to the group: %v (%v), want > 0", used, err)
	}
	if err := g.SetShare(0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(g.cpu, "cpu.cfs_quota_us")); strings.TrimSpace(string(b)) != "-1" {
		t.Errorf("quota lifted: %q, want -1", b)
	}
}
