package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// explanation is explain's output: what the workflow would decide for the event.
type explanation struct {
	Decision string           `json:"decision"`
	Reason   string           `json:"reason"`
	Key      string           `json:"mappingKey,omitempty"`
	Finding  *finding.Finding `json:"finding"`
	Actions  []mapping.Action `json:"actions"`
	// Verify says what happens to a remediate decision in the workflow: explain has no GuardDuty to ask.
	Verify string `json:"verify,omitempty"`
}

// verifyNote is explanation.Verify.
const verifyNote = "in the workflow, the verify step reads this finding back from GuardDuty and decides again on GuardDuty's copy " +
	"(its fields, not this event's; skipped as stale when GuardDuty last updated it longer ago than " + deployment.EnvMaxFindingAge +
	"): explain decides on the event as if it were that copy"

func explain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	eventPath := fs.String("event", "", "the event file: EventBridge event, SNS record, bare finding or Security Hub event")
	mappingPath := fs.String("mapping", "", "the mapping document (default: the mapping committed in shared/mapping/default.json)")
	allowSamples := fs.Bool("allow-samples", false, "act on GuardDuty sample findings (they are skipped otherwise)")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *eventPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "explain: --event FILE is required")
		return 1
	}
	doc := mapping.Default()
	if *mappingPath != "" {
		b, err := os.ReadFile(*mappingPath)
		if err != nil {
			fmt.Fprintf(stderr, "explain: %v\n", err)
			return 1
		}
		doc = b
	}
	m, err := mapping.Parse(doc)
	if err != nil {
		fmt.Fprintf(stderr, "explain: invalid mapping %s: %v\n", nameOr(*mappingPath, "(default)"), err)
		return 1
	}
	raw, err := os.ReadFile(*eventPath)
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return 1
	}
	f, d, err := steps.Decide(context.Background(), raw, m, mapping.MatchOptions{AllowSamples: *allowSamples})
	out := explanation{Decision: string(d.Outcome), Reason: d.Reason, Key: d.Key, Finding: f, Actions: d.Actions}
	if d.Outcome == mapping.Remediate {
		out.Verify = verifyNote
	}
	code := 0
	if err != nil {
		if faults.Classify(err) != faults.Rejected {
			fmt.Fprintf(stderr, "explain: %v\n", err)
			return 1
		}
		out = explanation{Decision: "reject", Reason: err.Error()}
		fmt.Fprintf(stderr, "rejected: %v\n", err)
		code = 2
	}
	if out.Actions == nil {
		out.Actions = []mapping.Action{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return 1
	}
	return code
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
