// Package elbbots holds the bots that act on an EC2 instance through Elastic Load Balancing v2, apart
// from ec2bots so that the plain EC2 bots' Lambdas do not link the ELBv2 client.
package elbbots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/ec2tags"
)
