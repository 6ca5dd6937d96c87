// Package scp is the service control policy a security team adds to the organization beside guardbots
// (infra/README.md, "What an SCP adds"): only the workflow's role may invoke the guardbots functions
// (and the member-role health check's roles: its state machine invokes its function, which invokes the
// bots with signed probes), nothing may open another way into them, and only named principals may set or remove the
// guardbots:exempt tag. guardbots.scp.json is the policy with ${…} placeholders; Render fills them in,
// and `go run ./infra/scp/render` prints the policy to apply.
package scp

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Template is guardbots.scp.json: the policy with ${Partition}, ${Prefix}, ${OrchestratorAccount} and
// ${ExemptTagPrincipals} (a list) to fill in.
//
//go:embed guardbots.scp.json
var Template string

// MaxSize is AWS Organizations' limit on a service control policy's document, in characters.
const MaxSize = 5120

// Params are what a deployment fills in.
type Params struct {
	// Partition of the organization ("aws", "aws-us-gov", "aws-cn").
	Partition string
	// Prefix is the deployment's rolePrefix: its functions are "<prefix>-<function>", the workflow's
	// role "<prefix>-workflow", the health check's "<prefix>-member-health-workflow" and
	// "<prefix>-lambda-member_health" (infra/health.go).
	Prefix string
	// OrchestratorAccount holds the functions and the workflow.
	OrchestratorAccount string
	// ExemptTagPrincipals are the role or user ARNs (or patterns) that may set or remove the exemption
	// tag, each naming its account: "arn:aws:iam::*:role/x" would let any account's role of that name do it.
	ExemptTagPrincipals []string
}

var (
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	prefixRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	// A principal of a named account: a role or user, paths and * allowed.
	principalRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/*-]+$`)
)

// Render is the policy for p, compact JSON, at most MaxSize characters.
func Render(p Params) ([]byte, error) {
	var errs []string
	if !partitionRE.MatchString(p.Partition) {
		errs = append(errs, fmt.Sprintf("partition %q is not an AWS partition", p.Partition))
	}
	if !prefixRE.MatchString(p.Prefix) {
		errs = append(errs, fmt.Sprintf("prefix %q is not a guardbots rolePrefix", p.Prefix))
	}
	if !accountRE.MatchString(p.OrchestratorAccount) {
		errs = append(errs, fmt.Sprintf("orchestrator account %q is not a 12-digit account id", p.OrchestratorAccount))
	}
	if len(p.ExemptTagPrincipals) == 0 {
		errs = append(errs, "no principal may set the exemption tag: name at least one (the security team's role)")
	}
	for _, a := range p.ExemptTagPrincipals {
		if !principalRE.MatchString(a) {
			errs = append(errs, fmt.Sprintf("exempt-tag principal %q is not the ARN of a role or user of a named account", a))
		}
	}
	if len(errs) > 0 {
		return nil, errors.New("scp: " + strings.Join(errs, "; "))
	}
	principals, _ := json.Marshal(p.ExemptTagPrincipals) // strings always marshal
	doc := strings.NewReplacer(
		"${Partition}", p.Partition, "${Prefix}", p.Prefix, "${OrchestratorAccount}", p.OrchestratorAccount,
		`["${ExemptTagPrincipals}"]`, string(principals),
	).Replace(Template)
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return nil, fmt.Errorf("scp: the rendered policy is not JSON: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(out), "${") {
		return nil, fmt.Errorf("scp: a placeholder is left in the policy: %s", out)
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("scp: the policy is %d characters, over the %d AWS Organizations allows: name fewer principals (a path with * covers several)", len(out), MaxSize)
	}
	return out, nil
}
