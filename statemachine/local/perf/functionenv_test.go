package perf

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
)

// Every bootstrap perf measures starts with the environment its deployment gives it and reaches its
// first Runtime API poll: a function that refuses to start without a variable it is deployed with (as
// match and verify did without the bot list, and the health check without its probe key) fails here,
// not in the middle of `make bench`.
func TestColdStart_EveryFunctionStartsWithItsDeployedEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts every bootstrap")
	}
	root, err := deployment.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := FunctionPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		name := filepath.Base(p)
		env := FunctionEnv(name)
		if env == nil {
			t.Errorf("%s: no function of that name in shared/deployment: perf would start it with no configuration", p)
			continue
		}
		if !containsPrefix(env, deployment.EnvGoMemLimit+"=") {
			t.Errorf("%s: environment lacks %s: %v", name, deployment.EnvGoMemLimit, env)
		}
		names = append(names, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := BuildHost(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		ds, err := ColdStarts(ctx, bins[name], 1, FunctionEnv(name)...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(ds) != 1 {
			t.Errorf("%s: %d starts measured, want 1", name, len(ds))
		}
		initAllocations(ctx, t, name, bins[name])
	}
}

// maxInitBytes bounds what one package's initialisation may allocate in a Lambda. Allocation at init is
// deterministic, unlike its time, and is where start-up CPU went when it regressed: a counted repetition
// of Unicode classes in a regular expression ({1,128}) made shared/mapping's init allocate 14.8 MB and
// take 15–20 ms of every function's start.
const maxInitBytes = 1 << 20

// initAllocations runs bootstrap with GODEBUG=inittrace=1 (no Runtime API answers: it exits after its
// init) and fails for a package whose init allocates more than maxInitBytes.
func initAllocations(ctx context.Context, t *testing.T, name, bootstrap string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bootstrap)
	cmd.Env = append(append(append([]string{}, Env...), FunctionEnv(name)...), "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1")
	out, _ := cmd.CombinedOutput() // it exits with an error: nothing serves the Runtime API
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		// init <package> @0.5 ms, 0.7 ms clock, 312 bytes, 7 allocs
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		seen++
		if b, err := strconv.Atoi(f[7]); err != nil {
			t.Errorf("%s: inittrace line %q: %v", name, line, err)
		} else if b > maxInitBytes {
			t.Errorf("%s: package %s allocates %d bytes at init (%s ms): over %d; build what it needs on first use or without a counted regular expression", name, f[1], b, f[4], maxInitBytes)
		}
	}
	if seen == 0 {
		t.Errorf("%s: no inittrace lines in its output:\n%s", name, out)
	}
}

func containsPrefix(env []string, prefix string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}
