// Package all links every bot family, for the programs and tests that need every implementation: the
// catalogue's generator and the local workflow's in-process runs. A bot's Lambda never imports it.
package all

import (
	_ "github.com/guardbots/guardbots/shared/bots/autoscalingbots"
	_ "github.com/guardbots/guardbots/shared/bots/cloudtrailbots"
	_ "github.com/guardbots/guardbots/shared/bots/ec2bots"
	_ "github.com/guardbots/guardbots/shared/bots/elbbots"
	_ "github.com/guardbots/guardbots/shared/bots/iambots"
	_ "github.com/guardbots/guardbots/shared/bots/lambdabots"
	_ "github.com/guardbots/guardbots/shared/bots/rdsbots"
	_ "github.com/guardbots/guardbots/shared/bots/s3bots"
)
