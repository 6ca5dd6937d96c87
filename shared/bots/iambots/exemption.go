package iambots

// The runner checks the exemption tag on the resources of every kind the family's bots act on (access
// keys, and instances for iam_revoke_role_sessions) before running one: these link the tag reads into
// the family's Lambdas.
import (
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags" // iam_revoke_role_sessions acts on instance findings too
	_ "github.com/guardbots/guardbots/shared/exempt/iamtags"
)
