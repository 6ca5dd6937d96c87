package perf

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

//go:embed runner.mjs
var runnerJS []byte // imports aslrun's lambdatasks.mjs: aslrun.WriteRunner writes both

// Runner is one Node process running many executions of one definition (runner.mjs). aslrun starts
// Node per execution, which costs more than the workflow itself; this keeps that start-up apart.
type Runner struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	remove func()
	// Startup is process start → aws-local-stepfunctions loaded and the definition accepted.
	Startup time.Duration
	// Timeout bounds each execution (0: aslrun.DefaultTimeout): past it Run fails, the run is stuck.
	Timeout time.Duration

	// ctx is the one Node was started with: when it ends, Node is killed and its cause is the error.
	ctx context.Context
	// atClose run after Node has exited.
	atClose []func()

	mu      sync.Mutex
	next    int
	waiting map[int]chan Result
	err     error
}

// PID is Node's process id.
func (r *Runner) PID() int { return r.cmd.Process.Pid }

// Result is one execution's report.
type Result struct {
	Status, Error, Cause string
	Events               []aslrun.Event
	// InNode is the job line's arrival in Node → the execution's end, as Node measured it.
	InNode time.Duration
	// RoundTrip adds the pipe both ways and the JSON coding, as Go measured it.
	RoundTrip time.Duration
}

// RunnerName is how errors and reports name the runner's process.
const RunnerName = "aws-local-stepfunctions runner (node)"

// StartRunner starts Node with env (the Lambda endpoint and test credentials: aslrun's Job.Env). Node
// is killed when ctx ends: bind ctx to the stack (demo.Stack.Context) so a failed stack stops it.
func StartRunner(ctx context.Context, tools aslrun.Tools, definition json.RawMessage, env []string) (*Runner, error) {
	script, remove, err := aslrun.WriteRunner(runnerJS)
	if err != nil {
		return nil, err
	}
	r := &Runner{remove: remove, waiting: map[int]chan Result{}, ctx: ctx}
	r.cmd = exec.CommandContext(ctx, tools.Node(), script)
	r.cmd.Env = tools.Env(env...)
	r.cmd.WaitDelay = 2 * time.Second
	r.cmd.Stderr = os.Stderr
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := r.cmd.Start(); err != nil {
		remove()
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if err := r.send(map[string]any{"toolsDir": tools.Dir, "definition": definition}); err != nil {
		r.Close()
		return nil, err
	}
	if !sc.Scan() {
		r.Close()
		return nil, fmt.Errorf("perf: runner did not start: %v", sc.Err())
	}
	r.Startup = time.Since(start)
	go r.read(sc)
	return r, nil
}

func (r *Runner) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = r.stdin.Write(append(b, '\n'))
	return err
}

// read hands each report to the Run waiting for it; when Node exits every waiter gets the error.
func (r *Runner) read(sc *bufio.Scanner) {
	for sc.Scan() {
		var rep struct {
			ID int `json:"id"`
			Result
			Ms float64 `json:"ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			continue
		}
		rep.Result.InNode = time.Duration(rep.Ms * float64(time.Millisecond))
		r.mu.Lock()
		ch := r.waiting[rep.ID]
		delete(r.waiting, rep.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- rep.Result
		}
	}
	r.mu.Lock()
	r.err = fmt.Errorf("%s (pid %d) exited: %v", RunnerName, r.PID(), sc.Err())
	if cause := context.Cause(r.ctx); cause != nil {
		r.err = fmt.Errorf("%s (pid %d) stopped: %w", RunnerName, r.PID(), cause)
	}
	for id, ch := range r.waiting {
		close(ch)
		delete(r.waiting, id)
	}
	r.mu.Unlock()
}

// Run executes job (its Definition and Env are the runner's; Input and Context are used) and waits, at
// most r.Timeout: an execution that takes longer is stuck, and the error says so.
func (r *Runner) Run(ctx context.Context, job aslrun.Job) (Result, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = aslrun.DefaultTimeout
	}
	ch := make(chan Result, 1)
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return Result{}, r.err
	}
	r.next++
	id := r.next
	r.waiting[id] = ch
	start := time.Now()
	err := r.send(map[string]any{"id": id, "input": job.Input, "context": job.Context})
	r.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	stuck := time.NewTimer(timeout)
	defer stuck.Stop()
	select {
	case res, ok := <-ch:
		if !ok {
			r.mu.Lock()
			defer r.mu.Unlock()
			return Result{}, r.err
		}
		res.RoundTrip = time.Since(start)
		return res, nil
	case <-stuck.C:
		r.forget(id)
		return Result{}, fmt.Errorf("%s (pid %d): %w: execution %d did not finish within %v", RunnerName, r.PID(), aslrun.ErrStuck, id, timeout)
	case <-ctx.Done():
		r.forget(id)
		return Result{}, context.Cause(ctx)
	}
}

func (r *Runner) forget(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.waiting, id)
}

// Close stops Node.
func (r *Runner) Close() {
	r.stdin.Close()
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.remove()
	for _, f := range r.atClose {
		f()
	}
}
