package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// explanation is explain's output: what the workflow would decide for the event.
type explanation struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Key      string `json:"mappingKey,omitempty"`
	// Rule and Scope are where in the mapping the decision came from ("rules[2]", "rules[2].scopes[0]");
	// Explain says how the organization shaped it (rules passed over, scopes tried, a protected OU).
	Rule    string   `json:"rule,omitempty"`
	Scope   string   `json:"scope,omitempty"`
	Explain []string `json:"explain,omitempty"`
	// Account is the finding's account as the organization fixture describes it (with --org).
	Account *org.Summary     `json:"account,omitempty"`
	Finding *finding.Finding `json:"finding"`
	// Actions each keep their mode (AUTO, DRYRUN or APPROVE: a scope may set it).
	Actions []mapping.Action `json:"actions"`
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
	orgPath := fs.String("org", "", `the organization, for rules with where and scopes: {"accounts": {"<id>": {"name": …, "ouPath": ["r-…", …], "tags": {…}}}}`)
	ownerTag := fs.String("owner-tag", deployment.DefaultOwnerTag, "the account tag that names the account's owner")
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
	opts := mapping.MatchOptions{AllowSamples: *allowSamples}
	if *orgPath != "" {
		b, err := os.ReadFile(*orgPath)
		if err != nil {
			fmt.Fprintf(stderr, "explain: %v\n", err)
			return 1
		}
		fixture, err := org.ParseFixture(b)
		if err != nil {
			fmt.Fprintf(stderr, "explain: %s: %v\n", *orgPath, err)
			return 1
		}
		opts.Org = fixture
	}
	raw, err := os.ReadFile(*eventPath)
	if err != nil {
		fmt.Fprintf(stderr, "explain: %v\n", err)
		return 1
	}
	f, d, err := steps.Decide(context.Background(), raw, m, opts)
	if err != nil && f != nil && faults.Classify(err) != faults.Rejected {
		// The event parsed; the decision could not be made.
		fmt.Fprintf(stderr, "explain: %v\n", err)
		if errors.Is(err, mapping.ErrNoOrganization) {
			fmt.Fprintln(stderr, "explain: this mapping decides by the organization: pass --org FILE (see shared/mapping/README.md)")
		}
		return 1
	}
	out := explanation{Decision: string(d.Outcome), Reason: d.Reason, Key: d.Key, Rule: d.Rule, Scope: d.Scope, Explain: d.Explain,
		Finding: f, Actions: d.Actions}
	if opts.Org != nil && f != nil {
		out.Account = org.Summarize(context.Background(), opts.Org, f.AccountID, *ownerTag)
	}
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
