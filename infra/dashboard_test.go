package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/metrics"
)

// dashboardWidgets parses the dashboard's body, each CloudFormation token replaced by "TOKEN".
func dashboardWidgets(t *testing.T) []map[string]any {
	t.Helper()
	_, d := only(t, orch, "AWS::CloudWatch::Dashboard")
	var b strings.Builder
	switch body := props(d)["DashboardBody"].(type) {
	case string:
		b.WriteString(body)
	case map[string]any:
		parts := body["Fn::Join"].([]any)[1].([]any)
		for _, p := range parts {
			if s, ok := p.(string); ok {
				b.WriteString(s)
			} else {
				b.WriteString("TOKEN")
			}
		}
	}
	var doc struct{ Widgets []map[string]any }
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatalf("dashboard body: %v\n%s", err, b.String())
	}
	return doc.Widgets
}

// Every guardbots metric a widget or alarm names is one the code emits, with one of the dimension sets it
// is emitted with: a graph of a metric nobody writes stays empty and nobody notices.
func TestDashboard_EveryGuardbotsMetricItNamesIsEmitted(t *testing.T) {
	rail := map[string]bool{}
	for _, e := range railEvents {
		rail[e.Metric] = true
	}
	named := map[string]bool{}
	widgets := dashboardWidgets(t)
	if len(widgets) < 6 {
		t.Fatalf("%d widgets", len(widgets))
	}
	for _, w := range widgets {
		p, _ := w["properties"].(map[string]any)
		ms, _ := p["metrics"].([]any)
		if len(ms) == 0 {
			t.Errorf("widget %v graphs nothing", p["title"])
		}
		for _, m := range ms {
			row := m.([]any)
			ns, name := row[0].(string), row[1].(string)
			var dims []string
			for i := 2; i+1 < len(row); i += 2 {
				if k, ok := row[i].(string); ok {
					dims = append(dims, k)
				}
			}
			if ns == "AWS/States" {
				continue
			}
			if ns != metrics.Namespace {
				t.Errorf("widget %v: namespace %s", p["title"], ns)
				continue
			}
			named[name] = true
			if rail[name] {
				continue
			}
			sets, ok := metrics.Emitted[name]
			sort.Strings(dims)
			if !ok || !slices.ContainsFunc(sets, func(s []string) bool {
				s = slices.Clone(s)
				sort.Strings(s)
				return slices.Equal(s, dims)
			}) {
				t.Errorf("widget %v names %s %v, which is not emitted with those dimensions (%v)", p["title"], name, dims, sets)
			}
		}
	}
	// And the headline metrics are all on it.
	for name := range metrics.Emitted {
		if !named[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
	body := fmt.Sprint(widgets)
	for _, b := range bots.Names() {
		if !strings.Contains(body, b) {
			t.Errorf("no graph of bot %s", b)
		}
	}
}

func TestDashboard_FailedActionsAlarmMailsAndPublishes(t *testing.T) {
	found := false
	for id, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
		p := props(a)
		if strings.HasPrefix(id, "ActionsFailedAlarm") {
			found = p["Namespace"] == metrics.Namespace && p["MetricName"] == metrics.Actions &&
				js(p["Dimensions"]) == `[{"Name":"Status","Value":"failed"}]` && p["Threshold"] == float64(1)
		}
	}
	if !found {
		var ids []string
		for id, a := range resources(t, orch, "AWS::CloudWatch::Alarm") {
			ids = append(ids, id+" "+js(props(a)["MetricName"])+" "+js(props(a)["Dimensions"]))
		}
		t.Errorf("no alarm on failed actions: %v", ids)
	}
}

// The approval wait is graphed as p50, p90 and the maximum, beside the approval requests (same row).
func TestDashboard_ApprovalWaitPercentilesBesideTheApprovalRequests(t *testing.T) {
	var wait, requests map[string]any
	for _, w := range dashboardWidgets(t) {
		p, _ := w["properties"].(map[string]any)
		ms, _ := p["metrics"].([]any)
		stats := map[string]bool{}
		for _, m := range ms {
			row := m.([]any)
			switch row[1] {
			case metrics.ApprovalWait:
				wait = w
				if opts, ok := row[len(row)-1].(map[string]any); ok {
					stats[fmt.Sprint(opts["stat"])] = true
				}
			case metrics.ApprovalRequests:
				requests = w
			}
		}
		if len(stats) > 0 && (len(stats) != 3 || !stats["p50"] || !stats["p90"] || !stats["Maximum"]) {
			t.Errorf("approval wait widget %v: stats %v, want p50, p90 and Maximum", p["title"], stats)
		}
	}
	if wait == nil || requests == nil {
		t.Fatalf("approval wait widget %v, approval requests widget %v", wait, requests)
	}
	if wait["y"] == nil || wait["y"] != requests["y"] {
		t.Errorf("approval wait at y=%v, approval requests at y=%v: not side by side", wait["y"], requests["y"])
	}
}
