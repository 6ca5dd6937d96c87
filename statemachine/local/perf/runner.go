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
var runnerJS []byte

// Runner is one Node process running many executions of one definition (runner.mjs). aslrun starts
// Node per execution, which costs more than the workflow itself; this keeps that start-up apart.
type Runner struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	script string
	// Startup is process start → aws-local-stepfunctions loaded and the definition accepted.
	Startup time.Duration

	mu      sync.Mutex
	next    int
	waiting map[int]chan Result
	err     error
}

// Result is one execution's report.
type Result struct {
	Status, Error, Cause string
	Events               []aslrun.Event
	// InNode is the job line's arrival in Node → the execution's end, as Node measured it.
	InNode time.Duration
	// RoundTrip adds the pipe both ways and the JSON coding, as Go measured it.
	RoundTrip time.Duration
}

// StartRunner starts Node with env (the Lambda endpoint and test credentials: aslrun's Job.Env).
func StartRunner(ctx context.Context, tools aslrun.Tools, definition json.RawMessage, env []string) (*Runner, error) {
	f, err := os.CreateTemp("", "perf-runner-*.mjs")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(runnerJS); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	r := &Runner{script: f.Name(), waiting: map[int]chan Result{}}
	r.cmd = exec.CommandContext(ctx, tools.Node(), f.Name())
	r.cmd.Env = tools.Env(env...)
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
		os.Remove(f.Name())
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
	r.err = fmt.Errorf("perf: runner exited: %v", sc.Err())
	for id, ch := range r.waiting {
		close(ch)
		delete(r.waiting, id)
	}
	r.mu.Unlock()
}

// Run executes job (its Definition and Env are the runner's; Input and Context are used) and waits.
func (r *Runner) Run(ctx context.Context, job aslrun.Job) (Result, error) {
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
	select {
	case res, ok := <-ch:
		if !ok {
			return Result{}, r.err
		}
		res.RoundTrip = time.Since(start)
		return res, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
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
	os.Remove(r.script)
}
