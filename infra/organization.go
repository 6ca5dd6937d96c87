package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsorganizations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/notify/route"
	"github.com/guardbots/guardbots/shared/org"
)

// The organization: the rules that decide by account, OU and tag need AWS Organizations reads from the
// security account, which only the management account can grant (a resource-based delegation policy);
// notifications reach each team through routes; the member-role health check probes every account.

// OrgConfig is the configuration of the organization features (context keys below).
type OrgConfig struct {
	// ManagementAccount is where the guardbots-organization stack deploys ("" leaves the stack
	// environment-agnostic: deploy it with management-account credentials).
	ManagementAccount string
	// Routes are the teams' filtered subscriptions.
	Routes []route.Route
	// HealthSchedule is the member-health schedule (an EventBridge rate or cron expression).
	HealthSchedule string
	// HealthAccounts, when set, are probed instead of the organization's active accounts.
	HealthAccounts []string
}

const (
	organizationStackID = "guardbots-organization"

	ctxProtectedOUs      = "protectedOUs"
	ctxOwnerTag          = "ownerTag"
	ctxOrgLookups        = "organizationLookups"
	ctxOrgTTL            = "organizationTtl"
	ctxManagementAccount = "managementAccount"
	ctxRoutes            = "routes"
	ctxHealthSchedule    = "memberHealthSchedule"
	ctxHealthAccounts    = "memberHealthAccounts"
)

// The Organizations reads of each role that makes them (the management account's delegation policy
// grants exactly these, to exactly these roles).
var (
	decidingReads = []string{"organizations:DescribeAccount", "organizations:ListParents", "organizations:ListTagsForResource"}
	healthReads   = []string{"organizations:ListAccounts"}
)

var (
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	scheduleRE = regexp.MustCompile(`^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$`)
)

// readOrgContext reads the organization's context keys into c (FromContext calls it).
func readOrgContext(get ContextReader, c *Config, fail func(string, error)) {
	str := func(key string) (string, bool) {
		v := get(key)
		if v == nil || strings.TrimSpace(fmt.Sprint(v)) == "" {
			return "", false
		}
		return strings.TrimSpace(fmt.Sprint(v)), true
	}
	list := func(key string) []string {
		var out []string
		switch v := get(key).(type) {
		case nil:
		case []any:
			for _, e := range v {
				if s := strings.TrimSpace(fmt.Sprint(e)); s != "" {
					out = append(out, s)
				}
			}
		default:
			s := strings.TrimSpace(fmt.Sprint(v))
			if strings.HasPrefix(s, "[") {
				if err := json.Unmarshal([]byte(s), &out); err != nil {
					fail(key, fmt.Errorf("%s is not a JSON list of strings", s))
				}
				return out
			}
			for _, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); e != "" {
					out = append(out, e)
				}
			}
		}
		return out
	}
	if l := list(ctxProtectedOUs); l != nil {
		c.Organization.ProtectedOUs = l
	}
	if v, ok := str(ctxOwnerTag); ok {
		c.Organization.OwnerTag = v
	}
	if v, ok := str(ctxOrgLookups); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail(ctxOrgLookups, fmt.Errorf("%v is not true or false", v))
		}
		c.Organization.Lookups = b
	}
	if v, ok := str(ctxOrgTTL); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			fail(ctxOrgTTL, fmt.Errorf("%v is not a Go duration such as 15m", v))
		}
		c.Organization.TTL = d
	}
	if v, ok := str(ctxManagementAccount); ok {
		c.ManagementAccount = v
	}
	if v, ok := str(ctxHealthSchedule); ok {
		c.HealthSchedule = v
	}
	c.HealthAccounts = list(ctxHealthAccounts)
	switch v := get(ctxRoutes).(type) {
	case nil:
	case string: // -c routes='[…]'
		if strings.TrimSpace(v) != "" {
			c.Routes = parseRoutes([]byte(v), fail)
		}
	default: // a JSON list in cdk.json
		b, err := json.Marshal(v)
		if err != nil {
			fail(ctxRoutes, err)
			return
		}
		c.Routes = parseRoutes(b, fail)
	}
}

func parseRoutes(b []byte, fail func(string, error)) []route.Route {
	rs, err := route.Parse(b)
	if err != nil {
		fail(ctxRoutes, err)
	}
	if len(rs) == 0 {
		return nil // [] is no routes, as the default
	}
	return rs
}

// validateOrg reports what of the organization's configuration would not work (Validate calls it).
func (c Config) validateOrg(bad func(key, format string, a ...any)) {
	for _, ou := range c.Organization.ProtectedOUs {
		if !org.IsOU(ou) && !org.IsRoot(ou) {
			bad(ctxProtectedOUs, "%q is not an OU id (ou-…) or root id (r-…)", ou)
		}
	}
	if !tagKeyRE.MatchString(c.Organization.OwnerTag) || strings.HasPrefix(c.Organization.OwnerTag, "aws:") {
		bad(ctxOwnerTag, "%q is not a tag key (1–128 characters, not aws:…)", c.Organization.OwnerTag)
	}
	if c.Organization.TTL < 0 {
		bad(ctxOrgTTL, "%v is negative", c.Organization.TTL)
	}
	if c.ManagementAccount != "" && !accountRE.MatchString(c.ManagementAccount) {
		bad(ctxManagementAccount, "%q is not a 12-digit account id", c.ManagementAccount)
	}
	if c.ManagementAccount != "" && c.ManagementAccount == c.OrchestratorAccount {
		// The management account should not run workloads; and its own roles need no delegation.
		bad(ctxManagementAccount, "%s is the orchestrator account: run guardbots in a delegated security account", c.ManagementAccount)
	}
	if err := route.Check(c.Routes); err != nil {
		bad(ctxRoutes, "%v", err)
	}
	if !scheduleRE.MatchString(c.HealthSchedule) {
		bad(ctxHealthSchedule, "%q is not an EventBridge schedule (rate(1 day), cron(0 6 * * ? *))", c.HealthSchedule)
	}
	for _, a := range c.HealthAccounts {
		if !accountRE.MatchString(a) {
			bad(ctxHealthAccounts, "%q is not a 12-digit account id", a)
		}
	}
}

// orgRoleName is the fixed role name of a function the management account's delegation policy names:
// match and verify (the deciding reads) and the health check (ListAccounts).
func orgRoleName(prefix, function string) (string, bool) {
	switch function {
	case deployment.StepMatch, deployment.StepVerify, deployment.HealthFunction:
		name, err := lambdaRoleName(prefix, function)
		return name, err == nil
	}
	return "", false
}

// grantOrganizationReads lets match and verify make the deciding reads. The accounts and OUs are those
// of any organization (the delegation policy in the management account is what limits them to its own);
// the actions are exact.
func grantOrganizationReads(roles ...awsiam.Role) {
	for _, role := range roles {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("ReadTheOrganization"),
			Actions: jsii.Strings(decidingReads...),
			Resources: jsii.Strings(
				fmt.Sprintf("arn:%s:organizations::*:account/o-*/*", *awscdk.Aws_PARTITION()),
				fmt.Sprintf("arn:%s:organizations::*:ou/o-*/ou-*", *awscdk.Aws_PARTITION()),
			),
		}))
		suppress(role, "AwsSolutions-IAM5",
			"Organizations' account and OU ARNs carry the management account and organization id, which the security "+
				"account's stack does not know; the management account's delegation policy admits only these roles, for these reads.",
			fmt.Sprintf("Resource::arn:<AWS::Partition>:organizations::*:account/o-*/*"),
			fmt.Sprintf("Resource::arn:<AWS::Partition>:organizations::*:ou/o-*/ou-*"))
	}
}

// NewOrganizationStack is the stack deployed in the management account: the delegation policy that lets
// the security account's match and verify roles read accounts, parents and tags, and its health check
// role list the accounts — nothing else, and no other principal of the security account.
func NewOrganizationStack(scope constructs.Construct, id string, cfg Config) awscdk.Stack {
	props := &awscdk.StackProps{
		Description: jsii.String("guardbots organization: lets the security account's deciding steps read accounts, OU paths and tags (deploy in the management account)"),
		Env:         &awscdk.Environment{Region: jsii.String(cfg.HomeRegion)},
	}
	if cfg.ManagementAccount != "" {
		props.Env.Account = jsii.String(cfg.ManagementAccount)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	security := jsii.String(cfg.OrchestratorAccount)
	if cfg.OrchestratorAccount == "" {
		p := awscdk.NewCfnParameter(stack, jsii.String(paramOrchestratorAccount), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), AllowedPattern: jsii.String(`^\d{12}$`),
			Description: jsii.String("the security account guardbots' orchestrator runs in"),
		})
		security = p.ValueAsString()
	}
	roleArn := func(fn string) string {
		name, _ := orgRoleName(cfg.RolePrefix, fn)
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", *awscdk.Aws_PARTITION(), *security, name)
	}
	principal := map[string]any{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", *awscdk.Aws_PARTITION(), *security)}
	content := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{
				"Sid": "GuardbotsDecidingStepsReadAccounts", "Effect": "Allow", "Principal": principal,
				"Action": decidingReads, "Resource": "*",
				"Condition": map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": []string{roleArn(deployment.StepMatch), roleArn(deployment.StepVerify)}}},
			},
			map[string]any{
				"Sid": "GuardbotsHealthCheckListsAccounts", "Effect": "Allow", "Principal": principal,
				"Action": healthReads, "Resource": "*",
				"Condition": map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": roleArn(deployment.HealthFunction)}},
			},
		},
	}
	awsorganizations.NewCfnResourcePolicy(stack, jsii.String("Delegation"), &awsorganizations.CfnResourcePolicyProps{Content: content})
	return stack
}

// addRoutes subscribes each route to the JSON topic (an email route: the mail topic) with its filter
// policy (message attributes). The L1 subscription takes the policy verbatim ("$or" included), and
// creates no queue policy: an SQS route's queue (often another account's) must let the topic send to it, as its owner decides.
func addRoutes(scope constructs.Construct, alerts notifications, routes []route.Route) {
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
	for _, r := range routes {
		// An email route reads plain text, as notificationEmail does (issue 17): the mail topic carries
		// the same messages with the same attributes, so the filter policy is the same.
		topic := alerts.Topic
		if r.Protocol == "email" {
			topic = alerts.Mail
		}
		awssns.NewCfnSubscription(scope, jsii.String("Route-"+r.Name), &awssns.CfnSubscriptionProps{
			TopicArn:          topic.TopicArn(),
			Protocol:          jsii.String(r.Protocol),
			Endpoint:          jsii.String(r.Endpoint),
			FilterPolicy:      r.FilterPolicy(),
			FilterPolicyScope: jsii.String("MessageAttributes"),
		})
	}
}
