// Package s3bots holds the bots that act on S3 buckets and the account's S3 public access block: a bot
// Lambda importing it links the S3 and S3 Control clients.
package s3bots

// The runner reads the targets the bots act on before running one (their exemption tags, and the
// related targets they declare): these link those reads into the family's Lambdas (bottest.Main checks
// none is missing).
import (
	_ "github.com/guardbots/guardbots/shared/exempt/s3tags"
)
