// Package lambdabots holds the bots that act on Lambda functions: a bot Lambda importing it links the
// Lambda client.
package lambdabots

// The runner checks the exemption tag of the resources the bots act on before running one: these
// link the tag reads into the family's Lambdas (bottest.Main checks none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/lambdatags"
)
