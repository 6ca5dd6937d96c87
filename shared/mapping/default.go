package mapping

import (
	_ "embed"
	"slices"
)

//go:embed default.json
var defaultDoc []byte

// Default returns the default mapping document: what the CDK stack writes to the SSM parameter at
// first deploy and what explain uses when no mapping is given. It maps no destructive bot (a test
// enforces it). The caller gets its own copy.
func Default() []byte { return slices.Clone(defaultDoc) }

// DefaultSeverityFloor is the CDK app's default severityFloor (cdk.json, infra/config.go): findings of a
// lower GuardDuty severity never start the workflow. The default mapping is written for it: every rule can
// be reached by a finding at or above it (TestDefault_EveryRuleIsReachableAtTheDefaultFloor).
const DefaultSeverityFloor = 4
