package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/perf"
)

// CloudBots' figures on this kind of machine (Python 3.11, boto3 1.26, against kumo), the reference.
const (
	cloudbotsColdStart = 149 * time.Millisecond // median, best of the measured range 149–188 ms
	cloudbotsWarm      = 67 * time.Millisecond  // median warm handler call
	cloudbotsRSS       = 65 << 20               // after one call (141 MB after 51)
)

// perfCmd measures every bootstrap: cold start, warm invocations, peak memory, artifact size.
func perfCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	starts := fs.Int("starts", 20, "cold starts per bootstrap")
	invocations := fs.Int("invocations", 1000, "warm invocations of the pure-CPU bootstraps")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if err := runPerf(context.Background(), stdout, *starts, *invocations); err != nil {
		fmt.Fprintf(stderr, "perf: %v\n", err)
		return 1
	}
	return 0
}

func runPerf(ctx context.Context, out io.Writer, starts, invocations int) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "guardbots-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := perf.BuildHost(ctx, root, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "machine: %s\n\n", perf.Machine())

	fmt.Fprintf(out, "Cold start: process start → first Runtime API poll, %d starts each (CloudBots: %v median)\n\n", starts, cloudbotsColdStart)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tmedian\tp90\tvs CloudBots\tzipped arm64 artifact\t")
	for _, name := range perf.SortedNames(bins) {
		ds, err := perf.ColdStarts(ctx, bins[name], starts)
		if err != nil {
			return err
		}
		med := perf.Percentile(ds, 50)
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.0f×\t%s\t\n", name, med.Round(10*time.Microsecond), perf.Percentile(ds, 90).Round(10*time.Microsecond),
			float64(cloudbotsColdStart)/float64(med), zipped(root, name))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	payloads, err := warmPayloads(root)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nWarm invocations through the Runtime API, %d each (CloudBots: %v median warm call, %d MB after one call)\n\n",
		invocations, cloudbotsWarm, cloudbotsRSS>>20)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tmedian\tp90\tpeak RSS after 1\tafter all\t")
	for _, name := range []string{"parse", "transform", "notify_only"} {
		w, err := perf.InvokeWarm(ctx, bins[name], payloads[name], invocations)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%.1f MB\t%.1f MB\t\n", name, w.Median.Round(time.Microsecond), w.P90.Round(time.Microsecond),
			float64(w.RSSAfter1)/(1<<20), float64(w.RSSEnd)/(1<<20))
	}
	return tw.Flush()
}

// zipped is the size of build/<name>/bootstrap (the linux/arm64 artifact make build writes) zipped.
func zipped(root, name string) string {
	n, err := perf.ZipSize(filepath.Join(root, "build", name, "bootstrap"))
	if err != nil {
		return "(run make build)"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// warmPayloads are realistic inputs for the bootstraps that need no AWS: a 9 KB SNS-wrapped EC2
// finding for parse, parse's output for transform, and a notify_only action for the bot runner.
func warmPayloads(root string) (map[string][]byte, error) {
	raw, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "events", "envelope_sns_string.json"))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	parsed, err := steps.Parse(ctx, raw)
	if err != nil {
		return nil, err
	}
	tr, err := steps.Transform(ctx, parsed)
	if err != nil {
		return nil, err
	}
	parsedJSON, err := json.Marshal(parsed)
	if err != nil {
		return nil, err
	}
	bot, err := json.Marshal(steps.BotInput{Finding: tr.Finding, Action: mapping.Action{Bot: "notify_only", Mode: "AUTO", Params: map[string]any{}}})
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"parse": raw, "transform": parsedJSON, "notify_only": bot}, nil
}
