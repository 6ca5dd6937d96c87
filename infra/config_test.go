package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/statemachine/local/perf"
)

func contextOf(m map[string]any) ContextReader { return func(k string) any { return m[k] } }

func TestFromContext_NoContextGivesTheDocumentedDefaults(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "")
	t.Setenv("CDK_DEFAULT_REGION", "")
	c, err := FromContext(contextOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RolePrefix != "guardbots" || c.SeverityFloor != 4 || !c.DryRun || c.HomeRegion != "us-east-1" ||
		c.SecurityHubRule || c.ExternalID != "" || c.OrchestratorAccount != "" || c.MappingTTL != time.Minute ||
		c.StackSetCallAs != "SELF" || c.LogRetentionDays != 365 || c.MappingParameter != "/guardbots/mapping" {
		t.Errorf("defaults %+v", c)
	}
}

func TestFromContext_EmptyStringsInCdkJSONMeanTheDefaultAndCLIValuesFillThem(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "444455556666")
	t.Setenv("CDK_DEFAULT_REGION", "eu-north-1")
	c, err := FromContext(contextOf(map[string]any{"homeRegion": "", "orchestratorAccount": "", "rolePrefix": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HomeRegion != "eu-north-1" || c.OrchestratorAccount != "444455556666" || c.RolePrefix != "guardbots" {
		t.Errorf("%+v", c)
	}
}

func TestFromContext_ReadsListsAsJSONArraysOrCommaSeparatedStrings(t *testing.T) {
	for _, v := range []any{[]any{"eu-west-1", "ap-south-1"}, "eu-west-1, ap-south-1", `["eu-west-1","ap-south-1"]`} {
		c, err := FromContext(contextOf(map[string]any{"otherRegions": v, "dryRun": "false", "severityFloor": "7"}))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.OtherRegions, []string{"eu-west-1", "ap-south-1"}) || c.DryRun || c.SeverityFloor != 7 {
			t.Errorf("%v: %+v", v, c)
		}
	}
}

func TestFromContext_RejectsEveryBadSettingByKey(t *testing.T) {
	_, err := FromContext(contextOf(map[string]any{
		"homeRegion": "us-east-1", "otherRegions": "us-east-1", "organizationId": "acme",
		"orchestratorAccount": "12345", "severityFloor": 11, "stackSetCallAs": "ADMIN", "dryRun": "maybe",
		"logRetentionDays": 42, "organizationalUnits": "engineering",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"otherRegions", "organizationId", "orchestratorAccount", "severityFloor",
		"stackSetCallAs", "dryRun", "logRetentionDays", "organizationalUnits"} {
		if !strings.Contains(err.Error(), "context "+key+":") {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestMappingDocument_InvalidMappingFailsSynthNamingTheKeyAndReason(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json")
	os.WriteFile(path, []byte(`{"Backdoor:EC2/Spambot": "AUTO: no_such_bot"}`), 0o644)
	c := DefaultConfig()
	c.MappingFile = path
	_, _, _, err := c.MappingDocument(dir)
	if err == nil || !strings.Contains(err.Error(), "Backdoor:EC2/Spambot") || !strings.Contains(err.Error(), "no_such_bot") {
		t.Fatalf("error %v, want the key and the unknown bot", err)
	}
}

func TestMappingDocument_OversizedMappingFailsAndALargeOneGetsTheAdvancedTier(t *testing.T) {
	dir := t.TempDir()
	doc := func(n int) []byte {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"Recon:EC2/PortProbeUnprotectedPort` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26) + `": "AUTO: notify_only"`)
		}
		b.WriteString("}")
		return []byte(b.String())
	}
	c := DefaultConfig()
	c.MappingFile = "m.json"
	os.WriteFile(filepath.Join(dir, "m.json"), doc(6000), 0o644)
	if _, tier, _, err := c.MappingDocument(dir); err != nil || tier != mapping.TierAdvanced {
		t.Errorf("6 KB mapping: tier %v, err %v; want Advanced", tier, err)
	}
	os.WriteFile(filepath.Join(dir, "m.json"), doc(9000), 0o644)
	if _, _, _, err := c.MappingDocument(dir); err == nil {
		t.Error("a 9 KB mapping must fail: SSM parameters hold at most 8 KB")
	}
	if _, tier, _, err := DefaultConfig().MappingDocument(dir); err != nil || tier != mapping.TierStandard {
		t.Errorf("default mapping: tier %v, err %v", tier, err)
	}
}

func TestLambdaRoleName_TooLongForIAMFailsNamingTheBot(t *testing.T) {
	if _, err := lambdaRoleName(strings.Repeat("p", 32), "ec2_deregister_from_load_balancers"); err == nil ||
		!strings.Contains(err.Error(), "ec2_deregister_from_load_balancers") {
		t.Errorf("err %v", err)
	}
	for _, b := range bots.Registered() {
		if _, err := lambdaRoleName(DefaultConfig().RolePrefix, b.Name); err != nil {
			t.Error(err)
		}
	}
}

func TestBuild_FailsWhenTheDefinitionAndTheFunctionsDisagree(t *testing.T) {
	assets, err := fakeAssets()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(assets)
	wf, err := currentWorkflow()
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"GhostFunctionArn": "ghost"}
	for k, v := range wf.Placeholders {
		extra[k] = v
	}
	ghost := []byte(strings.Replace(string(wf.Definition), "${ParseFunctionArn}", "${GhostFunctionArn}", 1))
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err = Build(app, DefaultConfig(), BuildOptions{AssetDir: assets, Workflow: Workflow{Definition: ghost, Placeholders: extra}})
	if err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("unknown function: err %v", err)
	}
	missing := map[string]string{}
	for k, v := range wf.Placeholders {
		if v != "notify_only" {
			missing[k] = v
		}
	}
	app = awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err = Build(app, DefaultConfig(), BuildOptions{AssetDir: assets, Workflow: Workflow{Definition: wf.Definition, Placeholders: missing}})
	if err == nil || !strings.Contains(err.Error(), "notify_only") {
		t.Errorf("bot without a Task: err %v", err)
	}
}

func TestBuild_FailsWhenLambdaCodeIsMissing(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err := Build(app, DefaultConfig(), BuildOptions{AssetDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("err %v", err)
	}
}

func TestFromContext_RailsAndApprovalDefaultsAreTheDocumentedOnes(t *testing.T) {
	c, err := FromContext(contextOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.VerifyFindings || c.ApproverPrincipalArn != "" || c.ProtectedAccounts != nil || c.CloseFindings != "false" ||
		c.DedupWindow != 24*time.Hour || c.DedupLease != 15*time.Minute || c.BlastRadiusPerAccount != 10 ||
		c.BlastRadiusGlobal != 50 || c.AuditRetention != "365d" {
		t.Errorf("defaults %+v", c)
	}
}

func TestFromContext_ReadsTheRailsAndApprovalKeys(t *testing.T) {
	c, err := FromContext(contextOf(map[string]any{
		"verifyFindings": false, "approverPrincipalArn": "arn:aws:iam::999988887777:role/path/SecOps",
		"protectedAccounts": []any{"123456789012"}, "closeFindings": true, "dedupWindow": "6h", "dedupLease": "10m",
		"blastRadiusPerAccount": 3, "blastRadiusGlobal": 9, "auditRetention": "2557d",
		"trustedNetworks": []any{"203.0.113.0/24", "198.51.100.7"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.VerifyFindings || c.ApproverPrincipalArn != "arn:aws:iam::999988887777:role/path/SecOps" ||
		!reflect.DeepEqual(c.ProtectedAccounts, []string{"123456789012"}) || c.CloseFindings != "true" ||
		c.DedupWindow != 6*time.Hour || c.DedupLease != 10*time.Minute || c.BlastRadiusPerAccount != 3 ||
		c.BlastRadiusGlobal != 9 || c.AuditRetention != "2557d" || !reflect.DeepEqual(c.TrustedNetworks, []string{"203.0.113.0/24", "198.51.100.7"}) {
		t.Errorf("%+v", c)
	}
	if c, err := FromContext(contextOf(map[string]any{"closeFindings": "ARCHIVE"})); err != nil || c.CloseFindings != "archive" {
		t.Errorf("closeFindings ARCHIVE: %q, %v", c.CloseFindings, err)
	}
}

func TestFromContext_RejectsBadRailsAndApprovalSettingsByKey(t *testing.T) {
	_, err := FromContext(contextOf(map[string]any{
		"approverPrincipalArn": "SecOps", "protectedAccounts": "prod", "closeFindings": "resolve",
		"dedupWindow": "0s", "blastRadiusPerAccount": 0, "blastRadiusGlobal": 10001, "auditRetention": "forever",
		"verifyFindings": "perhaps", "trustedNetworks": "the office",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"approverPrincipalArn", "protectedAccounts", "closeFindings", "dedupWindow",
		"blastRadiusPerAccount", "blastRadiusGlobal", "auditRetention", "verifyFindings", "trustedNetworks"} {
		if !strings.Contains(err.Error(), "context "+key+":") {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestMemorySize_ComesFromTheMeasuredPeakWithHeadroom(t *testing.T) {
	peak := deployment.MeasuredPeakRSSMiB
	if c := DefaultConfig(); c.LambdaMemoryMiB != deployment.MemorySizeFor(peak) || c.LambdaMemoryMiB < 3*peak {
		t.Errorf("default memory %d MB for a measured peak of %d MB", c.LambdaMemoryMiB, peak)
	}
	if c, err := FromContext(contextOf(map[string]any{"lambdaMemoryMiB": 512})); err != nil || c.LambdaMemoryMiB != 512 {
		t.Errorf("lambdaMemoryMiB 512: %d, %v", c.LambdaMemoryMiB, err)
	}
	for _, bad := range []any{64, 3*peak - 1, 10241, "lots"} {
		if _, err := FromContext(contextOf(map[string]any{"lambdaMemoryMiB": bad})); err == nil || !strings.Contains(err.Error(), "context lambdaMemoryMiB:") {
			t.Errorf("lambdaMemoryMiB %v: err %v", bad, err)
		}
	}
}

func TestValidate_DedupLeaseMustOutlastTheBotLambdaTimeout(t *testing.T) {
	c := DefaultConfig()
	if c.DedupLease <= deployment.BotTimeout {
		t.Fatalf("the default lease %v does not outlast the bot timeout %v", c.DedupLease, deployment.BotTimeout)
	}
	c.DedupLease = deployment.BotTimeout
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "context dedupLease:") {
		t.Errorf("a lease equal to the bot timeout: err %v", err)
	}
}

func TestCdkJSON_ListsEveryKeyAndItsValuesAreTheDefaults(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "")
	t.Setenv("CDK_DEFAULT_REGION", "")
	b, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Context map[string]any }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	c, err := FromContext(contextOf(f.Context))
	if err != nil {
		t.Fatalf("cdk.json's context: %v", err)
	}
	if d := DefaultConfig(); !reflect.DeepEqual(c, d) {
		t.Errorf("cdk.json's context gives\n%+v\nthe defaults are\n%+v", c, d)
	}
	for _, key := range contextKeys(t) {
		if _, ok := f.Context[key]; !ok {
			t.Errorf("cdk.json does not list %s", key)
		}
	}
}

// contextKeys are the values of config.go's ctx… constants: every key the app reads.
func contextKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	// config.go's keys, and the organization's (organization.go).
	for _, file := range []string{"config.go", "organization.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, constKeys(f)...)
	}
	if len(keys) < 30 {
		t.Fatalf("found only %d context keys in config.go: %v", len(keys), keys)
	}
	return keys
}

// constKeys are the values of a file's ctx… string constants.
func constKeys(f *ast.File) []string {
	var keys []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, n := range v.Names {
				if strings.HasPrefix(n.Name, "ctx") && i < len(v.Values) {
					if lit, ok := v.Values[i].(*ast.BasicLit); ok {
						k, _ := strconv.Unquote(lit.Value)
						keys = append(keys, k)
					}
				}
			}
		}
	}
	return keys
}

func TestReadme_ContextTableListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range contextKeys(t) {
		if !strings.Contains(string(b), "| `"+key+"`") && !strings.Contains(string(b), "/ `"+key+"` |") {
			t.Errorf("infra/README.md's context table does not list %s", key)
		}
	}
}

func TestValidate_MaxFindingAgeDefaultsToSixHoursAndStaysWithinTheDedupWindow(t *testing.T) {
	if c, err := FromContext(contextOf(nil)); err != nil || c.MaxFindingAge != 6*time.Hour {
		t.Errorf("default maxFindingAge %v, %v; want 6h", c.MaxFindingAge, err)
	}
	if c, err := FromContext(contextOf(map[string]any{"maxFindingAge": "90m"})); err != nil || c.MaxFindingAge != 90*time.Minute {
		t.Errorf("maxFindingAge 90m: %v, %v", c.MaxFindingAge, err)
	}
	if c, err := FromContext(contextOf(map[string]any{"maxFindingAge": "24h"})); err != nil || c.MaxFindingAge != 24*time.Hour {
		t.Errorf("maxFindingAge equal to the dedup window: %v, %v", c.MaxFindingAge, err)
	}
	// Older than the dedup window, a replayed finding would act again once its claim expired.
	for _, ctx := range []map[string]any{
		{"maxFindingAge": "25h"},
		{"maxFindingAge": "6h", "dedupWindow": "1h"},
		{"maxFindingAge": "0s"},
		{"maxFindingAge": "-1h"},
		{"maxFindingAge": "a while"},
	} {
		if _, err := FromContext(contextOf(ctx)); err == nil || !strings.Contains(err.Error(), "context maxFindingAge:") {
			t.Errorf("%v: err %v, want one naming maxFindingAge", ctx, err)
		}
	}
}

// Without verify, the event is all there is: a forged one could drive a bot. Only a dry run may skip it.
func TestValidate_VerifyFindingsOffOnlyInADryRun(t *testing.T) {
	_, err := FromContext(contextOf(map[string]any{"verifyFindings": false, "dryRun": false}))
	if err == nil || !strings.Contains(err.Error(), "context verifyFindings:") || !strings.Contains(err.Error(), "dryRun") {
		t.Errorf("verifyFindings false without a dry run: err %v", err)
	}
	for _, ctx := range []map[string]any{{"verifyFindings": false}, {"verifyFindings": "false", "dryRun": "true"}, {"dryRun": false}} {
		if _, err := FromContext(contextOf(ctx)); err != nil {
			t.Errorf("%v: %v", ctx, err)
		}
	}
	c := DefaultConfig()
	c.VerifyFindings, c.DryRun = false, false
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	if _, err := Build(app, c, BuildOptions{AssetDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "context verifyFindings:") {
		t.Errorf("Build with verifyFindings and dryRun false: err %v", err)
	}
}

func TestMemorySize_IsWhatTheCostModelPrices(t *testing.T) {
	if got, want := perf.DefaultAssumptions.MemoryMB, float64(DefaultConfig().LambdaMemoryMiB); got != want {
		t.Errorf("the README's cost model prices %g MB functions, the app deploys %g MB: update statemachine/local/perf/cost.go and go generate ./...", got, want)
	}
}

func TestFromContext_ReadsThePrivilegeKeys(t *testing.T) {
	if ctxEnabledBots != deployment.ContextEnabledBots {
		t.Errorf("the app reads %q, match and verify name %q", ctxEnabledBots, deployment.ContextEnabledBots)
	}
	c, err := FromContext(contextOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	// No context: the mapping's bots (resolved by Build), the default protected roles, no member stack
	// in the management account.
	if c.EnabledBots != nil || !reflect.DeepEqual(c.ProtectedRoles, deployment.DefaultProtectedRoles) || c.ManagementAccountMember || c.ManagementAccountIAMBots != nil {
		t.Errorf("defaults: %v %v %v %v", c.EnabledBots, c.ProtectedRoles, c.ManagementAccountMember, c.ManagementAccountIAMBots)
	}
	c, err = FromContext(contextOf(map[string]any{
		"enabledBots": "ec2_stop_instance,iam_revoke_role_sessions", "protectedRoles": []any{"BreakGlass", "OrganizationAccountAccessRole"},
		"managementAccountMember": "true", "managementAccountIamBots": "iam_revoke_role_sessions",
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The protected roles given add to the defaults, which stay protected.
	if !reflect.DeepEqual(c.EnabledBots, []string{"ec2_stop_instance", "iam_revoke_role_sessions"}) ||
		!reflect.DeepEqual(c.ProtectedRoles, append(append([]string{}, deployment.DefaultProtectedRoles...), "BreakGlass")) ||
		!c.ManagementAccountMember || !reflect.DeepEqual(c.ManagementAccountIAMBots, []string{"iam_revoke_role_sessions"}) {
		t.Errorf("%v %v %v %v", c.EnabledBots, c.ProtectedRoles, c.ManagementAccountMember, c.ManagementAccountIAMBots)
	}
}

func TestFromContext_RejectsBadPrivilegeSettingsByKey(t *testing.T) {
	for key, ctx := range map[string]map[string]any{
		"enabledBots":              {"enabledBots": "ec2_stop_instance,ec2_stop_everything"},
		"protectedRoles":           {"protectedRoles": "arn:aws:iam::123456789012:role/x"},
		"managementAccountMember":  {"managementAccountMember": "perhaps"},
		"managementAccountIamBots": {"managementAccountMember": true, "managementAccountIamBots": "ec2_stop_instance"},
		"managementAccountIamBots without the member stack": {"managementAccountIamBots": "iam_revoke_role_sessions"},
		"rolePrefix": {"rolePrefix": "gb.test"},
	} {
		k, _, _ := strings.Cut(key, " ")
		if _, err := FromContext(contextOf(ctx)); err == nil || !strings.Contains(err.Error(), "context "+k+":") {
			t.Errorf("%s: err %v", key, err)
		}
	}
}

// A deployment that names its bots must name every bot its mapping uses (the mapping would otherwise be
// refused at match), and the management account's IAM-writing bots must be enabled.
func TestBuild_FailsWhenTheMappingOrTheManagementAccountNamesABotNotEnabled(t *testing.T) {
	assets, err := fakeAssets()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(assets)
	wf, err := currentWorkflow()
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.EnabledBots = []string{"ec2_tag_instance"}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err = Build(app, c, BuildOptions{AssetDir: assets, Workflow: wf})
	if err == nil || !strings.Contains(err.Error(), "is not deployed") || !strings.Contains(err.Error(), "enabledBots") {
		t.Errorf("mapping naming a bot not enabled: %v", err)
	}
	c = DefaultConfig()
	c.ManagementAccountMember, c.ManagementAccountIAMBots = true, []string{"iam_quarantine_user"}
	app = awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	_, err = Build(app, c, BuildOptions{AssetDir: assets, Workflow: wf})
	if err == nil || !strings.Contains(err.Error(), "context managementAccountIamBots: iam_quarantine_user is not enabled") {
		t.Errorf("management account's IAM bot not enabled: %v", err)
	}
}

// With no enabledBots, a deployment enables exactly the bots its mapping names — read here from the
// document's "bot" fields, not through the code under test — and match and verify are told that list.
func TestBuild_EnabledBotsDefaultToTheBotsTheDeployedMappingNames(t *testing.T) {
	var named []string
	for _, m := range regexp.MustCompile(`"bot":\s*"([a-z0-9_]+)"`).FindAllSubmatch(mapping.Default(), -1) {
		named = append(named, string(m[1]))
	}
	named = sortedUnique(named)
	got := sortedUnique(defaultFixture.Config.EnabledBots)
	if len(named) == 0 || !reflect.DeepEqual(got, named) {
		t.Errorf("no context enables %v, want the default mapping's bots %v", got, named)
	}
	for _, fn := range []string{"match", "verify"} {
		vars := functionEnv(t, defaultOf(orchestratorStackID), fn)
		if vars[deployment.EnvEnabledBots] != strings.Join(named, ",") {
			t.Errorf("%s: %s=%v, want %s", fn, deployment.EnvEnabledBots, vars[deployment.EnvEnabledBots], strings.Join(named, ","))
		}
	}
}

// functionEnv is the environment of a step's function in a stack.
func functionEnv(t *testing.T, stack, step string) map[string]any {
	t.Helper()
	for id, f := range resources(t, stack, "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "Step"+strings.ReplaceAll(step, "_", "")+"Function") {
			e, _ := props(f)["Environment"].(map[string]any)
			v, _ := e["Variables"].(map[string]any)
			return v
		}
	}
	t.Fatalf("%s: no %s function", stack, step)
	return nil
}
