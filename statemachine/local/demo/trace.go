package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine"
)

// kumoLacks lists operations kumo v0.33.1 does not serve (../shared/local-aws.md, the bots' tests, and replays of the default mapping's EC2 rules):
// a bot that needs one cannot act locally, and the trace says so instead of showing a bare failure.
var kumoLacks = map[string]bool{
	"ec2:ModifyInstanceAttribute": true, "ec2:ModifyNetworkInterfaceAttribute": true,
	"ec2:CreateSnapshot": true, "ec2:CreateVolume": true, "ec2:DescribeVolumes": true,
	"ec2:DescribeNetworkAcls": true, "ec2:CreateNetworkAclEntry": true, "ec2:DeleteNetworkAclEntry": true,
	"ec2:DescribeInstanceAttribute": true, "autoscaling:DescribeAutoScalingInstances": true,
	"ec2:DescribeIamInstanceProfileAssociations": true, "ec2:DisassociateIamInstanceProfile": true,
	"iam:UpdateAccessKey": true, "iam:PutUserPolicy": true, "iam:DeleteLoginProfile": true,
	"s3:GetAccountPublicAccessBlock": true, "s3:PutAccountPublicAccessBlock": true,
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

// PrintTrace writes the execution as a readable trace: each state entered (→) and left (←), with the
// Lambda round trip of each Task attempt measured at kumo's Lambda API (Pass and Choice states run
// inside aws-local-stepfunctions and take no measurable time), and each step's and bot's result.
func PrintTrace(w io.Writer, ex *Execution) {
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
			if fn == "" {
				fmt.Fprintf(w, "%s→ %s\n", indent(), ev.State)
			}
		case "StateFailed":
			if fn == "" {
				fmt.Fprintf(w, "%s✗ %s: %s\n", indent(), ev.State, ev.Error)
				continue
			}
			failed[ev.State] = true
			attempts[ev.State]++
			in, _ := next(fn)
			fmt.Fprintf(w, "%s→ %-28s ← %8s  ✗ %s%s\n", indent(), ev.State, ms(in.Duration), ev.Error, attemptNote(attempts[ev.State]))
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
			case fn == "" && (ev.State == statemachine.StateRemediate):
				fmt.Fprintf(w, "%s← %s\n", indent(), ev.State)
			case fn == "":
			case failed[ev.State]:
				failed[ev.State] = false
			default:
				attempts[ev.State]++
				in, _ := next(fn)
				fmt.Fprintf(w, "%s→ %-28s ← %8s  %s%s\n", indent(), ev.State, ms(in.Duration), summarize(fn, in.Output), attemptNote(attempts[ev.State]))
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

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
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
		return "a GuardDuty finding" + map[bool]string{true: " (" + p.Source + ")"}[p.Source != ""]
	case "transform":
		var t struct {
			Finding struct {
				Type, ResourceKind, SeverityLabel string
			} `json:"finding"`
		}
		_ = json.Unmarshal(out, &t)
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
