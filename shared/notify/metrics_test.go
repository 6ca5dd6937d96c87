package notify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/metrics"
)

func TestMetrics_EveryOutcomeCountsOnceByOutcomeAndDecisionWithTheAccountAsAProperty(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	for outcome, in := range perOutcome(t) {
		recs := Metrics(in, outcome, now)
		var buf bytes.Buffer
		e := &metrics.Emitter{W: &buf}
		for _, r := range recs {
			if err := e.Emit(r); err != nil {
				t.Fatalf("%s: %v", outcome, err)
			}
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var first map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
			t.Fatal(err)
		}
		if first["Outcome"] != outcome || first[metrics.Findings] != float64(1) {
			t.Errorf("%s: %s", outcome, lines[0])
		}
		if in.Finding != nil && first["account"] != in.Finding.AccountID {
			t.Errorf("%s: account property missing: %s", outcome, lines[0])
		}
		if strings.Contains(js(first["_aws"]), "account") {
			t.Errorf("%s: the account is in the metric directive: %s", outcome, lines[0])
		}
		// Time to contain only where an action contained something (the fixtures' remediated stop).
		contained := outcome == OutcomeRemediated || outcome == OutcomePartial
		if contained != (len(recs) == 2) {
			t.Errorf("%s: %d records", outcome, len(recs))
		}
		if contained {
			var ttc map[string]any
			_ = json.Unmarshal([]byte(lines[1]), &ttc)
			if ttc[metrics.TimeToContain] != float64(150) || ttc[metrics.TimeToContainFromArrival] != float64(30) {
				t.Errorf("%s: %s", outcome, lines[1])
			}
		}
	}
}

func TestMetrics_ADecisionOutsideTheClosedSetIsOther(t *testing.T) {
	in := perOutcome(t)[OutcomeSkipped]
	d := *in.Decision
	d.Outcome = "x\ny"
	in.Decision = &d
	if got := Metrics(in, OutcomeSkipped, time.Now())[0].Dims[metrics.DimDecision]; got != "other" {
		t.Errorf("decision dimension %q", got)
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }
