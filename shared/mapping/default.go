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
