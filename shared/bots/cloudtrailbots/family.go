// Package cloudtrailbots holds the bots that act on CloudTrail trails: a bot Lambda importing it links
// the CloudTrail client.
package cloudtrailbots

// The runner reads the targets the bots act on before running one (their exemption tags): this links
// that read into the family's Lambdas (bottest.Main checks none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/cloudtrailtags"
)
