package bots

import (
	"context"
	"testing"

	"github.com/guardbots/guardbots/shared/finding"
)

func TestNotifyOnly_ReportsNotifiedAndCallsNothing(t *testing.T) {
	b, ok := Lookup("notify_only")
	if !ok {
		t.Fatal("notify_only is not registered")
	}
	rec := newRecorder("notify_only")
	// No endpoint: any AWS call would fail.
	res, err := b.Run(context.Background(), Request{
		Finding: &finding.Finding{ID: "f1", AccountID: testAccount, Region: testRegion, ResourceKind: finding.KindEKSCluster},
		AWS:     testConfig("", rec.Option),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusNotified || res.Reason == "" || res.Bot != "notify_only" {
		t.Errorf("result = %+v, want notified with a reason", res)
	}
	if res.Account != testAccount || res.Region != testRegion {
		t.Errorf("result does not say where: %+v", res)
	}
	if len(rec.Ops()) != 0 || len(b.Operations) != 0 || b.Impact != ImpactNone {
		t.Errorf("notify_only must call and declare nothing (ops %v, declared %v, impact %s)", rec.Ops(), b.Operations, b.Impact)
	}
}

func TestNotifyOnly_HandlesEveryResourceKind(t *testing.T) {
	b, _ := Lookup("notify_only")
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
