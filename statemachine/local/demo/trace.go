package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// kumoLacks lists operations kumo v0.33.1 does not serve (../shared/local-aws.md, the bots' tests, and replays of the default mapping's EC2 rules):
// a bot that needs one cannot act locally, and the trace says so instead of showing a bare failure.
var kumoLacks = map[string]bool{
	"ec2:ModifyInstanceAttribute": true, "ec2:ModifyNetworkInterfaceAttribute": true,
	"ec2:CreateSnapshot":      true,
	"ec2:DescribeNetworkAcls": true, "ec2:CreateNetworkAclEntry": true, "ec2:DeleteNetworkAclEntry": true,
	"ec2:DescribeInstanceAttribute": true, "autoscaling:DescribeAutoScalingInstances": true,
	"ec2:DescribeIamInstanceProfileAssociations": true, "ec2:DisassociateIamInstanceProfile": true,
	"iam:UpdateAccessKey": true, "iam:DeleteLoginProfile": true, "iam:ListAttachedUserPolicies": true,
	// Served, but kumo knows no AWS managed policy, so AWSDenyAll cannot be attached.
	"iam:AttachUserPolicy":           true,
	"s3control:GetPublicAccessBlock": true, "s3control:PutPublicAccessBlock": true,
}

// KumoLacks returns the operations bot needs that kumo does not serve.
func KumoLacks(bot string) []string {
	b, ok := bots.Lookup(bot)
	if !ok {
		return nil
	}
	var out []string
	for _, op := range b.Operations {
		if kumoLacks[op] {
			out = append(out, op)
		}
	}
	return out
}

// PrintTrace writes the execution as a readable trace: each state entered (→) and left (←) with its
// duration from aws-local-stepfunctions' event times (ms resolution, so Pass and Choice states mostly
// show 0 ms), each step's and bot's result; then what the demo's stand-ins answered instead of kumo and
// the audit records the execution left.
func PrintTrace(w io.Writer, ex *Execution) {
	if ex.GuardDuty != nil {
		fmt.Fprintf(w, "  %s\n", ex.GuardDuty)
	}
	queues := map[string][]Invoke{}
	for _, in := range ex.Invokes {
		queues[in.Function] = append(queues[in.Function], in)
	}
	next := func(fn string) (Invoke, bool) {
		q := queues[fn]
		if len(q) == 0 {
			return Invoke{}, false
		}
		queues[fn] = q[1:]
		return q[0], true
	}
	taskFns := taskFunctions(ex.definition)
	taskFunction := func(state string) string { return taskFns[state] }
	depth := 1
	indent := func() string { return strings.Repeat("  ", depth) }
	failed := map[string]bool{}
	attempts := map[string]int{}
	// entered is when each state (or its current attempt) began; states run one at a time here.
	entered := map[string]time.Time{}
	took := func(ev aslrun.Event) string {
		start, ok := entered[ev.State]
		if !ok || start.IsZero() || ev.Time().IsZero() {
			return "?"
		}
		entered[ev.State] = ev.Time() // a retry's attempt starts when the previous one failed
		return fmt.Sprintf("%d ms", ev.Time().Sub(start).Milliseconds())
	}
	for _, ev := range ex.Events {
		fn := taskFunction(ev.State)
		switch ev.Type {
		case "MapIterationStarted":
			depth++
			fmt.Fprintf(w, "%s[action %d]\n", indent(), deref(ev.Index)+1)
			depth++
		case "MapIterationSucceeded", "MapIterationFailed":
			depth -= 2
		case "StateEntered":
			attempts[ev.State] = 0
			entered[ev.State] = ev.Time()
			if ev.State == statemachine.StateRemediate {
				fmt.Fprintf(w, "%s→ %s\n", indent(), ev.State)
			}
		case "StateFailed":
			if fn == "" {
				fmt.Fprintf(w, "%s→ %-28s ← %8s  ✗ %s\n", indent(), ev.State, took(ev), ev.Error)
				continue
			}
			failed[ev.State] = true
			attempts[ev.State]++
			in, _ := next(fn)
			fmt.Fprintf(w, "%s→ %-28s ← %8s  ✗ %s%s\n", indent(), ev.State, took(ev), ev.Error, attemptNote(attempts[ev.State]))
			if msg := errorMessage(in.Output); msg != "" {
				fmt.Fprintf(w, "%s    %s\n", indent(), msg)
			}
			if lacks := KumoLacks(fn); len(lacks) > 0 {
				fmt.Fprintf(w, "%s    kumo does not serve %s: this step cannot run locally (it would in AWS); no result is made up for it\n", indent(), strings.Join(lacks, ", "))
			}
		case "StateRetried":
			failed[ev.State] = false
			fmt.Fprintf(w, "%s  ↻ retried (Retry on %s)\n", indent(), ev.Error)
		case "StateCaught":
			fmt.Fprintf(w, "%s  ⤷ caught: the error goes to the notification\n", indent())
		case "StateExited":
			switch {
			case ev.State == statemachine.StateRemediate:
				fmt.Fprintf(w, "%s← %-28s   %8s\n", indent(), ev.State, took(ev))
			case fn == "":
				fmt.Fprintf(w, "%s→ %-28s ← %8s\n", indent(), ev.State, took(ev))
			case failed[ev.State]:
				failed[ev.State] = false
			default:
				attempts[ev.State]++
				in, _ := next(fn)
				fmt.Fprintf(w, "%s→ %-28s ← %8s  %s%s\n", indent(), ev.State, took(ev), summarize(fn, in.Output), attemptNote(attempts[ev.State]))
				for _, c := range changes(fn, in.Output) {
					fmt.Fprintf(w, "%s    · %s\n", indent(), c)
				}
			}
		}
	}
	status := ex.Status
	if ex.Error != "" {
		status += " (" + ex.Error + ")"
	}
	fmt.Fprintf(w, "  %s in %s (%d Lambda invocations)\n", status, ex.Elapsed.Round(time.Millisecond), len(ex.Invokes))
	for _, c := range ex.StandIns {
		fmt.Fprintf(w, "  stood in by the demo, not kumo or AWS: %s\n", c)
	}
	printAudit(w, ex)
}

// printAudit lists the execution's audit records (the audit table queried by finding id).
func printAudit(w io.Writer, ex *Execution) {
	if ex.FindingID == "" {
		return
	}
	if len(ex.Audit) == 0 {
		fmt.Fprintf(w, "  audit: no record for finding %s from this execution (no bot ran)\n", ex.FindingID)
		return
	}
	fmt.Fprintf(w, "  audit (table queried by finding id %s): %d record(s)\n", ex.FindingID, len(ex.Audit))
	for _, r := range ex.Audit {
		line := fmt.Sprintf("%s %s on %s %s: %s", r.Time.UTC().Format("15:04:05.000"), r.Bot, r.Kind, strings.Join(r.ResourceIDs, ","), r.Status)
		if r.Reason != "" {
			line += " (" + r.Reason + ")"
		}
		if r.Error != "" {
			line += " error: " + r.Error
		}
		fmt.Fprintf(w, "    · %s\n", line)
		if len(r.Before) > 0 || len(r.After) > 0 {
			fmt.Fprintf(w, "      before %s → after %s\n", kv(r.Before), kv(r.After))
		}
	}
}

// kv prints a before/after map in key order.
func kv(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func attemptNote(n int) string {
	if n > 1 {
		return fmt.Sprintf("  (attempt %d)", n)
	}
	return ""
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// taskFunctions maps each Task state of the rendered definition (Map bodies included) to the function
// name its Resource ARN ends with.
func taskFunctions(def []byte) map[string]string {
	type states map[string]struct {
		Type          string
		Resource      string
		ItemProcessor *struct{ States states }
		Iterator      *struct{ States states }
	}
	var m struct{ States states }
	_ = json.Unmarshal(def, &m)
	out := map[string]string{}
	var walk func(states)
	walk = func(ss states) {
		for name, s := range ss {
			if s.Type == "Task" {
				out[name] = s.Resource[strings.LastIndex(s.Resource, ":")+1:]
			}
			for _, sub := range []*struct{ States states }{s.ItemProcessor, s.Iterator} {
				if sub != nil {
					walk(sub.States)
				}
			}
		}
	}
	walk(m.States)
	return out
}

func errorMessage(out json.RawMessage) string {
	var e struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &e) != nil {
		return string(out)
	}
	return e.Message
}

// summarize is one line about a Task's output.
func summarize(fn string, out json.RawMessage) string {
	switch fn {
	case "parse":
		var p struct {
			Source string `json:"source"`
		}
		_ = json.Unmarshal(out, &p)
		if p.Source == string(steps.SourceSchedule) {
			return "the schedule's request (no finding)"
		}
		return "a GuardDuty finding" + map[bool]string{true: " (" + p.Source + ")"}[p.Source != ""]
	case "transform":
		var t struct {
			Finding struct {
				Type, ResourceKind, SeverityLabel string
			} `json:"finding"`
			Scheduled string `json:"scheduled"`
		}
		_ = json.Unmarshal(out, &t)
		if t.Scheduled != "" {
			return "passed on: " + t.Scheduled
		}
		return fmt.Sprintf("%s %s, %s", t.Finding.SeverityLabel, t.Finding.Type, t.Finding.ResourceKind)
	case "match":
		var m struct {
			Decision struct {
				Decision string
				Reason   string
				Actions  []struct{ Bot string }
			} `json:"decision"`
		}
		_ = json.Unmarshal(out, &m)
		d := m.Decision
		var names []string
		for _, a := range d.Actions {
			names = append(names, a.Bot)
		}
		if len(names) > 0 {
			return fmt.Sprintf("%s: %s", d.Decision, strings.Join(names, " → "))
		}
		return fmt.Sprintf("%s: %s", d.Decision, d.Reason)
	case "verify":
		var v struct {
			Decision struct {
				Decision, Reason, Verification string
			} `json:"decision"`
		}
		_ = json.Unmarshal(out, &v)
		d := v.Decision
		switch {
		case d.Verification == "":
			return d.Decision + ": " + d.Reason
		case d.Decision != "remediate":
			return d.Verification + " → " + d.Decision + ": " + d.Reason
		}
		return d.Verification
	case "notify":
		var n struct {
			Outcome   string `json:"outcome"`
			MessageID string `json:"messageId"`
		}
		_ = json.Unmarshal(out, &n)
		return fmt.Sprintf("published (%s), message %s", n.Outcome, n.MessageID)
	}
	var r bots.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return string(out)
	}
	s := string(r.Status)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

func changes(fn string, out json.RawMessage) []string {
	if _, isBot := bots.Lookup(fn); !isBot {
		return nil
	}
	var r bots.Result
	_ = json.Unmarshal(out, &r)
	return r.Changes
}
