package metrics

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The record as the EMF specification describes it: a root "_aws" with a millisecond Timestamp and
// CloudWatchMetrics directives (Namespace, Dimensions as arrays of dimension-name arrays, Metrics with
// Name and Unit), each dimension and metric a root member.
func TestRecord_IsEmbeddedMetricFormat(t *testing.T) {
	var buf bytes.Buffer
	e := &Emitter{W: &buf}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := e.Emit(Record{Time: at, Dimensions: Emitted[Actions], Dims: map[string]string{DimBot: "ec2_stop_instance", DimStatus: "remediated"},
		Metrics: []Metric{{Name: Actions, Unit: "Count", Value: 1}}, Properties: map[string]any{"account": "111122223333"}}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("want one line, got %q", line)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Bot, Status, Account string
		Actions              float64
	}
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		t.Fatal(err)
	}
	d := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != at.UnixMilli() || len(d) != 1 || d[0].Namespace != "guardbots" ||
		len(d[0].Dimensions) != 2 || strings.Join(d[0].Dimensions[0], ",") != "Bot,Status" || d[0].Metrics[0].Name != "Actions" || d[0].Metrics[0].Unit != "Count" {
		t.Errorf("directive %+v", doc.AWS)
	}
	if doc.Bot != "ec2_stop_instance" || doc.Status != "remediated" || doc.Actions != 1 || doc.Account != "111122223333" {
		t.Errorf("members %+v", doc)
	}
	// The account is a property: no dimension set names it.
	for _, set := range d[0].Dimensions {
		for _, n := range set {
			if strings.EqualFold(n, "account") {
				t.Errorf("account is a dimension")
			}
		}
	}
}

func TestRecord_RefusesUnknownMetricsAndMissingDimensionValues(t *testing.T) {
	if _, err := (Record{Metrics: []Metric{{Name: "Anything", Unit: "Count", Value: 1}}}).JSON(); err == nil {
		t.Error("an undeclared metric was written")
	}
	if _, err := (Record{Dimensions: Emitted[Actions], Dims: map[string]string{DimBot: "b"}, Metrics: []Metric{{Name: Actions, Unit: "Count", Value: 1}}}).JSON(); err == nil {
		t.Error("a dimension without value was written")
	}
	var nilEmitter *Emitter
	if err := nilEmitter.Emit(Record{}); err != nil {
		t.Error(err)
	}
}

func TestValue_ClosedSet(t *testing.T) {
	if Value("remediated", "remediated", "failed") != "remediated" || Value("i-0abc attacker", "remediated") != "other" {
		t.Error("Value")
	}
}

// The README's metric table ("Notifications: mail, chat, events, metrics") has a row for every metric.
func TestReadme_HasARowForEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range Emitted {
		if !regexp.MustCompile("(?m)^\\| [^|\\n]*`" + name + "`[^|\\n]*\\|").Match(b) {
			t.Errorf("README.md has no metric-table row for %s", name)
		}
	}
}
