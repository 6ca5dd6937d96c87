// Package rdsbots holds the bots that act on RDS DB instances: a bot Lambda importing it links the RDS
// client.
package rdsbots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/rdstags"
)
