package perf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
)

// Measured is what one shape's executions did on the local stack (real bootstraps, kumo, the
// committed ASL run by aws-local-stepfunctions): the counts the cost model is priced from.
type Measured struct {
	Shape  string
	Runs   int
	Status string
	// Transitions are the billed state transitions: every state entered (Pass, Choice, Map, Succeed
	// and Fail included, and each state inside a Map iteration) plus every retry.
	Transitions int
	// Invocations is the number of Lambda invocations, by function.
	Invocations map[string]int
	// HandlerMs is each function's median invocation time at the Lambda API, in ms (all runs).
	HandlerMs map[string]float64
	// Calls counts the AWS API calls, "service:Operation", the bootstraps made (stand-ins included).
	Calls map[string]int
	// WriteUnits are the DynamoDB write request units of the writes (1 KB each, rounded up; a write
	// to the audit table also writes its byResource index, which projects every attribute).
	WriteUnits int
	// ReadUnits are the DynamoDB read request units (strongly consistent GetItem, items under 4 KB).
	ReadUnits float64
	// SFNLogBytes estimates the Step Functions log of one execution at the deployed level: AWS's history
	// events for each local event, an envelope estimated each, and their data measured when it is logged
	// (statemachine.LogIncludeExecutionData).
	SFNLogBytes int
	// LambdaLogBytes is what the functions themselves logged (slog JSON lines), per execution.
	LambdaLogBytes int
}

// Shape names: the kinds of executions the cost model prices.
const (
	ShapeNoAction = "no-action"
	ShapeOne      = "one-action"
	ShapeTwo      = "two-actions"
	ShapeForged   = "forged"
	ShapeRejected = "rejected"
)

// sfnEventEnvelope estimates the bytes of one Step Functions log event besides its data: id, type,
// previous_event_id, event_timestamp, the execution ARN, redrive_count, the details' names.
const sfnEventEnvelope = 300

// MeasureShapes runs each shape runs times through stack (started with Options.CountAPICalls and the
// blast-radius limit lifted: StackEnv) and returns what each did. Every run of a shape must make the
// same transitions, invocations and API calls, or the measurement is an error.
func MeasureShapes(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, root string, runs int) ([]Measured, error) {
	ec2, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		return nil, err
	}
	bucket, err := demo.FindingNamed("s3_bucket_block_public_access_disabled")
	if err != nil {
		return nil, err
	}
	unmapped, err := demo.FindingNamed("unmapped_bedrock_model_invocation")
	if err != nil {
		return nil, err
	}
	rejected, err := os.ReadFile(filepath.Join(root, "shared", "finding", "testdata", "events", "reject_missing_type_account_region.json"))
	if err != nil {
		return nil, err
	}
	fresh := func(tmpl []byte) []byte {
		e, _ := FreshEvent(tmpl, stack.Resources, stack.Resources.InstanceID)
		return e
	}
	shapes := []struct {
		name   string
		event  func() []byte
		opts   demo.RunOptions
		status string
	}{
		{ShapeNoAction, func() []byte { return freshID(stack.Resources.Substitute(unmapped.Event)) }, demo.RunOptions{}, "SUCCEEDED"},
		{ShapeOne, func() []byte { return freshID(stack.Resources.Substitute(bucket.Event)) }, demo.RunOptions{}, "SUCCEEDED"},
		{ShapeTwo, func() []byte { return fresh(ec2.Event) }, demo.RunOptions{}, "SUCCEEDED"},
		{ShapeForged, func() []byte { return fresh(ec2.Event) }, demo.RunOptions{NotInGuardDuty: true}, "FAILED"},
		{ShapeRejected, func() []byte { return rejected }, demo.RunOptions{}, "FAILED"},
	}
	var out []Measured
	for _, sh := range shapes {
		m := Measured{Shape: sh.name, Runs: runs, Invocations: map[string]int{}, HandlerMs: map[string]float64{}, Calls: map[string]int{}}
		ms := map[string][]time.Duration{}
		// One unmeasured run first: a function's first call looks up what it then keeps (GuardDuty's
		// detector id), as a fresh Lambda execution environment does once.
		for i := -1; i < runs; i++ {
			if err := resetTargets(ctx, stack); err != nil {
				return nil, err
			}
			logsBefore := stack.LogBytes()
			ex, err := stack.Run(ctx, tools, "cost-"+sh.name, sh.event(), sh.opts)
			if err != nil {
				return nil, err
			}
			if ex.Status != sh.status {
				return nil, fmt.Errorf("cost %s: execution %s (%s: %s), want %s", sh.name, ex.Status, ex.Error, ex.Cause, sh.status)
			}
			run := measureRun(ex)
			run.LambdaLogBytes = logGrowth(logsBefore, stack.LogBytes())
			if i < 0 {
				continue
			}
			for _, in := range ex.Invokes {
				ms[in.Function] = append(ms[in.Function], in.Duration)
			}
			if i == 0 {
				run.Shape, run.Runs, run.Status, run.HandlerMs = m.Shape, m.Runs, ex.Status, m.HandlerMs
				m = run
				continue
			}
			if d := m.differs(run); d != "" {
				return nil, fmt.Errorf("cost %s: run %d differs from run 1: %s", sh.name, i+1, d)
			}
			// The fewest bytes: what every execution of the shape logs. A loaded machine adds the odd line
			// (a slow call's warning) that is no part of the shape and made the model's check flaky.
			m.LambdaLogBytes = min(m.LambdaLogBytes, run.LambdaLogBytes)
			m.SFNLogBytes = min(m.SFNLogBytes, run.SFNLogBytes)
		}
		for fn, ds := range ms {
			m.HandlerMs[fn] = float64(Percentile(ds, 50)) / float64(time.Millisecond)
		}
		out = append(out, m)
	}
	return out, nil
}

// resetTargets puts the instance back to running and the bucket back to public (no public access
// block), so every run finds what the finding reports.
func resetTargets(ctx context.Context, stack *demo.Stack) error {
	if err := startInstances(ctx, stack, stack.Resources.InstanceID); err != nil {
		return err
	}
	_, err := s3.NewFromConfig(stack.AWS, func(o *s3.Options) { o.UsePathStyle = true }).
		DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String(stack.Resources.Bucket)})
	if err != nil {
		return fmt.Errorf("reset bucket %s: %w", stack.Resources.Bucket, err)
	}
	return nil
}

// freshID gives an event a new random finding id (the duplicate-suppression claim would skip a
// repeat), as FreshEvent does for the EC2 finding.
func freshID(event []byte) []byte {
	var e struct {
		Detail struct {
			ID string `json:"id"`
		} `json:"detail"`
	}
	if json.Unmarshal(event, &e) != nil || e.Detail.ID == "" {
		return event
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return bytes.ReplaceAll(event, []byte(e.Detail.ID), []byte(hex.EncodeToString(b[:])))
}

func logGrowth(before, after map[string]int) int {
	n := 0
	for fn, b := range after {
		n += b - before[fn]
	}
	return n
}

// measureRun counts one execution.
func measureRun(ex *demo.Execution) Measured {
	m := Measured{Invocations: map[string]int{}, Calls: map[string]int{}}
	tasks := taskStates()
	// data is what an event's input or output adds to its log record: nothing without execution data.
	data := func(n int) int {
		if statemachine.LogIncludeExecutionData {
			return n
		}
		return 0
	}
	for _, ev := range ex.Events {
		envelope := sfnEventEnvelope
		switch ev.Type {
		case "StateEntered":
			m.Transitions++
			if tasks[ev.State] {
				// AWS logs a Lambda Task as TaskStateEntered, LambdaFunctionScheduled (the input again)
				// and LambdaFunctionStarted.
				m.SFNLogBytes += data(2*ev.InBytes) + 2*envelope
			}
		case "StateRetried":
			m.Transitions++
		case "StateExited":
			if tasks[ev.State] {
				// LambdaFunctionSucceeded carries the output before TaskStateExited does.
				m.SFNLogBytes += data(ev.OutBytes) + envelope
			}
		}
		m.SFNLogBytes += data(ev.InBytes+ev.OutBytes) + envelope
	}
	for _, in := range ex.Invokes {
		m.Invocations[in.Function]++
	}
	for _, c := range ex.APICalls {
		m.Calls[c.Service+":"+c.Operation]++
		switch c.Operation {
		case "PutItem", "UpdateItem", "DeleteItem":
			units := max(1, int(math.Ceil(float64(c.ItemBytes)/1024)))
			if strings.Contains(c.Table, "audit") {
				units *= 2 // the byResource index (projection ALL) is written too
			}
			m.WriteUnits += units
		case "GetItem":
			m.ReadUnits++
		case "Query":
			m.ReadUnits++
		}
	}
	for _, s := range ex.StandIns {
		op, _, _ := strings.Cut(s, " ")
		m.Calls[op]++
	}
	return m
}

// differs says how two runs of a shape differ in what they count (sizes may vary by a few bytes).
func (m Measured) differs(o Measured) string {
	switch {
	case m.Transitions != o.Transitions:
		return fmt.Sprintf("transitions %d vs %d", m.Transitions, o.Transitions)
	case !mapsEqual(m.Invocations, o.Invocations):
		return fmt.Sprintf("invocations %v vs %v", m.Invocations, o.Invocations)
	case !mapsEqual(m.Calls, o.Calls):
		return fmt.Sprintf("API calls %v vs %v", m.Calls, o.Calls)
	case m.WriteUnits != o.WriteUnits:
		return fmt.Sprintf("write units %d vs %d", m.WriteUnits, o.WriteUnits)
	}
	return ""
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// taskStates are the definition's Lambda Task states (steps and bots).
func taskStates() map[string]bool {
	out := map[string]bool{statemachine.StateParse: true, statemachine.StateTransform: true, statemachine.StateMatch: true,
		statemachine.StateVerify: true, statemachine.StateNotify: true, statemachine.StateWaitForApproval: true}
	for _, fn := range statemachine.Placeholders() {
		out[fn] = true
	}
	return out
}

// Sorted returns m's keys in order.
func Sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}

// AsShape is the measurement as the cost model's Shape (What left empty): handler times rounded up
// to 1 ms each, as Lambda bills them.
func (m Measured) AsShape() Shape {
	s := Shape{Name: m.Shape, Transitions: m.Transitions, WriteUnits: float64(m.WriteUnits), ReadUnits: m.ReadUnits,
		SFNLogBytes: m.SFNLogBytes, LambdaLogBytes: m.LambdaLogBytes, Publishes: m.Calls["sns:Publish"], Signs: m.Calls["kms:Sign"]}
	for fn, n := range m.Invocations {
		s.Invocations += n
		s.HandlerMs += n * int(math.Ceil(m.HandlerMs[fn]))
		if _, bot := bots.Lookup(fn); bot {
			s.PlanChecks += n
		}
	}
	by := map[string]int{}
	for call, n := range m.Calls {
		s.Calls += n
		svc, _, _ := strings.Cut(call, ":")
		by[serviceNames[svc]] += n
	}
	names := Sorted(by)
	sort.SliceStable(names, func(i, j int) bool { return by[names[i]] > by[names[j]] })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, by[n]))
	}
	s.CallsBy = strings.Join(parts, ", ")
	return s
}

var serviceNames = map[string]string{"dynamodb": "DynamoDB", "ec2": "EC2", "s3": "S3", "ssm": "SSM", "sns": "SNS",
	"guardduty": "GuardDuty", "iam": "IAM", "sts": "STS", "lambda": "Lambda", "rds": "RDS", "autoscaling": "Auto Scaling",
	"elasticloadbalancing": "ELB", "kms": "KMS", "states": "Step Functions", "events": "EventBridge"}

// CostStackEnv is StackEnv with the blast-radius limit lifted for every bot the shapes run: many runs
// in an hour would otherwise be held for approval, which cannot be answered locally.
func CostStackEnv() map[string][]string {
	env := StackEnv()
	env["s3_block_public_access"] = env["ec2_stop_instance"]
	return env
}
