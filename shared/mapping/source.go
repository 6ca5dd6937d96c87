package mapping

import (
	"context"
	"fmt"
	"os"

	"github.com/guardbots/guardbots/shared/deployment"
)

// OptionsFromEnv reads what match and verify both decide with besides the mapping itself:
// deployment.EnvAllowSamples, deployment.EnvProtectedAccounts and deployment.EnvProtectedOUs (the
// organization lookup itself is the step's to build). Both steps read the same variables, so GuardDuty's
// copy is decided with the rules the input was.
func OptionsFromEnv() (MatchOptions, error) {
	allow, err := deployment.EnvBool(deployment.EnvAllowSamples)
	if err != nil {
		return MatchOptions{}, err
	}
	protected, err := ParseAccountList(os.Getenv(deployment.EnvProtectedAccounts))
	if err != nil {
		return MatchOptions{}, fmt.Errorf("%s: %w", deployment.EnvProtectedAccounts, err)
	}
	ous, err := ParseOUList(os.Getenv(deployment.EnvProtectedOUs))
	if err != nil {
		return MatchOptions{}, fmt.Errorf("%s: %w", deployment.EnvProtectedOUs, err)
	}
	return MatchOptions{AllowSamples: allow, ProtectedAccounts: protected, ProtectedOUs: ous}, nil
}

// Source yields the current mapping: ssmstore.Store in the Lambdas (the SSM parameter, cached), Static
// where the mapping is fixed.
type Source interface {
	Mapping(ctx context.Context) (*Mapping, error)
}

// Static is a Source that always returns M.
type Static struct{ M *Mapping }

func (s Static) Mapping(context.Context) (*Mapping, error) { return s.M, nil }
