// Package ec2bots holds the bots that act on an EC2 instance through the EC2 API alone: a bot Lambda
// importing it links the EC2 client only.
package ec2bots

// The runner checks the exemption tag of the resources the bots act on before running one: these
// link the tag reads into the family's Lambdas (bottest.Main checks none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags"
)
