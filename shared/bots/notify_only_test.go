package bots_test

import (
	"context"
	"testing"

	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/finding"
)

// TestMain checks notify_only's declaration against its tests, as each bot family's does.
func TestMain(m *testing.M) { bottest.Main(m) }

// TestContract runs the bot contract over notify_only, as each family's does over its bots.
func TestContract(t *testing.T) { bottest.RunContract(t) }

// notify_only's world is none: it calls no AWS API (any call would fail to connect).
var _ = bottest.RegisterContract("notify_only", bottest.Contract{
	World: func(t *testing.T, stubs ...func(*middleware.Stack) error) bottest.World {
		rec := bottest.NewRecorder("notify_only")
		return bottest.World{Rec: rec, Request: func(dryRun bool) bots.Request {
			return bots.Request{DryRun: dryRun, AWS: bottest.Config("", append([]func(*middleware.Stack) error{rec.Option}, stubs...)...),
				Finding: &finding.Finding{ID: "f1", AccountID: bottest.Account, Region: bottest.Region, ResourceKind: finding.KindEKSCluster}}
		}}
	},
	Again: bots.StatusNotified,
})

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
	for _, k := range finding.ResourceKinds {
		if !b.Handles(k) {
			t.Errorf("notify_only does not handle %s", k)
		}
	}
}
