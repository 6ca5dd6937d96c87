package main

import (
	"encoding/json"
	"fmt"
	"github.com/guardbots/guardbots/shared/notify/route"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// The whole app is built and synthesized once with every context key set (fixture) and once with no
// context at all (defaults); a synth costs seconds, the jsii kernel is shared and closed once, here, and
// every test reads the templates.
var (
	fixtureCfg    Config
	fixture       *Stacks
	fixtureErrs   []string
	fixtureTmpl   = map[string]map[string]any{} // stack id → template JSON
	fixtureAssert = map[string]assertions.Template{}
	fixtureSynth  time.Duration

	defaultFixture *Stacks
	defaultErrs    []string
	defaultTmpl    = map[string]map[string]any{}
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

// fixtureConfig sets every context key away from its default (TestFixture_SetsEveryContextKey holds it
// to that), so every branch of the templates is synthesized. The one exception is verifyFindings, which
// may be false only in a dry run and dryRun is false here.
func fixtureConfig() Config {
	c := DefaultConfig()
	c.RolePrefix = "gbtest"
	c.OrchestratorAccount = "111122223333"
	c.ExternalID = "guardbots-test-external-id"
	c.OrganizationID = "o-abcdefghij"
	c.NotificationEmail = "secops@example.com"
	c.HomeRegion = "eu-central-1"
	c.OtherRegions = []string{"eu-west-1", "ap-southeast-2"}
	c.OrganizationalUnits = []string{"ou-abcd-12345678", "ou-abcd-87654321"}
	c.StackSetCallAs = "DELEGATED_ADMIN"
	c.StackSetFailureTolerance = 20
	c.StackSetMaxConcurrent = 50
	c.SeverityFloor = 5
	c.DryRun = false
	c.AllowSampleFindings = true
	c.SecurityHubRule = true
	c.MappingFile = "shared/mapping/default.json"
	c.MappingParameter = "/gbtest/mapping"
	c.MappingTTL = 90 * time.Second
	c.LogRetentionDays = 400
	c.ApproverPrincipalArn = "arn:aws:iam::999988887777:role/SecOpsOnCall"
	c.LambdaMemoryMiB = 256
	// Every rail away from its default, so the tests see the context reach the Lambdas.
	c.ProtectedAccounts = []string{"210987654321", "123456789012"}
	c.CloseFindings = "archive"
	c.DedupWindow = 12 * time.Hour
	c.DedupLease = 20 * time.Minute
	c.MaxFindingAge = 3 * time.Hour
	c.BlastRadiusPerAccount = 7
	c.BlastRadiusGlobal = 30
	c.AuditRetention = "400d"
	c.TrustedNetworks = []string{"203.0.113.0/24", "2001:db8::/32"}
	// The organization: lookups on (the default) with a shorter TTL, protected OUs, an owner tag, routes,
	// a health schedule.
	c.Organization.TTL = 10 * time.Minute
	c.Organization.ProtectedOUs = []string{"ou-abcd-prod0000", "ou-abcd-security"}
	c.Organization.OwnerTag = "team"
	c.ManagementAccount = "777788889999"
	c.HealthSchedule = "cron(0 6 * * ? *)"
	// A fixed list: the health role then lists no accounts (the default template checks the grant that does).
	c.HealthAccounts = []string{"444455556666", "555566667777"}
	c.Routes = []route.Route{
		{Name: "payments", Protocol: "email", Endpoint: "payments-oncall@example.com", Owners: []string{"team-payments"}},
		{Name: "workloads", Protocol: "sqs", Endpoint: "arn:aws:sqs:eu-central-1:999988887777:workload-alerts", OUs: []string{"ou-abcd-workload"},
			Outcomes: []string{"failed", "held", "approval-requested"}},
	}
	// Every bot, so every bot's roles are synthesized and checked (the default enables the mapping's).
	c.EnabledBots = bots.Names()
	c.ProtectedRoles = append(append([]string{}, deployment.DefaultProtectedRoles...), "BreakGlass*", "security/incident-response-*")
	c.ManagementAccountMember = true
	c.ManagementAccountIAMBots = []string{"iam_revoke_role_sessions"}
	c.Outputs = Outputs{APIEndpoint: "https://tickets.example.com/guardbots", APISecretArn: "arn:aws:secretsmanager:eu-central-1:123456789013:secret:guardbots/tickets-AbCdEf",
		APIKeyHeader: "X-Api-Key", APIOutcomes: []string{"failed", "held"}}
	c.Chat = Chat{SlackWorkspaceID: "T0123ABCD", SlackChannelID: "C0456EFGH",
		TeamsTenantID: "a1b2c3d4-0000-4000-8000-00000000000a", TeamsTeamID: "b2c3d4e5-0000-4000-8000-00000000000b",
		TeamsChannelID: "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2"}
	return c
}

// synthesized is one build of the app: its stacks, the synthesis errors, and every stack's template.
type synthesized struct {
	stacks *Stacks
	errs   []string
	tmpl   map[string]map[string]any
	assert map[string]assertions.Template
}

func synthesize(cfg Config, root, assets string) (synthesized, error) {
	out, err := os.MkdirTemp("", "guardbots-cdk-out-")
	if err != nil {
		return synthesized{}, err
	}
	defer os.RemoveAll(out)
	wf, err := currentWorkflow()
	if err != nil {
		return synthesized{}, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	s, err := Build(app, cfg, BuildOptions{Root: root, AssetDir: assets, Workflow: wf})
	if err != nil {
		return synthesized{}, err
	}
	r := synthesized{stacks: s, errs: synthErrors(app.Synth(nil)), tmpl: map[string]map[string]any{}, assert: map[string]assertions.Template{}}
	stacks := map[string]awscdk.Stack{
		orchestratorStackID: s.Orchestrator.Stack,
		stackSetStackID:     s.StackSet,
		organizationStackID: s.Organization,
		memberHealthStackID: s.MemberHealth,
	}
	if s.Member != nil {
		stacks[memberStackID] = s.Member
	}
	for id, st := range s.Forwarders {
		stacks[id] = st
	}
	for id, st := range stacks {
		t := assertions.Template_FromStack(st, nil)
		r.assert[id] = t
		r.tmpl[id] = *t.ToJSON()
	}
	// The StackSet's member template, as every member account gets it, read like a stack of its own.
	var member map[string]any
	if err := json.Unmarshal([]byte(s.MemberTemplate), &member); err != nil {
		return synthesized{}, err
	}
	r.tmpl[memberTemplateID] = member
	return r, nil
}

// memberTemplateID names the StackSet's member template among a build's templates.
const memberTemplateID = "guardbots-stackset/member-template"

func buildFixture() error {
	start := time.Now()
	fixtureCfg = fixtureConfig()
	root, err := deployment.ModuleRoot()
	if err != nil {
		return err
	}
	assets, err := fakeAssets()
	if err != nil {
		return err
	}
	defer os.RemoveAll(assets)
	every, err := synthesize(fixtureCfg, root, assets)
	if err != nil {
		return fmt.Errorf("every context key set: %w", err)
	}
	fixture, fixtureErrs, fixtureTmpl, fixtureAssert = every.stacks, every.errs, every.tmpl, every.assert
	fixtureSynth = time.Since(start)
	// The CLI's CDK_DEFAULT_ACCOUNT/REGION are not read here: DefaultConfig is no context at all.
	defaults, err := synthesize(DefaultConfig(), root, assets)
	if err != nil {
		return fmt.Errorf("no context: %w", err)
	}
	defaultFixture, defaultErrs, defaultTmpl = defaults.stacks, defaults.errs, defaults.tmpl
	return nil
}

// fakeAssets stands in for build/: the templates only need each function's directory to exist.
func fakeAssets() (string, error) {
	dir, err := os.MkdirTemp("", "guardbots-assets-")
	if err != nil {
		return "", err
	}
	names := append([]string{}, deployment.Steps...)
	names = append(names, bots.Names()...)
	names = append(names, deployment.HealthFunction)
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

// defaultOf names a stack of the no-context build for the helpers below ("default:<stack id>"); a plain
// stack id is the every-key build.
func defaultOf(stack string) string { return "default:" + stack }

// template is a stack's template, of either build.
func template(stack string) map[string]any {
	if id, ok := strings.CutPrefix(stack, "default:"); ok {
		return defaultTmpl[id]
	}
	return fixtureTmpl[stack]
}

// resources returns the resources of a type in a stack's template, by logical id.
func resources(t *testing.T, stack, typ string) map[string]map[string]any {
	t.Helper()
	res, _ := template(stack)["Resources"].(map[string]any)
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
	t.Logf("app built and synthesized in %v (%d templates)", fixtureSynth.Round(time.Millisecond), len(fixtureTmpl))
	if len(fixtureTmpl) != 8 {
		t.Fatalf("want orchestrator, the management account's member stack, StackSet (and its member template), two forwarders, organization and member health, got %d templates", len(fixtureTmpl))
	}
	// With no context, the management account gets no member stack.
	if _, ok := defaultTmpl[memberStackID]; ok || defaultFixture.Member != nil || len(defaultTmpl) != 6 {
		t.Errorf("no context: %d templates, member stack %v", len(defaultTmpl), defaultFixture.Member != nil)
	}
	for id := range fixtureTmpl {
		if !strings.HasPrefix(id, "guardbots-") {
			t.Errorf("stack %s: want a guardbots- name", id)
		}
	}
}

func TestNag_NoUnsuppressedErrorsInAnyStack(t *testing.T) {
	for _, e := range fixtureErrs {
		t.Error("every key set:", e)
	}
	for _, e := range defaultErrs {
		t.Error("no context:", e)
	}
}

func TestFixture_SetsEveryContextKey(t *testing.T) {
	// Config's own fields and those of the deployment.Settings it embeds, each on its own.
	var check func(got, def reflect.Value)
	check = func(got, def reflect.Value) {
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if f.Anonymous {
				check(got.Field(i), def.Field(i))
				continue
			}
			if f.Name == "VerifyFindings" { // false needs dryRun true; the fixture is not a dry run
				continue
			}
			if reflect.DeepEqual(got.Field(i).Interface(), def.Field(i).Interface()) {
				t.Errorf("fixtureConfig leaves %s at its default %v: set it, so its templates are synthesized and checked", f.Name, def.Field(i).Interface())
			}
		}
	}
	check(reflect.ValueOf(fixtureCfg), reflect.ValueOf(DefaultConfig()))
}
