// Package ssmstore reads the mapping document from SSM Parameter Store for the match Lambda. It is apart
// from package mapping so that the Lambdas which only carry a decision (bots, notify) do not link the
// SSM client: every AWS SDK service linked costs cold-start time in its package initialisation.
package ssmstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
)

// ParameterGetter is the one SSM call the Store makes.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Store reads the mapping from SSM Parameter Store and keeps the parsed mapping for a short TTL, so an
// edit takes effect within the TTL and without a redeploy. It is safe for concurrent use; concurrent
// callers after the TTL wait for one fetch instead of each calling SSM.
//
// When a refresh finds the document invalid (or cannot read it), Mapping returns the error rather than
// the previous mapping: acting on a stale mapping would hide from the security team that their edit
// broke it. Errors are not cached; the next call tries again.
type Store struct {
	client ParameterGetter
	name   string
	ttl    time.Duration
	now    func() time.Time
	// parse are the options every fetched document is parsed with (the deployment's bots).
	parse []mapping.ParseOption

	mu        sync.Mutex
	cached    *mapping.Mapping
	version   int64
	value     string
	fetchedAt time.Time
}

// StoreOption configures a Store; options override the environment.
type StoreOption func(*Store)

// WithParameterName sets the SSM parameter name.
func WithParameterName(name string) StoreOption { return func(s *Store) { s.name = name } }

// WithTTL sets how long a fetched mapping is reused.
func WithTTL(d time.Duration) StoreOption { return func(s *Store) { s.ttl = d } }

// WithDeployedBots refuses a mapping that names a bot outside names, the bots the deployment runs
// (mapping.WithDeployedBots): match and verify fail closed on it, naming the bot.
func WithDeployedBots(names []string) StoreOption {
	return func(s *Store) { s.parse = append(s.parse, mapping.WithDeployedBots(names)) }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) StoreOption { return func(s *Store) { s.now = now } }

// New builds a Store from GUARDBOTS_MAPPING_PARAMETER and GUARDBOTS_MAPPING_TTL (defaults
// /guardbots/mapping and 60s) and the options.
func New(client ParameterGetter, opts ...StoreOption) (*Store, error) {
	if client == nil {
		return nil, errors.New("mapping store: nil SSM client")
	}
	s := &Store{client: client, name: deployment.DefaultMappingParameter, ttl: deployment.DefaultMappingTTL, now: time.Now}
	if v := os.Getenv(deployment.EnvMappingParameter); v != "" {
		s.name = v
	}
	if v := os.Getenv(deployment.EnvMappingTTL); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("mapping store: %s=%q is not a non-negative Go duration such as \"60s\"", deployment.EnvMappingTTL, v)
		}
		s.ttl = d
	}
	for _, o := range opts {
		o(s)
	}
	if s.name == "" {
		return nil, errors.New("mapping store: empty parameter name")
	}
	if s.ttl < 0 {
		return nil, fmt.Errorf("mapping store: negative TTL %s", s.ttl)
	}
	return s, nil
}

// ParameterName is the SSM parameter the Store reads.
func (s *Store) ParameterName() string { return s.name }

// Mapping returns the current mapping, fetching and parsing the parameter when the cached one is older
// than the TTL.
func (s *Store) Mapping(ctx context.Context) (*mapping.Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cached != nil && now.Sub(s.fetchedAt) < s.ttl {
		return s.cached, nil
	}
	out, err := s.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.name), WithDecryption: aws.Bool(true)})
	if err != nil {
		var missing *types.ParameterNotFound
		if errors.As(err, &missing) {
			return nil, faults.Fail(fmt.Errorf("mapping parameter %s does not exist: create it (aws ssm put-parameter --name %s --type String --value file://mapping.json; shared/mapping/default.json is a starting point) or deploy the stack, which creates it: %w", s.name, s.name, err))
		}
		// Left unclassified so throttles and transient errors stay retryable.
		return nil, fmt.Errorf("read mapping parameter %s: %w", s.name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, faults.Fail(fmt.Errorf("mapping parameter %s: SSM returned no value", s.name))
	}
	value, version := *out.Parameter.Value, out.Parameter.Version
	// The same version and value need no re-parse (the registry does not change at run time).
	if s.cached != nil && version == s.version && value == s.value {
		s.fetchedAt = now
		return s.cached, nil
	}
	m, err := mapping.Parse([]byte(value), s.parse...)
	if err != nil {
		return nil, faults.Fail(fmt.Errorf("mapping parameter %s (version %d): %w", s.name, version, err))
	}
	s.cached, s.version, s.value, s.fetchedAt = m, version, value, now
	return m, nil
}
