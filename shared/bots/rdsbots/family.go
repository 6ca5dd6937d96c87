// Package rdsbots holds the bots that act on RDS DB instances: a bot Lambda importing it links the RDS
// client.
package rdsbots

// The runner checks the exemption tag of the resources the bots act on before running one: these
// link the tag reads into the family's Lambdas (bottest.Main checks none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/rdstags"
)
