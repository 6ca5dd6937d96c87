// Package awsenv builds the AWS configuration a bot acts with: the Lambda's own configuration (Load), and
// per finding the configuration for the finding's account and region (Resolver.ForBot) — the Lambda's
// own credentials in the orchestrator's account, the bot's member role, assumed with an ExternalId, in
// any other account.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

const (
	// MaxAttempts bounds the SDK's retries: a Lambda has a timeout, and the state machine retries a
	// throttled Task with its own backoff after the SDK gives up.
	MaxAttempts = 5
	// SessionDuration is AssumeRole's minimum: a bot runs for seconds, so shorter-lived credentials are safer.
	SessionDuration = 15 * time.Minute
	// ExpiryWindow refreshes cached credentials this long before they expire, so a call never goes out
	// with credentials that expire in flight.
	ExpiryWindow = 2 * time.Minute
	// maxRolePrefix leaves room in IAM's 64-character role names for "-<bot>".
	maxRolePrefix = 32
	// maxCachedRoles bounds the provider cache of a warm Lambda (one entry per account, bot and finding).
	maxCachedRoles = 256
)

// Resolver gives each bot the configuration for a finding's account and region. The zero value is not
// usable: set Base (NewResolver does so from the environment). A Resolver is safe for concurrent use and
// meant to live as long as the Lambda's execution environment, so credentials are reused while warm.
type Resolver struct {
	// Base is the orchestrator's own configuration (its credentials call sts:AssumeRole).
	Base aws.Config
	// RolePrefix names member roles "<RolePrefix>-<bot>"; empty means deployment.DefaultRolePrefix.
	RolePrefix string
	// ExternalID is sent with every AssumeRole. Required for cross-account work: the member roles trust
	// the orchestrator only with it (the confused-deputy guard CloudBots lacked).
	ExternalID string
	// AccountID is the orchestrator's own account; empty means discovered (Lambda context, else STS).
	AccountID string
	// STSOptions are applied to every STS client the Resolver builds (tests add stubs here).
	STSOptions []func(*sts.Options)

	mu      sync.Mutex
	self    string
	entries map[cacheKey]*aws.CredentialsCache
}

type cacheKey struct{ partition, account, role, session string }

// NewResolver configures a Resolver from the environment: GUARDBOTS_MEMBER_ROLE_PREFIX (default
// "guardbots"), GUARDBOTS_EXTERNAL_ID, GUARDBOTS_ACCOUNT_ID (optional).
func NewResolver(base aws.Config) (*Resolver, error) {
	r := &Resolver{
		Base:       base,
		RolePrefix: os.Getenv(deployment.EnvRolePrefix),
		ExternalID: os.Getenv(deployment.EnvExternalID),
		AccountID:  os.Getenv(deployment.EnvAccountID),
	}
	if r.RolePrefix == "" {
		r.RolePrefix = deployment.DefaultRolePrefix
	}
	if r.AccountID != "" && !accountRE.MatchString(r.AccountID) {
		return nil, fmt.Errorf("awsenv: %s=%q is not a 12-digit account id", deployment.EnvAccountID, r.AccountID)
	}
	if !rolePrefixRE.MatchString(r.RolePrefix) || len(r.RolePrefix) > maxRolePrefix {
		return nil, fmt.Errorf("awsenv: %s=%q is not a valid role name prefix", deployment.EnvRolePrefix, r.RolePrefix)
	}
	return r, nil
}

var (
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	// At most maxRolePrefix characters, checked apart: regexp compiles {1,32} into an instruction per
	// count, at every start.
	rolePrefixRE = regexp.MustCompile(`^[\w+=,.@-]+$`)
	sessionBadRE = regexp.MustCompile(`[^\w+=,.@-]+`)
)

// ForBot returns the configuration bot uses for a finding in account/region, and the role ARN it
// assumed ("" in the orchestrator's own account). partition "" is inferred from the region.
//
// In another account it assumes arn:<partition>:iam::<account>:role/<prefix>-<bot> with the ExternalId,
// a session name naming the bot and the finding and the source identity "guardbots-<bot>", so the
// member account's CloudTrail shows who acted and why. Credentials are retrieved eagerly, so an
// AssumeRole failure is returned here, naming the account and role.
func (r *Resolver) ForBot(ctx context.Context, bot, findingID, account, region, partition string) (aws.Config, string, error) {
	if !accountRE.MatchString(account) {
		return aws.Config{}, "", faults.Rejectf("awsenv: account %q is not a 12-digit account id", account)
	}
	if !regionRE.MatchString(region) {
		return aws.Config{}, "", faults.Rejectf("awsenv: region %q is not an AWS region name", region)
	}
	if partition == "" {
		partition = finding.PartitionOf(region)
	}
	if !partitionRE.MatchString(partition) {
		return aws.Config{}, "", faults.Rejectf("awsenv: partition %q is not an AWS partition", partition)
	}
	self, err := r.selfAccount(ctx)
	if err != nil {
		return aws.Config{}, "", err
	}
	cfg := r.Base.Copy()
	cfg.Region = region
	if account == self {
		return cfg, "", nil
	}

	role, err := RoleARN(partition, account, r.rolePrefix(), bot)
	if err != nil {
		return aws.Config{}, "", err
	}
	if r.ExternalID == "" {
		// Member roles trust the orchestrator only with the ExternalId; calling without it would be
		// an AccessDenied that says nothing about the cause.
		return aws.Config{}, role, faults.Fail(fmt.Errorf("awsenv: cannot act in account %s as %s: %s is not set (member roles require an ExternalId)", account, role, deployment.EnvExternalID))
	}
	creds := r.credentials(cacheKey{partition, account, role, SessionName(bot, findingID)}, region, bot)
	if _, err := creds.Retrieve(ctx); err != nil {
		return aws.Config{}, role, assumeError(account, role, err)
	}
	cfg.Credentials = creds
	return cfg, role, nil
}

// RoleARN is the member role of bot in account: arn:<partition>:iam::<account>:role/<prefix>-<bot>.
func RoleARN(partition, account, prefix, bot string) (string, error) {
	if !accountRE.MatchString(account) {
		return "", faults.Rejectf("awsenv: account %q is not a 12-digit account id", account)
	}
	if !partitionRE.MatchString(partition) {
		return "", faults.Rejectf("awsenv: partition %q is not an AWS partition", partition)
	}
	name := prefix + "-" + bot
	// IAM role names: [\w+=,.@-], at most 64 characters.
	if len(name) > 64 || sessionBadRE.MatchString(name) || bot == "" {
		return "", faults.Rejectf("awsenv: %q is not a valid role name", name)
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, name), nil
}

// SessionName is the RoleSessionName for bot acting on a finding: "<bot>@<finding id>", characters
// outside [\w+=,.@-] replaced, at most 64 characters (STS's limits).
func SessionName(bot, findingID string) string {
	s := sessionBadRE.ReplaceAllString(bot, "_")
	if f := sessionBadRE.ReplaceAllString(findingID, "_"); f != "" {
		s += "@" + f
	}
	if len(s) > 64 {
		s = s[:64]
	}
	if len(s) < 2 { // STS's minimum
		s = "guardbots-" + s
	}
	return s
}

// SourceIdentity is the source identity sent for bot (same character rules as a session name).
func SourceIdentity(bot string) string {
	s := "guardbots-" + sessionBadRE.ReplaceAllString(bot, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func (r *Resolver) rolePrefix() string {
	if r.RolePrefix == "" {
		return deployment.DefaultRolePrefix
	}
	return r.RolePrefix
}

// credentials returns the cached credentials for key, creating the provider on first use.
func (r *Resolver) credentials(key cacheKey, region, bot string) *aws.CredentialsCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.entries[key]; ok {
		return c
	}
	if r.entries == nil || len(r.entries) >= maxCachedRoles {
		// A warm Lambda sees a few findings; starting over beats an unbounded map.
		r.entries = map[cacheKey]*aws.CredentialsCache{}
	}
	client := sts.NewFromConfig(r.Base, append([]func(*sts.Options){func(o *sts.Options) {
		// Regional STS in the finding's region: no dependency on us-east-1, and the right partition.
		o.Region = region
	}}, r.STSOptions...)...)
	provider := stscreds.NewAssumeRoleProvider(client, key.role, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = key.session
		o.ExternalID = aws.String(r.ExternalID)
		o.SourceIdentity = aws.String(SourceIdentity(bot))
		o.Duration = SessionDuration
	})
	c := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = ExpiryWindow
		o.ExpiryWindowJitterFrac = 0.25
	})
	r.entries[key] = c
	return c
}

// selfAccount is the orchestrator's account: configured, else from the invoked function's ARN, else STS
// GetCallerIdentity (once; a failure is not cached, so the next call tries again).
func (r *Resolver) selfAccount(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.AccountID != "" {
		return r.AccountID, nil
	}
	if r.self != "" {
		return r.self, nil
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.InvokedFunctionArn != "" {
		if a, err := arn.Parse(lc.InvokedFunctionArn); err == nil && accountRE.MatchString(a.AccountID) {
			r.self = a.AccountID
			return r.self, nil
		}
	}
	out, err := sts.NewFromConfig(r.Base, r.STSOptions...).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("awsenv: find the orchestrator's own account (sts:GetCallerIdentity): %w", err)
	}
	r.self = aws.ToString(out.Account)
	return r.self, nil
}

// assumeError names the account and role; AccessDenied is a Failed fault (retrying cannot help), other
// errors keep their chain so throttling stays classifiable.
func assumeError(account, role string, err error) error {
	wrapped := fmt.Errorf("awsenv: assume role %s in account %s: %w", role, account, err)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied" {
		return faults.Fail(wrapped)
	}
	return wrapped
}
