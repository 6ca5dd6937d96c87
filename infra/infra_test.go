package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
)

// The whole app is built and synthesized once (a synth costs seconds; the jsii kernel is shared and
// closed once, here) and every test reads the templates.
var (
	fixtureCfg    Config
	fixture       *Stacks
	fixtureErrs   []string
	fixtureTmpl   = map[string]map[string]any{} // stack id → template JSON
	fixtureAssert = map[string]assertions.Template{}
	fixtureSynth  time.Duration
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv("JSII_NODE") == "" {
			// Plain `go test` outside make: use the repository's Node 22 when it is installed.
			if node, err := filepath.Abs("../.tools/node_modules/.bin/node"); err == nil {
				if _, err := os.Stat(node); err == nil {
					os.Setenv("JSII_NODE", node)
				}
			}
		}
		defer jsii.Close()
		if err := buildFixture(); err != nil {
			fmt.Fprintln(os.Stderr, "infra tests: build the app:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func fixtureConfig() Config {
	c := DefaultConfig()
	c.OrchestratorAccount = "111122223333"
	c.ExternalID = "guardbots-test-external-id"
	c.OrganizationID = "o-abcdefghij"
	c.NotificationEmail = "secops@example.com"
	c.HomeRegion = "eu-central-1"
	c.OtherRegions = []string{"eu-west-1", "ap-southeast-2"}
	c.OrganizationalUnits = []string{"ou-abcd-12345678", "ou-abcd-87654321"}
	c.StackSetCallAs = "DELEGATED_ADMIN"
	c.SeverityFloor = 5
	c.DryRun = false
	// Every rail away from its default, so the tests see the context reach the Lambdas.
	c.ProtectedAccounts = []string{"210987654321", "123456789012"}
	c.CloseFindings = "archive"
	c.DedupWindow = 12 * time.Hour
	c.DedupLease = 20 * time.Minute
	c.BlastRadiusPerAccount = 7
	c.BlastRadiusGlobal = 30
	c.AuditRetention = "400d"
	return c
}

func buildFixture() error {
	start := time.Now()
	fixtureCfg = fixtureConfig()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	assets, err := fakeAssets()
	if err != nil {
		return err
	}
	defer os.RemoveAll(assets)
	out, err := os.MkdirTemp("", "guardbots-cdk-out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	wf, err := currentWorkflow()
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	fixture, err = Build(app, fixtureCfg, BuildOptions{Root: root, AssetDir: assets, Workflow: wf, Bots: bots.Registered()})
	if err != nil {
		return err
	}
	fixtureErrs = synthErrors(app.Synth(nil))
	stacks := map[string]awscdk.Stack{
		orchestratorStackID: fixture.Orchestrator.Stack,
		memberStackID:       fixture.Member,
		stackSetStackID:     fixture.StackSet,
	}
	for id, s := range fixture.Forwarders {
		stacks[id] = s
	}
	for id, s := range stacks {
		t := assertions.Template_FromStack(s, nil)
		fixtureAssert[id] = t
		fixtureTmpl[id] = *t.ToJSON()
	}
	fixtureSynth = time.Since(start)
	return nil
}

// fakeAssets stands in for build/: the templates only need each function's directory to exist.
func fakeAssets() (string, error) {
	dir, err := os.MkdirTemp("", "guardbots-assets-")
	if err != nil {
		return "", err
	}
	names := append([]string{}, stepFunctions...)
	names = append(names, bots.Names()...)
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, n, "bootstrap"), []byte("fake "+n), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// assertCDK runs a CDK assertion, turning its panic (jsii raises a failed match as one) into a failure.
func assertCDK(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %v", what, r)
		}
	}()
	f()
}

// resources returns the resources of a type in a stack's template, by logical id.
func resources(t *testing.T, stack, typ string) map[string]map[string]any {
	t.Helper()
	res, _ := fixtureTmpl[stack]["Resources"].(map[string]any)
	out := map[string]map[string]any{}
	for id, r := range res {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// only returns the single resource of a type, failing otherwise.
func only(t *testing.T, stack, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(t, stack, typ)
	if len(rs) != 1 {
		t.Fatalf("%s: want one %s, got %d", stack, typ, len(rs))
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

// js renders a template fragment for comparisons and messages.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// statements collects a policy document's statements.
func statements(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	var out []map[string]any
	switch s := d["Statement"].(type) {
	case []any:
		for _, e := range s {
			out = append(out, e.(map[string]any))
		}
	case map[string]any:
		out = append(out, s)
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// rolePolicyActions maps each role's logical id to every Allow action of the identity policies
// attached to it (AWS::IAM::Policy resources and inline policies), sorted.
func rolePolicyActions(t *testing.T, stack string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id, r := range resources(t, stack, "AWS::IAM::Role") {
		out[id] = nil
		for _, p := range asSlice(props(r)["Policies"]) {
			for _, s := range statements(p.(map[string]any)["PolicyDocument"]) {
				if s["Effect"] == "Allow" {
					out[id] = append(out[id], strs(s["Action"])...)
				}
			}
		}
	}
	for _, r := range resources(t, stack, "AWS::IAM::Policy") {
		for _, role := range asSlice(props(r)["Roles"]) {
			ref, _ := role.(map[string]any)["Ref"].(string)
			for _, s := range statements(props(r)["PolicyDocument"]) {
				if s["Effect"] == "Allow" {
					out[ref] = append(out[ref], strs(s["Action"])...)
				}
			}
		}
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func sortedUnique(in []string) []string {
	s := append([]string{}, in...)
	sort.Strings(s)
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestFixture_SynthesizesOnceQuickly(t *testing.T) {
	t.Logf("app built and synthesized in %v (%d stacks)", fixtureSynth.Round(time.Millisecond), len(fixtureTmpl))
	if len(fixtureTmpl) != 5 {
		t.Fatalf("want orchestrator, member, StackSet and two forwarders, got %d stacks", len(fixtureTmpl))
	}
	for id := range fixtureTmpl {
		if !strings.HasPrefix(id, "guardbots-") {
			t.Errorf("stack %s: want a guardbots- name", id)
		}
	}
}

func TestNag_NoUnsuppressedErrorsInAnyStack(t *testing.T) {
	for _, e := range fixtureErrs {
		t.Error(e)
	}
}
