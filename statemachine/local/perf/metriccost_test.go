package perf

import (
	"testing"

	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/steps/botstep"
)

// MetricSeries counts what the code can emit: every metric of shared/metrics, with the closed sets of
// dimension values the emitters use.
func TestMetricSeries_CountsTheEmittedDimensionValues(t *testing.T) {
	bots := 7
	want := bots*len(botstep.ActionStatuses) + len(botstep.ActionStatuses) +
		len(notify.Outcomes) + len(notify.Decisions) + 2 + bots*2 + 1 + bots + 1
	if got := MetricSeries(bots); got != want {
		t.Errorf("MetricSeries(%d) = %d, want %d", bots, got, want)
	}
	if len(metrics.Emitted) != 6 {
		t.Errorf("shared/metrics emits %d metrics: update MetricSeries", len(metrics.Emitted))
	}
	fixed := Fixed(bots, ListPrices)
	if len(fixed) != 2 || fixed[0].Cost != float64(want)*0.30 || fixed[1].Cost-fixed[1].Free != 0 {
		t.Errorf("fixed %+v", fixed)
	}
}
