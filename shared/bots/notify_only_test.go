package bots_test

import (
	"context"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// TestMain checks notify_only's declaration against its tests, as each bot family's does.
func TestMain(m *testing.M) { bottest.Main(m) }

func TestNotifyOnly_ReportsNotifiedAndCallsNothing(t *testing.T) {
	b, ok := bots.Lookup("notify_only")
	if !ok {
		t.Fatal("notify_only is not registered")
	}
	rec := bottest.NewRecorder("notify_only")
	// No endpoint: any AWS call would fail.
	res, err := b.Run(context.Background(), bots.Request{
		Finding: &finding.Finding{ID: "f1", AccountID: bottest.Account, Region: bottest.Region, ResourceKind: finding.KindEKSCluster},
		AWS:     bottest.Config("", rec.Option),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusNotified || res.Reason == "" || res.Bot != "notify_only" {
		t.Errorf("result = %+v, want notified with a reason", res)
	}
	if res.Account != bottest.Account || res.Region != bottest.Region {
		t.Errorf("result does not say where: %+v", res)
	}
	if len(rec.Ops()) != 0 || len(b.Operations) != 0 || b.Impact != bots.ImpactNone {
		t.Errorf("notify_only must call and declare nothing (ops %v, declared %v, impact %s)", rec.Ops(), b.Operations, b.Impact)
	}
}

func TestNotifyOnly_HandlesEveryResourceKind(t *testing.T) {
	b, _ := bots.Lookup("notify_only")
	for _, k := range []finding.ResourceKind{
		finding.KindInstance, finding.KindAccessKey, finding.KindS3Bucket, finding.KindEKSCluster,
		finding.KindRDSDBInstance, finding.KindLambdaFunction, finding.KindContainer,
		finding.KindECSCluster, finding.KindAttackSequence, finding.KindOther,
	} {
		if !b.Handles(k) {
			t.Errorf("notify_only does not handle %s", k)
		}
	}
}
