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
	Member       awscdk.Stack
	StackSet     awscdk.Stack
	Forwarders   map[string]awscdk.Stack // by stack id
	// Organization is the management account's delegation policy (organization.go); MemberHealth the
	// member-role health check (health.go).
	Organization   awscdk.Stack
	MemberHealth   awscdk.Stack
	MemberTemplate string
}

// Build adds every stack to app and cdk-nag's AWS Solutions checks to all of them.
func Build(app awscdk.App, cfg Config, o BuildOptions) (*Stacks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	doc, tier, err := cfg.MappingDocument(o.Root)
	if err != nil {
		return nil, err
	}
	for _, f := range append(deployment.Functions(cfg.Settings, deployment.Resources{}), deployment.Health(cfg.Settings, deployment.Resources{}, deployment.HealthEnv{})) {
		if _, err := os.Stat(filepath.Join(o.AssetDir, f.Name, "bootstrap")); err != nil {
			return nil, fmt.Errorf("Lambda code for %s is missing (%v): run make build", f.Name, err)
		}
	}
	botList := deployment.Bots(cfg.Settings)

	s := &Stacks{Forwarders: map[string]awscdk.Stack{}}
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

	// The same member template twice: as a stack of its own (deploy it directly to the management
	// account, which service-managed StackSets skip) and embedded in the StackSet.
	s.Member = NewMemberStack(app, memberStackID, cfg, botList)
	s.MemberTemplate, err = MemberTemplate(cfg, botList)
	if err != nil {
		return nil, err
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
