// Package lambdahost runs the project's real Lambda bootstraps on this machine behind the in-process AWS
// emulator (kumo): it builds them for the host, registers each function with the emulator's Lambda
// API, starts each bootstrap against the emulator's Runtime API and supervises it. kumo serves the
// Runtime API but does not start processes; this package does.
package lambdahost

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Build compiles each package (import path or ./dir, keyed by function name) for the host into
// dir/<name>/bootstrap, with the same tags as the Lambda build.
func Build(ctx context.Context, moduleRoot, dir string, pkgs map[string]string) (map[string]string, error) {
	// go build runs in moduleRoot: a relative dir must not be resolved from there.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(pkgs))
	for name, pkg := range pkgs {
		bin := filepath.Join(dir, name, "bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, pkg)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s (%s): %w\n%s", name, pkg, err, b)
		}
		out[name] = bin
	}
	return out, nil
}

// Host supervises bootstraps connected to one emulator.
type Host struct {
	// Endpoint is the emulator's base URL (http://127.0.0.1:port).
	Endpoint string
	// Lambda is a client of the emulator's Lambda API.
	Lambda *lambda.Client
	// Sizes gives a function its timeout and memory size, as the deployment sets them; nil (or a zero
	// answer) gives the function 60 s and 128 MB.
	Sizes func(name string) (timeout time.Duration, memoryMiB int)
	// Env is added to every bootstrap's environment (credentials, endpoint, region, configuration).
	Env []string
	// OnExit, when set, is told of a bootstrap that exited while the host was not stopping it: a
	// Lambda runtime never exits on its own, so the function can no longer be invoked (kumo would
	// hold each invoke for its 30 s pickup timeout, then fail it). Called once per process, from the
	// goroutine that waited for it.
	OnExit func(p *Process, err error)
	// Wrap, when set, adjusts each bootstrap's command before it starts (perf runs each in a cgroup, to
	// give it a Lambda memory size's CPU share).
	Wrap func(name string, cmd *exec.Cmd)

	mu       sync.Mutex
	procs    []*Process
	stopping bool
}

// Process is one running bootstrap.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	logs *logTail
	err  error
	// bootstrap and env are what it was started with, for Restart; replaced is set when Restart ends it.
	bootstrap string
	env       []string
	replaced  bool
}

// Logs returns the end of what the bootstrap wrote to stdout and stderr (its slog JSON lines): the
// last LogTail bytes.
func (p *Process) Logs() string {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return string(p.logs.buf[max(0, len(p.logs.buf)-LogTail):])
}

// PeakRSS is the bootstrap's peak resident set so far (VmHWM), in bytes.
func (p *Process) PeakRSS() (int64, error) { return PeakRSS(p.cmd.Process.Pid) }

// PID is the bootstrap's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the bootstrap has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// LastLogs is the end of what the bootstrap wrote (at most n bytes, from a line start): what to show
// when it died.
func (p *Process) LastLogs(n int) string {
	l := p.Logs()
	if len(l) <= n {
		return l
	}
	l = l[len(l)-n:]
	if i := strings.IndexByte(l, '\n'); i >= 0 {
		l = l[i+1:]
	}
	return "…" + l
}

// PeakRSS reads a process's peak resident set (VmHWM in /proc/<pid>/status), in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// Processes returns the bootstraps this host started, in start order.
func (h *Host) Processes() []*Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.procs)
}

// LogBytes is how many bytes each running bootstrap has written to stdout and stderr, by name.
func (h *Host) LogBytes() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, p := range h.procs {
		p.logs.mu.Lock()
		out[p.Name] += p.logs.total
		p.logs.mu.Unlock()
	}
	return out
}

// Start registers the function with the emulator and starts its bootstrap, then waits until it
// answers a warm-up invoke, so the first real invoke cannot race the bootstrap's start.
func (h *Host) Start(ctx context.Context, name, bootstrap string, env ...string) (*Process, error) {
	// kumo enforces the timeout and hands the bootstrap the deadline it implies, as Lambda does.
	timeout, memory := h.sizes(name)
	_, err := h.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Role:          aws.String("arn:aws:iam::000000000000:role/" + name),
		Runtime:       types.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []types.Architecture{types.ArchitectureArm64},
		Timeout:       aws.Int32(int32(timeout / time.Second)),
		MemorySize:    aws.Int32(int32(memory)),
		Code:          &types.FunctionCode{ZipFile: []byte("local bootstrap: " + bootstrap)},
	})
	var conflict *types.ResourceConflictException
	if err != nil && !errors.As(err, &conflict) {
		return nil, fmt.Errorf("create function %s: %w", name, err)
	}
	return h.start(ctx, name, bootstrap, env)
}

// sizes is the function's timeout and memory size: the Sizes hook's, or 60 s and 128 MB.
func (h *Host) sizes(name string) (timeout time.Duration, memoryMiB int) {
	if h.Sizes != nil {
		if t, m := h.Sizes(name); t > 0 && m > 0 {
			return t, m
		}
	}
	return 60 * time.Second, 128
}

func (h *Host) start(ctx context.Context, name, bootstrap string, env []string) (*Process, error) {
	_, memory := h.sizes(name)
	u, err := url.Parse(h.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", h.Endpoint, err)
	}
	cmd := exec.Command(bootstrap)
	cmd.Env = append(append(append(os.Environ(), h.Env...), env...),
		"AWS_LAMBDA_RUNTIME_API="+u.Host+"/_runtime/"+name,
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(memory),
	)
	logs := &logTail{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Wait returns this long after the process died even if something it started still holds its output.
	cmd.WaitDelay = 2 * time.Second
	if h.Wrap != nil {
		h.Wrap(name, cmd)
	}
	h.mu.Lock()
	if h.stopping {
		h.mu.Unlock()
		return nil, fmt.Errorf("start %s: the host is stopping", name)
	}
	if err := cmd.Start(); err != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{}), logs: logs, bootstrap: bootstrap, env: env}
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		h.mu.Lock()
		expected := h.stopping || p.replaced
		h.mu.Unlock()
		if !expected && h.OnExit != nil {
			err := p.err
			if err == nil {
				err = errors.New("exit status 0")
			}
			h.OnExit(p, err)
		}
	}()
	if err := h.waitReady(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Restart ends the named bootstrap and starts it again with the same program and environment: a cold
// start, nothing of the old process kept. Like Start it returns once the new process has answered the
// warm-up invoke, which runs no step (steps.Warmup).
func (h *Host) Restart(ctx context.Context, name string) (*Process, error) {
	h.mu.Lock()
	i := slices.IndexFunc(h.procs, func(p *Process) bool { return p.Name == name })
	if i < 0 || h.stopping {
		h.mu.Unlock()
		return nil, fmt.Errorf("restart %s: no such bootstrap running", name)
	}
	old := h.procs[i]
	old.replaced = true
	h.procs = slices.Delete(h.procs, i, i+1)
	h.mu.Unlock()
	_ = old.cmd.Process.Kill()
	<-old.done
	// The emulator drops the old process's pending poll when it sees its connection close: let it, so
	// the warm-up invoke is not handed to the dead connection.
	time.Sleep(20 * time.Millisecond)
	return h.start(ctx, name, old.bootstrap, old.env)
}

func (h *Host) waitReady(ctx context.Context, p *Process) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := h.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(p.Name), Payload: warmup})
		if err == nil && out.FunctionError == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("bootstrap %s exited before it was ready: %v\n%s", p.Name, p.err, p.Logs())
		default:
		}
		if err == nil {
			return fmt.Errorf("bootstrap %s failed its warm-up: %s", p.Name, out.Payload)
		}
		if !strings.Contains(err.Error(), "no runtime handler") || time.Now().After(deadline) {
			return fmt.Errorf("bootstrap %s not ready: %w", p.Name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// warmup matches steps.Warmup; kept literal so this package does not import the workflow's code.
var warmup = []byte(`{"guardbotsWarmup":true}`)

// Stop ends every bootstrap this host started and waits until they are gone; the host starts no
// more. Safe to call more than once and from OnExit.
func (h *Host) Stop() {
	h.mu.Lock()
	h.stopping = true
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Kill()
	}
	for _, p := range procs {
		<-p.done
	}
}

// LogTail is how much of a bootstrap's output a Process keeps, for an error report.
const LogTail = 64 << 10

// logTail counts every byte a bootstrap writes and keeps the last LogTail of them: keeping it all grew
// this process by a few kilobytes per invocation for the life of the stack.
type logTail struct {
	mu    sync.Mutex
	total int
	buf   []byte
}

func (l *logTail) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += len(b)
	l.buf = append(l.buf, b...)
	// Trimmed only when twice the tail, so each byte is copied at most once more.
	if len(l.buf) > 2*LogTail {
		l.buf = append(make([]byte, 0, 2*LogTail), l.buf[len(l.buf)-LogTail:]...)
	}
	return len(b), nil
}
