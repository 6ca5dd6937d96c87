package deployment

import "time"

// The organization (match and verify): rules that know an account's OU path and tags, protected OUs,
// and the account's name, OU path and owner on every notification.
const (
	// EnvOrgLookups switches the deciding steps' AWS Organizations reads (DescribeAccount, ListParents,
	// ListTagsForResource, from the security account, as the management account's resource policy
	// allows). Default true. Off, a rule or protected OU that needs the organization stops the decision
	// with an error, and notifications carry the account id alone.
	EnvOrgLookups = "GUARDBOTS_ORGANIZATION_LOOKUPS"
	// EnvOrgTTL is how long a looked-up account is reused (Go duration; default DefaultOrgTTL).
	EnvOrgTTL = "GUARDBOTS_ORGANIZATION_TTL"
	// EnvProtectedOUs is the comma-separated list of OU (or root) ids whose accounts, at any depth, no bot
	// may change; the mapping's defaults.protectedOUs adds to it without a redeploy.
	EnvProtectedOUs = "GUARDBOTS_PROTECTED_OUS"
	// EnvOwnerTag is the account tag (in AWS Organizations) whose value names the team that owns the
	// account: the notification's owner and its "owner" message attribute (default DefaultOwnerTag).
	EnvOwnerTag = "GUARDBOTS_OWNER_TAG"
)

const (
	// DefaultOrgTTL: an account moved to another OU, or retagged, is decided by its new place at most
	// this long after the move (org.DefaultTTL).
	DefaultOrgTTL = 15 * time.Minute
	// DefaultOwnerTag is the account tag read as its owner.
	DefaultOwnerTag = "owner"
)
