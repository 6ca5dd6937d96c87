package notify

import (
	"time"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/metrics"
)

// The metric form: each execution's outcome and decision, and its time to contain, as Embedded Metric
// Format records (shared/metrics). Dimensions come from closed sets; the account, finding and execution
// are properties, so the number of metrics does not grow with the organization.

// Decisions are the Decision dimension's values ("none" when the execution ended before match decided).
var Decisions = []string{string(mapping.Remediate), string(mapping.NotifyOnly), string(mapping.Skip), "none"}

// Metrics are in's metric records at now (outcome as OutcomeOf says).
func Metrics(in Input, outcome string, now time.Time) []metrics.Record {
	decision := "none"
	if in.Decision != nil {
		decision = metrics.Value(string(in.Decision.Outcome), Decisions...)
	}
	props := map[string]any{"execution": in.Execution.ID}
	if f := in.Finding; f != nil {
		props["account"], props["findingId"], props["findingType"] = f.AccountID, f.ID, f.Type
	}
	dims := map[string]string{
		metrics.DimOutcome:  metrics.Value(outcome, append(Outcomes, OutcomeApprovalRequested)...),
		metrics.DimDecision: decision,
	}
	out := []metrics.Record{{
		Time: now, Dimensions: metrics.Emitted[metrics.Findings], Dims: dims, Properties: props,
		Metrics: []metrics.Metric{{Name: metrics.Findings, Unit: "Count", Value: 1}},
	}}
	if c := Containment(in); c != nil {
		r := metrics.Record{Time: now, Dimensions: metrics.Emitted[metrics.TimeToContain], Properties: props}
		if c.FromFindingUpdatedSecs != nil {
			r.Metrics = append(r.Metrics, metrics.Metric{Name: metrics.TimeToContain, Unit: "Seconds", Value: *c.FromFindingUpdatedSecs})
		}
		if c.FromEventArrivalSeconds != nil {
			r.Metrics = append(r.Metrics, metrics.Metric{Name: metrics.TimeToContainFromArrival, Unit: "Seconds", Value: *c.FromEventArrivalSeconds})
		}
		if len(r.Metrics) > 0 {
			out = append(out, r)
		}
	}
	return out
}
