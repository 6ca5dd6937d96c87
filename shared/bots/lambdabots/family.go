// Package lambdabots holds the bots that act on Lambda functions: a bot Lambda importing it links the
// Lambda client.
package lambdabots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/lambdatags"
)
