// Package ec2bots holds the bots that act on an EC2 instance through the EC2 API alone: a bot Lambda
// importing it links the EC2 client only.
package ec2bots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags"
)
