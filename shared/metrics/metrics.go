// Package metrics writes CloudWatch metrics in the Embedded Metric Format: one JSON line on standard
// output, which Lambda sends to CloudWatch Logs, which extracts the metrics. No API call, no permission
// beyond the function's own log group, nothing at start-up.
//
// Dimensions are only values guardbots itself chose from a closed set (bot names of the registry,
// statuses, outcomes, decisions), never the finding's or the account's: the number of metrics must not
// grow with the organization or with what an attacker writes. The account, the finding and the execution
// go in as properties, searchable in CloudWatch Logs Insights.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// Namespace is guardbots' CloudWatch namespace.
const Namespace = "guardbots"

// The metrics guardbots emits. The dashboard names only these (infra tests hold it to that).
const (
	// Actions counts bot actions by Bot and Status (remediated, already-done, dry-run, skipped, notified,
	// failed, held), and by Status alone. Emitted by each bot.
	Actions = "Actions"
	// Findings counts executions by Outcome and by Decision (remediate, notify, skip, none). Emitted by
	// notify, once per execution.
	Findings = "Findings"
	// TimeToContain is the seconds from the finding's updatedAt to the last containment action;
	// TimeToContainFromArrival from the event's arrival (the execution's start). Emitted by notify when
	// an action contained something.
	TimeToContain            = "TimeToContain"
	TimeToContainFromArrival = "TimeToContainFromArrival"
	// ApprovalRequests counts approval requests by Bot and Reason (approve-mode or held). Emitted by
	// request_approval.
	ApprovalRequests = "ApprovalRequests"
	// ApprovalWait is the seconds an approved action waited for its person, from the approval request to
	// the approval (both by Step Functions' clock), by Bot and in all. Emitted by each bot, once it ran
	// an approved action.
	ApprovalWait = "ApprovalWait"
)

// Dimension names.
const (
	DimBot      = "Bot"
	DimStatus   = "Status"
	DimOutcome  = "Outcome"
	DimDecision = "Decision"
	DimReason   = "Reason"
)

// Emitted lists every metric with the dimension sets it is emitted with.
var Emitted = map[string][][]string{
	Actions:                  {{DimBot, DimStatus}, {DimStatus}},
	Findings:                 {{DimOutcome}, {DimDecision}},
	TimeToContain:            {{}},
	TimeToContainFromArrival: {{}},
	ApprovalRequests:         {{DimBot, DimReason}, {}},
	ApprovalWait:             {{DimBot}, {}},
}

// Metric is one value.
type Metric struct {
	Name  string
	Unit  string // Count, Seconds, …
	Value float64
}

// Record is one EMF log line: metrics that share dimensions, and properties.
type Record struct {
	Time       time.Time
	Dimensions [][]string
	// Dims are the dimensions' values; every name in Dimensions must have one.
	Dims       map[string]string
	Metrics    []Metric
	Properties map[string]any
}

// JSON encodes r in the Embedded Metric Format.
func (r Record) JSON() ([]byte, error) {
	doc := map[string]any{}
	for k, v := range r.Properties {
		doc[k] = v
	}
	var defs []map[string]string
	for _, m := range r.Metrics {
		if _, ok := Emitted[m.Name]; !ok {
			return nil, fmt.Errorf("metrics: %s is not a guardbots metric", m.Name)
		}
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": m.Unit})
		doc[m.Name] = m.Value
	}
	dims := r.Dimensions
	if dims == nil {
		dims = [][]string{}
	}
	for _, set := range dims {
		for _, d := range set {
			if r.Dims[d] == "" {
				return nil, fmt.Errorf("metrics: dimension %s has no value", d)
			}
		}
	}
	for k, v := range r.Dims {
		doc[k] = v
	}
	doc["_aws"] = map[string]any{
		"Timestamp": r.Time.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": dims,
			"Metrics":    defs,
		}},
	}
	return json.Marshal(doc)
}

// Emitter writes records, one line each.
type Emitter struct {
	mu sync.Mutex
	W  io.Writer
}

// Stdout is the emitter Lambda functions use.
func Stdout() *Emitter { return &Emitter{W: os.Stdout} }

// Emit writes r; a nil emitter writes nothing. A record that cannot be written is an error for the
// caller to log: a metric is never worth failing an action or a notification for.
func (e *Emitter) Emit(r Record) error {
	if e == nil || e.W == nil {
		return nil
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	b, err := r.JSON()
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.W.Write(append(b, '\n'))
	return err
}

// Value maps v to itself when it is one of allowed, else to "other": a dimension value from a closed set.
func Value(v string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return v
	}
	return "other"
}
