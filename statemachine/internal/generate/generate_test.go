package generate

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	_ "github.com/guardbots/guardbots/shared/bots/all" // the generated files come from every implementation
	"github.com/guardbots/guardbots/statemachine"
)

var root = filepath.Join("..", "..", "..")

// Every generated file in the repository is what one go generate ./... would write now.
func TestFiles_TheCommittedFilesAreCurrent(t *testing.T) {
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	wanted := map[string]bool{}
	for _, f := range files {
		wanted[f.Path] = true
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil || !bytes.Equal(got, f.Content) {
			t.Errorf("%s is missing or stale: run go generate ./... and commit it", f.Path)
		}
	}
	stale, err := StaleMains(root, wanted)
	if err != nil || len(stale) > 0 {
		t.Errorf("%v have no registered bot (%v): run go generate ./...", stale, err)
	}
	for _, want := range []string{CatalogueFile, filepath.Join("statemachine", statemachine.File), "README.md",
		filepath.Join("functions", "bots", "ec2_stop_instance", "main.go")} {
		if !wanted[want] {
			t.Errorf("%s is not generated", want)
		}
	}
	if n := len(bots.Implemented()); n != len(bots.Registered()) {
		t.Errorf("%d bots are linked here but %d catalogued: shared/bots/all must link every family", n, len(bots.Registered()))
	}
}

// The catalogue comes first: the state machine generated in the same run already has the branch of a
// bot the catalogue did not know, and no branch of one it knew that is gone.
func TestFiles_TheStateMachineIsMadeFromTheCatalogueWrittenInTheSameRun(t *testing.T) {
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Path != CatalogueFile {
		t.Fatalf("the first file is %s, want the catalogue", files[0].Path)
	}
	var order []string
	for _, f := range files {
		order = append(order, f.Path)
	}
	asl := slices.Index(order, filepath.Join("statemachine", statemachine.File))
	readme := slices.Index(order, "README.md")
	if asl < 0 || readme < asl {
		t.Errorf("order %v: want the catalogue, the mains, the state machine, then the README", order)
	}
}

// The issue this generator closes: after adding a bot, one go generate ./... yields a state machine
// with its branch (two generators used to run in package order, the state machine's first, from the
// old catalogue). This runs the real go generate in a copy of the module, once with a new bot and once
// after removing it.
func TestGoGenerate_OneRunAfterAddingABotGivesItsBranchAndOneAfterRemovingItTakesItAway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generator in a copy of the module")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	dir := t.TempDir()
	for _, sub := range []string{"go.mod", "go.sum", "README.md", "functions", "shared", "statemachine"} {
		if err := copyTree(filepath.Join(root, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	generate := func() string {
		t.Helper()
		cmd := exec.Command(goTool, "generate", "./...")
		cmd.Dir = dir
		// Offline, with the module cache this test already uses; nothing leaves the machine.
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go generate ./...: %v\n%s", err, out)
		}
		return string(out)
	}
	botFile := filepath.Join(dir, "shared", "bots", "ec2bots", "ec2_probe_instance.go")
	if err := os.WriteFile(botFile, []byte(probeBot), 0o644); err != nil {
		t.Fatal(err)
	}
	generate()
	if !hasBranch(t, filepath.Join(dir, "statemachine", statemachine.File), "ec2_probe_instance") {
		t.Error("after one go generate ./..., the state machine has no branch of the new bot")
	}
	catalogue, _ := os.ReadFile(filepath.Join(dir, CatalogueFile))
	main, err := os.ReadFile(filepath.Join(dir, "functions", "bots", "ec2_probe_instance", "main.go"))
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !bytes.Contains(catalogue, []byte(`"name": "ec2_probe_instance"`)) || err != nil ||
		!bytes.Contains(main, []byte(`"github.com/guardbots/guardbots/shared/bots/ec2bots"`)) ||
		!bytes.Contains(readme, []byte("| `ec2_probe_instance` | Instance |")) {
		t.Errorf("the new bot is missing from the catalogue, its main (%v) or the README", err)
	}
	if out := generate(); !strings.Contains(out, "0 written") {
		t.Errorf("a second run changed files:\n%s", out)
	}

	if err := os.Remove(botFile); err != nil {
		t.Fatal(err)
	}
	generate()
	if hasBranch(t, filepath.Join(dir, "statemachine", statemachine.File), "ec2_probe_instance") {
		t.Error("after removing the bot and one go generate ./..., the state machine still has its branch")
	}
	if _, err := os.Stat(filepath.Join(dir, "functions", "bots", "ec2_probe_instance")); !os.IsNotExist(err) {
		t.Errorf("the removed bot's main is still there: %v", err)
	}
	// Back where it started: every generated file is the repository's again.
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if got, err := os.ReadFile(filepath.Join(dir, f.Path)); err != nil || !bytes.Equal(got, f.Content) {
			t.Errorf("%s differs from the repository's after the bot was removed again", f.Path)
		}
	}
}

// probeBot is a bot file as a person adds it: one declaration with its Run, in its family's package.
const probeBot = `package ec2bots

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	bots.Register(bots.Bot{
		Name:       "ec2_probe_instance",
		Summary:    "Read the instance and change nothing (the generator's test adds it).",
		Resources:  []finding.ResourceKind{finding.KindInstance},
		Targets:    []finding.TargetKind{finding.TargetInstance},
		Impact:     bots.ImpactEvidence,
		Operations: []string{"ec2:DescribeInstances"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			_, err := ec2.NewFromConfig(req.AWS).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return bots.Result{Bot: "ec2_probe_instance", Status: bots.StatusAlreadyDone}, err
		},
	})
}
`

// hasBranch reports whether the definition's "Which bot?" choice routes bot to a Task of that name.
func hasBranch(t *testing.T, path, bot string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			ItemProcessor struct {
				States map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &def); err != nil {
		t.Fatal(err)
	}
	inner := def.States[statemachine.StateRemediate].ItemProcessor.States
	var which struct {
		Choices []struct{ StringEquals, Next string }
	}
	if err := json.Unmarshal(inner[statemachine.StateWhichBot], &which); err != nil {
		t.Fatal(err)
	}
	for _, c := range which.Choices {
		if c.StringEquals == bot {
			_, task := inner[c.Next]
			return task && c.Next == bot && bytes.Contains(inner[bot], []byte("${Bot_"+bot+"_FunctionArn}"))
		}
	}
	return false
}

// copyTree copies the regular files under src to dst (build outputs and node_modules left out).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "build" || d.Name() == "cdk.out") {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
