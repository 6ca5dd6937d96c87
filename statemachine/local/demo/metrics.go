package demo

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// MetricRecords are the Embedded Metric Format records the stack's bootstraps wrote (the lines of their
// output that carry an "_aws" directive), each rendered on one line: the function, each metric with its
// value and unit, the dimensions, and the account property.
func (s *Stack) MetricRecords() []string {
	var out []string
	if s.Host == nil {
		return nil
	}
	for _, p := range s.Host.Processes() {
		for _, line := range strings.Split(p.Logs(), "\n") {
			if r, ok := renderEMF(line); ok {
				out = append(out, fmt.Sprintf("%-24s %s", p.Name, r))
			}
		}
	}
	return out
}

// renderEMF renders one EMF line, false for any other line.
func renderEMF(line string) (string, bool) {
	var doc map[string]any
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &doc) != nil {
		return "", false
	}
	var aws struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	b, _ := json.Marshal(doc["_aws"])
	if json.Unmarshal(b, &aws) != nil || len(aws.CloudWatchMetrics) == 0 {
		return "", false
	}
	var parts []string
	dims := map[string]bool{}
	for _, d := range aws.CloudWatchMetrics {
		for _, m := range d.Metrics {
			parts = append(parts, fmt.Sprintf("%s/%s=%v %s", d.Namespace, m.Name, doc[m.Name], m.Unit))
		}
		for _, set := range d.Dimensions {
			for _, n := range set {
				dims[n] = true
			}
		}
	}
	var ds []string
	for n := range dims {
		ds = append(ds, fmt.Sprintf("%s=%v", n, doc[n]))
	}
	sort.Strings(ds)
	if len(ds) > 0 {
		parts = append(parts, "["+strings.Join(ds, " ")+"]")
	}
	if a, ok := doc["account"]; ok {
		parts = append(parts, fmt.Sprintf("account %v (property)", a))
	}
	return strings.Join(parts, " "), true
}
