package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/guardbots/guardbots/shared/deployment"
)

// Stack ids (and CloudFormation stack names) of the app.
const (
	orchestratorStackID = "guardbots-orchestrator"
	memberStackID       = "guardbots-member"
	stackSetStackID     = "guardbots-stackset"
	forwarderStackID    = "guardbots-forwarder"
	memberHealthStackID = "guardbots-member-health"
)

// BuildOptions are the app's inputs besides context.
type BuildOptions struct {
	// Root is the repository root: a relative mappingFile is read from here.
	Root string
	// AssetDir holds <function>/bootstrap for every Lambda (build/ after `make build`).
	AssetDir string
	Workflow Workflow
}

// Stacks are the app's stacks.
type Stacks struct {
	Orchestrator *Orchestrator
	// Member is the management account's member stack, nil unless context managementAccountMember.
	Member     awscdk.Stack
	StackSet   awscdk.Stack
	Forwarders map[string]awscdk.Stack // by stack id
	// Organization is the management account's delegation policy (organization.go); MemberHealth the
	// member-role health check (health.go).
	Organization awscdk.Stack
	MemberHealth awscdk.Stack
	// MemberTemplate is the StackSet's template: every member account's roles.
	MemberTemplate string
	// Config is the configuration the stacks were built with, the enabled bots resolved.
	Config Config
}

// Build adds every stack to app and cdk-nag's AWS Solutions checks to all of them.
func Build(app awscdk.App, cfg Config, o BuildOptions) (*Stacks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	doc, tier, m, err := cfg.MappingDocument(o.Root)
	if err != nil {
		return nil, err
	}
	// Only the enabled bots get a Lambda, a Lambda role and member roles: by default, those the
	// mapping names (a mapping edited in SSM to name another is refused by match and verify).
	if err := cfg.resolveBots(m); err != nil {
		return nil, err
	}
	for _, f := range append(deployment.Functions(cfg.Settings, deployment.Resources{}), deployment.Health(cfg.Settings, deployment.Resources{}, deployment.HealthEnv{})) {
		if _, err := os.Stat(filepath.Join(o.AssetDir, f.Name, "bootstrap")); err != nil {
			return nil, fmt.Errorf("Lambda code for %s is missing (%v): run make build", f.Name, err)
		}
	}
	botList := deployment.Bots(cfg.Settings)

	s := &Stacks{Forwarders: map[string]awscdk.Stack{}, Config: cfg}
	s.Orchestrator, err = NewOrchestrator(app, orchestratorStackID, OrchestratorProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("guardbots orchestrator: GuardDuty findings → remediation workflow → bots → notification"),
			Env:         &awscdk.Environment{Region: jsii.String(cfg.HomeRegion)},
		},
		Config: cfg, Workflow: o.Workflow, AssetDir: o.AssetDir,
		Mapping: doc, MappingTier: tier,
	})
	if err != nil {
		return nil, err
	}

	// Every member account gets the enabled bots' roles through the StackSet. The management account,
	// which service-managed StackSets skip, gets a stack of its own only when the deployment asks for
	// it, and without the IAM-writing bots it does not name again.
	s.MemberTemplate, err = MemberTemplate(cfg, botList)
	if err != nil {
		return nil, err
	}
	if cfg.ManagementAccountMember {
		s.Member = NewMemberStack(app, memberStackID, cfg, cfg.ManagementAccountBots(), managementDescription)
	}
	s.StackSet, err = NewStackSetStack(app, stackSetStackID, cfg, s.MemberTemplate)
	if err != nil {
		return nil, err
	}

	if len(cfg.OtherRegions) == 0 {
		s.Forwarders[forwarderStackID] = NewForwarderStack(app, forwarderStackID, cfg, "")
	}
	for _, r := range cfg.OtherRegions {
		id := forwarderStackID + "-" + r
		s.Forwarders[id] = NewForwarderStack(app, id, cfg, r)
	}
	s.Organization = NewOrganizationStack(app, organizationStackID, cfg)
	if s.MemberHealth, err = NewMemberHealthStack(app, memberHealthStackID, cfg, s.Orchestrator, o.AssetDir); err != nil {
		return nil, err
	}
	checkWithNag(app)
	return s, nil
}
