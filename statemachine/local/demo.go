package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// runDemo is `local demo` (every demo finding, expected outcomes checked) and `local replay` (one
// event of the user's). Both build the bootstraps, start kumo and run the committed definition.
func runDemo(cmd string, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fl.SetOutput(stderr)
	event := fl.String("event", "", "run this event file only (placeholders {{instanceId}}, {{instanceProfileArn}}, {{roleName}}, {{roleId}}, {{bucketName}}, {{uploadsBucket}}, {{objectKey}}, {{objectVersion}}, {{objectETag}} are replaced)")
	dryRun := fl.Bool("dry-run", false, "set "+deployment.EnvDryRun+"=true on every bot: show what would be done, change nothing")
	allowSamples := fl.Bool("allow-samples", false, "set "+deployment.EnvAllowSamples+"=true on match and verify")
	buildDir := fl.String("build-dir", "", "where the host bootstraps go (default <module>/build/host)")
	if err := fl.Parse(args); err != nil {
		return 1
	}
	if cmd == "replay" && *event == "" {
		fmt.Fprintln(stderr, "replay needs --event FILE (make replay EVENT=file)")
		return 1
	}
	// Ctrl-C cancels the context: the running execution's Node process is killed and the deferred
	// Close stops every bootstrap and kumo.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := demoRun{out: stdout, dryRun: *dryRun, allowSamples: *allowSamples, event: *event, buildDir: *buildDir}
	code, err := d.run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "interrupted: every process the demo started has been stopped")
			return 130
		}
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	return code
}

type demoRun struct {
	out                  io.Writer
	dryRun, allowSamples bool
	event, buildDir      string
}

func (d demoRun) run(ctx context.Context) (int, error) {
	w := d.out
	began := time.Now()
	tools, err := aslrun.FindTools()
	if err != nil {
		return 1, err
	}
	root := filepath.Dir(filepath.Dir(tools.Dir)) // .tools/node_modules → module root
	var findings []demo.Finding
	if d.event != "" {
		b, err := os.ReadFile(d.event)
		if err != nil {
			return 1, fmt.Errorf("read the event: %w", err)
		}
		findings = []demo.Finding{{Name: strings.TrimSuffix(filepath.Base(d.event), filepath.Ext(d.event)), Event: b}}
	} else {
		if findings, err = demo.Findings(); err != nil {
			return 1, err
		}
		// Last, the first finding replayed with edited fields: the stand-in already holds it.
		replay, err := demo.EditedReplay()
		if err != nil {
			return 1, err
		}
		findings = append(findings, replay)
	}

	dir := d.buildDir
	if dir == "" {
		dir = filepath.Join(root, "build", "host")
	}
	t := time.Now()
	bins, err := demo.Build(ctx, root, dir, nil, w)
	if err != nil {
		return 1, err
	}
	built := time.Since(t)
	t = time.Now()
	stack, err := demo.Start(ctx, bins, demo.Options{DryRun: d.dryRun, AllowSamples: d.allowSamples})
	if err != nil {
		return 1, err
	}
	defer stack.Close()
	fmt.Fprintf(w, "kumo (in-process AWS emulator) on %s; %d Lambda bootstraps built in %s, started in %s\n",
		stack.Kumo.URL, len(stack.Functions), built.Round(time.Millisecond), time.Since(t).Round(time.Millisecond))
	fmt.Fprintf(w, "provisioned as the CDK app does: SSM %s (demo mapping), DynamoDB tables %s (state) and %s (audit), SNS topics %s (JSON), %s (mail) and %s (chat), each → an SQS subscriber\n",
		stack.MappingParameter, stack.Table, stack.AuditTable, stack.TopicARN, stack.MailTopicARN, stack.ChatTopicARN)
	for _, s := range stack.StandIns() {
		fmt.Fprintf(w, "stood in by the demo (kumo does not serve it): %s\n", s)
	}
	fmt.Fprintf(w, "signed plans: %s\n", stack.Signing())
	r := stack.Resources
	fmt.Fprintf(w, "resources to attack: instance %s (running, profile of role %s), role %s, bucket %s (no public access block)\n",
		r.InstanceID, r.RoleName, r.RoleName, r.Bucket)
	if d.dryRun {
		fmt.Fprintln(w, "DRY RUN: "+deployment.EnvDryRun+"=true on every bot")
	}

	expect := demo.Expectations(d.dryRun)
	var problems []string
	for i, f := range findings {
		fmt.Fprintf(w, "\n━━ %d/%d %s\n", i+1, len(findings), f.Name)
		for _, note := range []string{f.Note, demo.FloorNote(r.Substitute(f.Event))} {
			if note != "" {
				fmt.Fprintf(w, "  %s\n", note)
			}
		}
		ex, err := stack.Run(ctx, tools, f.Name, r.Substitute(f.Event), demo.RunOptions{Overrides: demo.ApprovalWaitStandIn()})
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(w, "  execution %s\n", ex.ARN)
		demo.PrintTrace(w, ex)
		printNotifications(w, ex)
		if d.event != "" {
			continue
		}
		e, ok := expect[f.Name]
		if !ok {
			continue
		}
		for _, p := range e.Check(ex) {
			problems = append(problems, f.Name+": "+p)
		}
	}

	if d.event == "" {
		// The hourly clean-up, as the deployment's schedule starts it, of a deny that expired.
		fmt.Fprintf(w, "\n━━ %s\n", demo.CleanupScene)
		if err := stack.PlantExpiredDeny(ctx); err != nil {
			return 1, err
		}
		fmt.Fprintf(w, "  written by the demo as iam_deny_session would have 13 hours ago (kumo has no clock to move): inline policy %s on role %s, "+
			"denying tokens all expired an hour ago, and its state-table record; the workflow is started with the schedule's request %s\n",
			demo.ExpiredDenyPolicy, r.RoleName, steps.ScheduleRequest)
		ex, err := stack.Run(ctx, tools, demo.CleanupScene, steps.ScheduleRequest, demo.RunOptions{})
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(w, "  execution %s\n", ex.ARN)
		demo.PrintTrace(w, ex)
		printNotifications(w, ex)
		for _, p := range expect[demo.CleanupScene].Check(ex) {
			problems = append(problems, demo.CleanupScene+": "+p)
		}
	}

	st, err := stack.ReadBack(ctx)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(w, "\n━━ resources read back from kumo\n")
	fmt.Fprintf(w, "  instance %s: %s\n", r.InstanceID, st.Instance)
	fmt.Fprintf(w, "  role %s: %s\n", r.RoleName, revokeLine(st.RevokedBefore))
	for _, d := range st.Denies {
		fmt.Fprintf(w, "    inline policy %s\n", d)
	}
	fmt.Fprintf(w, "  bucket %s: %s\n", r.Bucket, st.BucketBlock)
	fmt.Fprintf(w, "  object %s\n", st.Object)
	if d.event == "" {
		for _, f := range append(findings, demo.Finding{Name: demo.CleanupScene}) {
			if e := expect[f.Name]; e.Resource != nil {
				if p := e.Resource(st); p != "" {
					problems = append(problems, f.Name+": "+p)
				}
			}
		}
		if d.dryRun && len(problems) == 0 {
			fmt.Fprintln(w, "  dry run: every resource is unchanged (checked above)")
		}
	}
	// What CloudWatch would extract from the functions' logs (issue 17 §4): the dashboard's data.
	recs := stack.MetricRecords()
	fmt.Fprintf(w, "\n━━ metric records (Embedded Metric Format lines the bootstraps wrote: %d)\n", len(recs))
	for _, r := range recs {
		fmt.Fprintln(w, "  "+r)
	}
	if len(recs) == 0 {
		problems = append(problems, "no metric record was written")
	}
	fmt.Fprintf(w, "\n%s in %s\n", verdict(d.event != "", problems), time.Since(began).Round(100*time.Millisecond))
	for _, p := range problems {
		fmt.Fprintln(w, "  ✗ "+p)
	}
	if len(problems) > 0 {
		return 1, nil
	}
	return 0, nil
}

func verdict(replay bool, problems []string) string {
	switch {
	case replay:
		return "replay done"
	case len(problems) == 0:
		return "demo: every expected outcome happened"
	}
	return fmt.Sprintf("demo: %d expected outcome(s) did not happen", len(problems))
}

func revokeLine(before string) string {
	if before == "" {
		return "no " + demo.RevokePolicyName + " policy (not every session of the role is revoked)"
	}
	return fmt.Sprintf("inline policy %s denies sessions issued before %s", demo.RevokePolicyName, before)
}

// printNotifications shows what the SNS subscriber received.
func printNotifications(w io.Writer, ex *demo.Execution) {
	if len(ex.Notifications) == 0 {
		fmt.Fprintln(w, "  ✉ no notification reached the subscriber")
	}
	for _, n := range ex.Notifications {
		if n.Mail != "" {
			fmt.Fprintf(w, "  ✉ SNS → SQS subscribers of the JSON, mail and chat topics: %q\n", n.Subject)
		} else {
			fmt.Fprintf(w, "  ✉ SNS → SQS subscriber: %q\n", n.Subject)
		}
		fmt.Fprintf(w, "    outcome %s: %s\n", n.Outcome, n.Body.Summary)
		if n.Body.Error != nil {
			fmt.Fprintf(w, "    error in %s: %s: %s\n", n.Body.Error.Step, n.Body.Error.Error, n.Body.Error.Cause)
		}
		if f := n.Body.Finding; f != nil && f.Sample {
			fmt.Fprintln(w, "    this is a GuardDuty sample finding: match skips samples; to run it anyway: make replay EVENT=… ALLOW_SAMPLES=1 ("+deployment.EnvAllowSamples+"=true)")
		}
	}
}
