package deployment_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

var resources = deployment.Resources{
	AccountID: "111122223333", TopicArn: "arn:aws:sns:us-east-1:111122223333:guardbots",
	ApproverRoleArn: "arn:aws:iam::111122223333:role/guardbots-approver", StateTable: "state", AuditTable: "audit",
	SigningKey: "arn:aws:kms:us-east-1:111122223333:key/plan", StateMachineArn: "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation",
}

func byName(fns []deployment.Function) map[string]deployment.Function {
	out := map[string]deployment.Function{}
	for _, f := range fns {
		out[f.Name] = f
	}
	return out
}

func TestFunctions_TheStepsInWorkflowOrderThenOneFunctionPerRegisteredBot(t *testing.T) {
	fns := deployment.Functions(deployment.DefaultSettings(), resources)
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
	}
	want := append(slices.Clone(deployment.Steps), bots.Names()...)
	if !slices.Equal(names, want) {
		t.Fatalf("functions %v, want %v", names, want)
	}
	for _, f := range fns {
		timeout, pkg := deployment.StepTimeout, "./functions/"+f.Name
		if f.Bot {
			timeout, pkg = deployment.BotTimeout, "./functions/bots/"+f.Name
		}
		if f.Bot != !slices.Contains(deployment.Steps, f.Name) || f.Timeout != timeout || f.Package != pkg || f.Description == "" {
			t.Errorf("%s: %+v", f.Name, f)
		}
	}
}

// Every function's package is a main package in the repository, and every main package under
// functions/ is a function of the deployment: nothing is built that is not deployed.
func TestFunctions_EachIsAMainPackageUnderFunctionsAndEachMainIsAFunction(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := map[string]bool{}
	for _, f := range append(deployment.Functions(deployment.DefaultSettings(), resources),
		deployment.Health(deployment.DefaultSettings(), resources, deployment.HealthEnv{})) {
		pkgs[f.Package] = true
		if _, err := os.Stat(filepath.Join(root, f.Package, "main.go")); err != nil {
			t.Errorf("%s: %v (go generate ./... writes the bots' mains)", f.Name, err)
		}
	}
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	botMains, _ := filepath.Glob(filepath.Join(root, "functions", "bots", "*", "main.go"))
	for _, m := range append(mains, botMains...) {
		rel, _ := filepath.Rel(root, filepath.Dir(m))
		if !pkgs["./"+filepath.ToSlash(rel)] {
			t.Errorf("%s is no function of the deployment", rel)
		}
	}
}

func TestFunctions_EnvironmentComesFromTheSettingsAndResources(t *testing.T) {
	s := deployment.DefaultSettings()
	s.DryRun, s.MappingTTL, s.CloseFindings, s.LambdaMemoryMiB = false, 0, deployment.CloseArchive, 256
	s.EnabledBots = []string{"notify_only", "ec2_stop_instance"}
	fns := byName(deployment.Functions(s, resources))
	want := map[string]map[string]string{
		"parse":     {},
		"transform": {},
		"match": {"GUARDBOTS_MAPPING_PARAMETER": "/guardbots/mapping", "GUARDBOTS_MAPPING_TTL": "0s",
			"GUARDBOTS_ALLOW_SAMPLE_FINDINGS": "false", "GUARDBOTS_ENABLED_BOTS": "ec2_stop_instance,notify_only", "GUARDBOTS_ORGANIZATION_LOOKUPS": "true",
			"GUARDBOTS_ORGANIZATION_TTL": "15m0s", "GUARDBOTS_OWNER_TAG": "owner"},
		"verify": {"GUARDBOTS_MAPPING_PARAMETER": "/guardbots/mapping", "GUARDBOTS_MAPPING_TTL": "0s",
			"GUARDBOTS_ALLOW_SAMPLE_FINDINGS": "false", "GUARDBOTS_ENABLED_BOTS": "ec2_stop_instance,notify_only", "GUARDBOTS_VERIFY_FINDINGS": "true", "GUARDBOTS_MAX_FINDING_AGE": "6h0m0s",
			// No deny bot is enabled: no hourly clean-up, so verify reads no state table.
			"GUARDBOTS_SIGNING_KEY": resources.SigningKey, "GUARDBOTS_ORGANIZATION_LOOKUPS": "true", "GUARDBOTS_ORGANIZATION_TTL": "15m0s",
			"GUARDBOTS_OWNER_TAG": "owner"},
		"request_approval": {"GUARDBOTS_APPROVAL_TOPIC_ARN": resources.TopicArn, "GUARDBOTS_APPROVER_ROLE_ARN": resources.ApproverRoleArn,
			"GUARDBOTS_DRY_RUN": "false"},
		// Closing the loop checks the signed plan, as the bots do.
		"notify": {"GUARDBOTS_TOPIC_ARN": resources.TopicArn, "GUARDBOTS_CLOSE_FINDINGS": "archive", "GUARDBOTS_AUDIT_TABLE": "audit",
			"GUARDBOTS_SIGNING_KEY": resources.SigningKey, "GUARDBOTS_STATE_MACHINE_ARN": resources.StateMachineArn},
		"ec2_stop_instance": {"GUARDBOTS_MEMBER_ROLE_PREFIX": "guardbots", "GUARDBOTS_ACCOUNT_ID": "111122223333",
			"GUARDBOTS_DRY_RUN": "false", "GUARDBOTS_STATE_TABLE": "state", "GUARDBOTS_AUDIT_TABLE": "audit",
			"GUARDBOTS_AUDIT_RETENTION": "365d", "GUARDBOTS_DEDUP_WINDOW": "24h0m0s", "GUARDBOTS_DEDUP_LEASE": "15m0s",
			"GUARDBOTS_BLAST_RADIUS_PER_ACCOUNT": "10", "GUARDBOTS_BLAST_RADIUS_GLOBAL": "50",
			"GUARDBOTS_SIGNING_KEY": resources.SigningKey, "GUARDBOTS_STATE_MACHINE_ARN": resources.StateMachineArn},
	}
	for name, env := range want {
		env["GOMEMLIMIT"] = "230MiB"
		f := fns[name]
		if f.MemoryMiB != 256 || !maps.Equal(f.Env, env) {
			t.Errorf("%s: memory %d, environment %v\nwant %v", name, f.MemoryMiB, f.Env, env)
		}
	}
	// Every bot gets the same environment.
	for _, f := range fns {
		if f.Bot && !maps.Equal(f.Env, fns["ec2_stop_instance"].Env) {
			t.Errorf("%s: %v", f.Name, f.Env)
		}
	}
}

// The hourly clean-up of expired IAM denies, and verify's read of the deny records, exist only when an
// enabled bot writes denies: a deployment without one grants verify nothing on the state table.
func TestPrunesDenies_FollowsTheEnabledBots(t *testing.T) {
	for _, tc := range []struct {
		enabled []string
		want    bool
	}{
		{nil, false},
		{[]string{"notify_only", "ec2_stop_instance", "iam_revoke_role_sessions"}, false},
		// The undo bots remove a deny, they write none that expires.
		{[]string{"iam_undo_deny_session", "iam_undo_deny_source_ip"}, false},
		{[]string{"notify_only", "iam_deny_session"}, true},
		{[]string{"iam_deny_source_ip"}, true},
	} {
		s := deployment.DefaultSettings()
		s.EnabledBots = tc.enabled
		if got := deployment.PrunesDenies(s); got != tc.want {
			t.Errorf("%v: PrunesDenies %v, want %v", tc.enabled, got, tc.want)
		}
		table, ok := byName(deployment.Functions(s, resources))["verify"].Env[deployment.EnvStateTable]
		if ok != tc.want || (ok && table != resources.StateTable) {
			t.Errorf("%v: verify's state table %q (set %v), want set %v", tc.enabled, table, ok, tc.want)
		}
	}
	// The default settings enable every bot, the deny bots among them.
	if !deployment.PrunesDenies(deployment.DefaultSettings()) {
		t.Error("default settings: no clean-up")
	}
}

func TestFunctions_OptionalVariablesAreUnsetRatherThanEmpty(t *testing.T) {
	s := deployment.DefaultSettings()
	fns := byName(deployment.Functions(s, resources))
	// Not closing the loop, notify checks no plan.
	for _, k := range []string{deployment.EnvSigningKey, deployment.EnvStateMachineArn} {
		if v, ok := fns["notify"].Env[k]; ok {
			t.Errorf("notify: %s=%q set without closeFindings", k, v)
		}
	}
	for _, name := range []string{"match", "verify", "ec2_stop_instance"} {
		for _, k := range []string{deployment.EnvProtectedAccounts, deployment.EnvExternalID} {
			if v, ok := fns[name].Env[k]; ok {
				t.Errorf("%s: %s=%q set with no value chosen", name, k, v)
			}
		}
	}
	s.ProtectedAccounts, s.ExternalID = []string{"111122223333", "444455556666"}, "ext-1"
	s.Organization.ProtectedOUs = []string{"ou-ab12-prod0000", "r-ab12"}
	fns = byName(deployment.Functions(s, resources))
	for _, name := range []string{"match", "verify"} {
		if got := fns[name].Env[deployment.EnvProtectedAccounts]; got != "111122223333,444455556666" {
			t.Errorf("%s: protected accounts %q", name, got)
		}
		if got := fns[name].Env[deployment.EnvProtectedOUs]; got != "ou-ab12-prod0000,r-ab12" {
			t.Errorf("%s: protected OUs %q", name, got)
		}
	}
	if got := fns["ec2_stop_instance"].Env[deployment.EnvExternalID]; got != "ext-1" {
		t.Errorf("bot external id %q", got)
	}
}

// Every variable a function is given is one of the names declared here, so a name lives in one place.
func TestFunctions_EveryVariableIsADeclaredName(t *testing.T) {
	src, err := os.ReadFile("env.go")
	if err != nil {
		t.Fatal(err)
	}
	s := deployment.DefaultSettings()
	s.ProtectedAccounts, s.ExternalID = []string{"111122223333"}, "ext-1"
	for _, f := range append(deployment.Functions(s, resources), deployment.Health(s, resources, deployment.HealthEnv{StackSet: "ss", Accounts: []string{"111122223333"}})) {
		for k := range f.Env {
			if !strings.Contains(string(src), `= "`+k+`"`) {
				t.Errorf("%s: %s is not declared in env.go", f.Name, k)
			}
		}
	}
}

func TestDefaultSettings_AreTheReadersDefaults(t *testing.T) {
	s := deployment.DefaultSettings()
	if s.MappingTTL != time.Minute || s.DedupWindow != deployment.DefaultDedupWindow || s.MaxFindingAge > s.DedupWindow ||
		s.DedupLease <= deployment.BotTimeout || !s.DryRun || !s.VerifyFindings || s.CloseFindings != deployment.CloseOff {
		t.Errorf("defaults %+v", s)
	}
}

// Only the bots a deployment enables get a function, and match and verify are told exactly those: an
// empty list enables none (and says so, rather than leaving the variable unset).
func TestFunctions_OnlyTheEnabledBotsGetAFunctionAndMatchAndVerifyAreToldWhich(t *testing.T) {
	for _, c := range []struct {
		enabled []string
		want    []string
		env     string
	}{
		{[]string{"ec2_stop_instance", "iam_revoke_role_sessions"}, []string{"ec2_stop_instance", "iam_revoke_role_sessions"}, "ec2_stop_instance,iam_revoke_role_sessions"},
		// A name that is no bot is no function (the CDK app refuses it before this).
		{[]string{"ec2_tag_instance", "no_such_bot"}, []string{"ec2_tag_instance"}, "ec2_tag_instance"},
		{[]string{}, nil, ""},
		{nil, nil, ""},
	} {
		s := deployment.DefaultSettings()
		s.EnabledBots = c.enabled
		var got []string
		fns := deployment.Functions(s, resources)
		for _, f := range fns {
			if f.Bot {
				got = append(got, f.Name)
			}
		}
		if !slices.Equal(got, c.want) || len(fns) != len(deployment.Steps)+len(c.want) {
			t.Errorf("enabled %v: bot functions %v, want %v", c.enabled, got, c.want)
		}
		for _, f := range fns {
			v, ok := f.Env[deployment.EnvEnabledBots]
			if (f.Name == "match" || f.Name == "verify") != ok || (ok && v != c.env) {
				t.Errorf("enabled %v: %s has %s=%q (set %v), want %q on match and verify only", c.enabled, f.Name, deployment.EnvEnabledBots, v, ok, c.env)
			}
		}
	}
	// With nothing chosen, the local stack runs every registered bot.
	if got := deployment.Bots(deployment.DefaultSettings()); len(got) != len(bots.Registered()) {
		t.Errorf("default settings enable %d bots, want all %d", len(got), len(bots.Registered()))
	}
}

func TestEnabledBotsFromEnv_IsRequiredAndReadsNames(t *testing.T) {
	t.Setenv(deployment.EnvEnabledBots, "ec2_stop_instance, notify_only,")
	if got, err := deployment.EnabledBotsFromEnv(); err != nil || !slices.Equal(got, []string{"ec2_stop_instance", "notify_only"}) {
		t.Errorf("got %v, %v", got, err)
	}
	t.Setenv(deployment.EnvEnabledBots, "")
	if got, err := deployment.EnabledBotsFromEnv(); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty: got %#v, %v; want an empty list (no bot enabled)", got, err)
	}
	t.Setenv(deployment.EnvEnabledBots, "ec2_stop_instance,Bad Name")
	if _, err := deployment.EnabledBotsFromEnv(); err == nil || !strings.Contains(err.Error(), "Bad Name") {
		t.Errorf("a bad name: %v", err)
	}
	os.Unsetenv(deployment.EnvEnabledBots)
	if _, err := deployment.EnabledBotsFromEnv(); err == nil || !strings.Contains(err.Error(), deployment.EnvEnabledBots) {
		t.Errorf("unset: %v; want an error naming the variable (fail closed)", err)
	}
}

// The fence is derived from the registry: every bot that declares iam:Put*, iam:Attach* or a fenced role
// change writes IAM, and the fenced actions cover every role write any registered bot declares.
func TestWritesIAM_IsDerivedFromTheDeclaredActions(t *testing.T) {
	var writers []string
	for _, b := range bots.Registered() {
		if deployment.WritesIAM(b) {
			writers = append(writers, b.Name)
		}
		for _, a := range b.IAMActions() {
			name := strings.TrimPrefix(a, "iam:")
			if name == a || !strings.Contains(name, "Role") || strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") {
				continue
			}
			if !slices.Contains(deployment.FencedRoleActions, a) {
				t.Errorf("%s declares %s, a role write the fence does not deny", b.Name, a)
			}
			if !deployment.WritesIAM(b) {
				t.Errorf("%s declares %s, a role write, but its roles are not fenced", b.Name, a)
			}
		}
	}
	for _, w := range []string{"iam_quarantine_user", "iam_revoke_role_sessions", "iam_deny_session", "iam_deny_source_ip",
		"iam_undo_deny_session", "iam_undo_deny_source_ip"} {
		if !slices.Contains(writers, w) {
			t.Errorf("%s is not an IAM writer (writers: %v)", w, writers)
		}
	}
	for _, n := range []string{"ec2_stop_instance", "iam_deactivate_access_key", "notify_only"} {
		if slices.Contains(writers, n) {
			t.Errorf("%s writes no IAM policy but is fenced", n)
		}
	}
	for _, op := range []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole"} {
		if fake := (bots.Bot{Name: "x", Operations: []string{op}}); !deployment.WritesIAM(fake) {
			t.Errorf("a bot declaring %s is not an IAM writer", op)
		}
	}
}

func TestFencedRoles_AreThePrefixAndEachProtectedRoleAtAnyPath(t *testing.T) {
	got := deployment.FencedRoles("aws", "gb", []string{"OrganizationAccountAccessRole", "aws-reserved/*"})
	want := []string{
		"arn:aws:iam::*:role/gb-*", "arn:aws:iam::*:role/*/gb-*",
		"arn:aws:iam::*:role/OrganizationAccountAccessRole", "arn:aws:iam::*:role/*/OrganizationAccountAccessRole",
		"arn:aws:iam::*:role/aws-reserved/*", "arn:aws:iam::*:role/*/aws-reserved/*",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if s := deployment.DefaultSettings(); !slices.Equal(s.ProtectedRoles, deployment.DefaultProtectedRoles) {
		t.Errorf("default protected roles %v", s.ProtectedRoles)
	}
}

// The fence denies in IAM what the IAM-writing bots refuse before they write: every role the bots'
// own check (bots.ProtectedRoles.Reason) calls guardbots' own or protected is covered by a FencedRoles
// ARN pattern, as IAM matches them ("*" crosses "/"), with the deployment's extra roles too.
func TestFencedRoles_CoverWhatTheBotsRefuse(t *testing.T) {
	protected := append(slices.Clone(deployment.DefaultProtectedRoles), "BreakGlass*", "security/incident-response-*")
	check := bots.ProtectedRoles{Prefix: "gb", Patterns: protected}
	fence := deployment.FencedRoles("aws", "gb", protected)
	for _, r := range []struct{ path, name string }{
		{"/", "gb-x"}, {"/team/", "gb-lambda-verify"}, {"/", "OrganizationAccountAccessRole"}, {"/org/", "OrganizationAccountAccessRole"},
		{"/", "stacksets-exec-0123"}, {"/service-role/", "stacksets-exec-0123"}, {"/admin/", "AWSControlTowerExecution"},
		{"/aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_A_1"}, {"/emergency/", "BreakGlassAdmin"}, {"/security/", "incident-response-oncall"},
	} {
		if check.Reason(r.name, r.path) == "" {
			t.Errorf("the bots would change role %s%s", r.path, r.name)
		}
		arn := "arn:aws:iam::111122223333:role" + r.path + r.name
		if !slices.ContainsFunc(fence, func(p string) bool { return iamMatch(strings.Replace(p, "*", "111122223333", 1), arn) }) {
			t.Errorf("the fence does not cover %s (%v)", arn, fence)
		}
	}
}

// iamMatch matches s against an IAM resource pattern p, where "*" matches any run of characters, "/"
// included.
func iamMatch(p, s string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(s)
}
