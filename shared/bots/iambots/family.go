// Package iambots holds the bots that act on IAM users and roles: a bot Lambda importing it links the
// IAM client, and the EC2 client for the instance exemption read of iam_revoke_role_sessions.
package iambots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags" // iam_revoke_role_sessions acts on instance findings too
	_ "github.com/guardbots/guardbots/shared/exempt/iamtags"
)
