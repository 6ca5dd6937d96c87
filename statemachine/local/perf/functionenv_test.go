package perf

import (
	"context"
	"path/filepath"
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
