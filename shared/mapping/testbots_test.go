package mapping

import (
	"context"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// Test bots, registered under a test_ prefix so they never collide with the real ones.
func init() {
	run := func(context.Context, bots.Request) (bots.Result, error) { return bots.Result{}, nil }
	bots.Register(bots.Bot{
		Name: "test_snapshot", Summary: "test: snapshot volumes", Impact: bots.ImpactEvidence,
		Resources: []finding.ResourceKind{finding.KindInstance}, Run: run,
	})
	bots.Register(bots.Bot{
		Name: "test_stop", Summary: "test: stop", Impact: bots.ImpactDisruptive,
		Resources: []finding.ResourceKind{finding.KindInstance}, Run: run,
		Params: []bots.Param{
			{Name: "how", Type: bots.TypeString, Enum: []string{"soft", "hard"}, Default: "soft"},
			{Name: "wait", Type: bots.TypeInt, Min: 1, Max: 10, Default: 5},
			{Name: "force", Type: bots.TypeBool},
			{Name: "ttl", Type: bots.TypeDuration, Default: 15 * time.Minute},
			{Name: "tags", Type: bots.TypeStrings},
		},
	})
	bots.Register(bots.Bot{
		Name: "test_block_bucket", Summary: "test: block public access", Impact: bots.ImpactDisruptive,
		Resources: []finding.ResourceKind{finding.KindS3Bucket}, Run: run,
	})
	bots.Register(bots.Bot{
		Name: "test_terminate", Summary: "test: terminate", Impact: bots.ImpactDestructive,
		Resources: []finding.ResourceKind{finding.KindInstance}, Run: run,
		Params: []bots.Param{{Name: "reason", Type: bots.TypeString, Required: true}},
	})
	bots.Register(bots.Bot{
		Name: "test_notify", Summary: "test: notify", Impact: bots.ImpactNone,
		Resources: []finding.ResourceKind{finding.KindInstance, finding.KindS3Bucket, finding.KindAccessKey}, Run: run,
	})
}
