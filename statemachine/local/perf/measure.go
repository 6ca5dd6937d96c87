package perf

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/statemachine/local/lambdahost"
)

// Env keeps a measured bootstrap away from real AWS; FunctionEnv gives it its own configuration.
var Env = []string{
	"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1",
	"AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL=http://127.0.0.1:1",
}

// FunctionEnv is the environment the deployment gives the function called name (shared/deployment,
// what the CDK app deploys and the local stack runs), with placeholder resources and the default
// settings: a measured start reads exactly what a deployed one does, and a function that refuses to
// start without a variable it is deployed with is measured, not refused. Nil for a name the deployment
// does not have (the floor).
func FunctionEnv(name string) []string {
	const acct, region = "111122223333", "us-east-1"
	arn := func(svc, res string) string { return "arn:aws:" + svc + ":" + region + ":" + acct + ":" + res }
	r := deployment.Resources{
		AccountID: acct, TopicArn: arn("sns", "guardbots-notifications"), MailTopicArn: arn("sns", "guardbots-mail"),
		ChatTopicArn: arn("sns", "guardbots-chat"), EventBus: "default",
		ApproverRoleArn: "arn:aws:iam::" + acct + ":role/guardbots-approver",
		StateTable:      "guardbots-state", AuditTable: "guardbots-audit",
		SigningKey: arn("kms", "key/perf"), StateMachineArn: arn("states", "stateMachine:guardbots-remediation"),
		ProbeKey: arn("kms", "key/perf-probe"), HealthStateMachineArn: arn("states", "stateMachine:guardbots-member-health"),
	}
	s := deployment.DefaultSettings()
	fns := append(deployment.Functions(s, r), deployment.Health(s, r, deployment.HealthEnv{}))
	for _, f := range fns {
		if f.Name != name {
			continue
		}
		out := make([]string, 0, len(f.Env))
		for _, k := range slices.Sorted(maps.Keys(f.Env)) {
			out = append(out, k+"="+f.Env[k])
		}
		return out
	}
	return nil
}

// Process is one bootstrap started against its own Runtime API.
type Process struct {
	API     *RuntimeAPI
	Cmd     *exec.Cmd
	Started time.Time
	// Group is the cgroup the process runs in (StartIn), nil for none.
	Group *Cgroup
	// initCPU is the CPU time the process had used when it first polled (read by the Runtime API as
	// the poll arrived), or the error reading it.
	initCPU    time.Duration
	initCPUErr error
	// started is closed once cmd.Start has returned (cmd.Process set); initRead once initCPU is read.
	started, initRead chan struct{}
	// done is closed when the process has exited, with err how it ended: a measurement waiting on it
	// then fails instead of waiting for a poll or an answer that will never come.
	done chan struct{}
	err  error
}

// InvokeTimeout bounds one measured invocation: the functions' own Lambda timeout.
const InvokeTimeout = time.Minute

// Start runs bootstrap with the environment and a fresh Runtime API.
func Start(bootstrap string, env ...string) (*Process, error) { return StartIn(nil, bootstrap, env...) }

// StartIn runs bootstrap like Start, inside g when g is not nil (its CPU time from the cgroup's
// accounting, under the quota g has now); without a group its CPU time is its threads' own.
func StartIn(g *Cgroup, bootstrap string, env ...string) (*Process, error) {
	api := NewRuntimeAPI()
	cmd := exec.Command(bootstrap)
	cmd.Env = append(append(append([]string{"PATH=" + os.Getenv("PATH")}, Env...), env...),
		"AWS_LAMBDA_RUNTIME_API="+api.Addr(), "AWS_LAMBDA_FUNCTION_NAME=perf", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
	p := &Process{API: api, Cmd: cmd, Group: g, done: make(chan struct{}),
		started: make(chan struct{}), initRead: make(chan struct{})}
	if g != nil {
		if err := g.ResetCPU(); err != nil {
			api.Close()
			return nil, err
		}
		g.Command(cmd)
	}
	// The first poll can arrive before cmd.Start has returned in this process (a loaded machine): the
	// hook waits for it, as the threads' CPU needs the pid.
	api.atFirstNext = func() {
		<-p.started
		p.initCPU, p.initCPUErr = p.CPU()
		close(p.initRead)
	}
	p.Started = time.Now()
	err := cmd.Start()
	close(p.started)
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("start %s: %w", bootstrap, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Invoke hands payload to the process and waits for its answer: at most InvokeTimeout, and not past the
// process's exit.
func (p *Process) Invoke(ctx context.Context, payload []byte) (body []byte, errored bool, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, InvokeTimeout, fmt.Errorf("bootstrap %s did not answer within %v", p.Cmd.Path, InvokeTimeout))
	defer cancel()
	ctx, exited := context.WithCancelCause(ctx)
	defer exited(nil)
	go func() {
		select {
		case <-p.done:
			exited(fmt.Errorf("bootstrap %s exited (%v)", p.Cmd.Path, p.err))
		case <-ctx.Done():
		}
	}()
	return p.API.Invoke(ctx, payload)
}

// WaitFirstNext waits until the process asked the Runtime API for work: its cold start.
func (p *Process) WaitFirstNext(ctx context.Context) (time.Duration, error) {
	for {
		if t := p.API.FirstNext(); !t.IsZero() {
			return t.Sub(p.Started), nil
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("bootstrap exited before polling (%v)", p.err)
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(100 * time.Microsecond):
		}
	}
}

// CPU is the CPU time the process has used so far: its cgroup's, else its threads'.
func (p *Process) CPU() (time.Duration, error) {
	if p.Group != nil {
		return p.Group.CPU()
	}
	return ThreadsCPU(p.Cmd.Process.Pid)
}

// InitCPU is the CPU time the process had used when it first polled the Runtime API (after
// WaitFirstNext returned).
func (p *Process) InitCPU() (time.Duration, error) {
	select {
	case <-p.initRead:
		return p.initCPU, p.initCPUErr
	case <-p.done:
		return 0, fmt.Errorf("bootstrap exited before its first poll was measured (%v)", p.err)
	}
}

// PeakRSS is the process's peak resident set (VmHWM), in bytes.
func (p *Process) PeakRSS() (int64, error) { return lambdahost.PeakRSS(p.Cmd.Process.Pid) }

// Stop kills the process and closes its API.
func (p *Process) Stop() {
	_ = p.Cmd.Process.Kill()
	<-p.done
	p.API.Close()
}

// ColdStarts starts bootstrap n times and returns each start → first poll duration.
func ColdStarts(ctx context.Context, bootstrap string, n int, env ...string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		p, err := Start(bootstrap, env...)
		if err != nil {
			return nil, err
		}
		d, err := p.WaitFirstNext(ctx)
		p.Stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bootstrap, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Percentile of ds (p in 0..100), nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
