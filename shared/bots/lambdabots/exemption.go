package lambdabots

// The runner checks the exemption tag on the resources of every kind the family's bots act on (functions)
// before running one: these link the tag reads into the family's Lambdas.
import (
	_ "github.com/guardbots/guardbots/shared/exempt/lambdatags"
)
