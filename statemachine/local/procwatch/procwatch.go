// Package procwatch watches the processes of the local stack (this one, with kumo and the proxies in it;
// every bootstrap; the Node runners): it samples each one's open descriptors and resident memory, keeps
// their peaks, and fails the run — once, with an error that names the component and the cause — when
// a process holds more descriptors than its budget or a component reports that it cannot make
// progress. A run that cannot go on then ends at once instead of hanging: every context bound to the
// watchdog is cancelled with the failure as its cause, and OnFail stops what the run started.
package procwatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures a Watchdog. The zero value is usable.
type Options struct {
	// Every is the sampling period (0: 500 ms).
	Every time.Duration
	// MaxDescriptors is the descriptor budget of every watched process (0: half of each process's own
	// soft RLIMIT_NOFILE). Half, not all: a process that ran out has already failed calls in ways
	// that hide the cause (an accept loop retrying, a request refused), and nothing healthy in the
	// stack holds more than a few hundred.
	MaxDescriptors int
	// OnFail runs once, on the first failure, before the bound contexts are cancelled: the caller stops
	// what it started there.
	OnFail func(error)
}

// Failure is why the run stopped: which component, and what happened to it.
type Failure struct {
	Component string
	Cause     error
}

func (f *Failure) Error() string { return f.Component + ": " + f.Cause.Error() }

func (f *Failure) Unwrap() error { return f.Cause }

// ErrTooManyDescriptors is the cause of a Failure for a process over its descriptor budget.
var ErrTooManyDescriptors = errors.New("too many open descriptors")

// Usage is one watched process's descriptors and memory: now (the last sample) and at their peak.
type Usage struct {
	Name string
	PID  int
	// Descriptors is the number of entries in /proc/<pid>/fd at the last sample; PeakDescriptors the
	// largest number sampled; Budget the count at which the watchdog fails the run.
	Descriptors, PeakDescriptors, Budget int
	// RSS is VmRSS at the last sample; PeakRSS is VmHWM (the kernel's own peak, not a sampled one).
	RSS, PeakRSS int64
	// Ended says the process is no longer sampled — it exited, or was unwatched when it ended as
	// expected — and its figures are from its last sample.
	Ended bool
}

// Watchdog samples the watched processes until Close.
type Watchdog struct {
	opts Options

	mu     sync.Mutex
	procs  []*watched
	failed *Failure

	done   chan struct{}
	stop   chan struct{}
	closed sync.Once
	loop   sync.WaitGroup
}

type watched struct{ Usage }

// New starts a watchdog.
func New(opts Options) *Watchdog {
	if opts.Every <= 0 {
		opts.Every = 500 * time.Millisecond
	}
	w := &Watchdog{opts: opts, done: make(chan struct{}), stop: make(chan struct{})}
	w.loop.Go(func() {
		t := time.NewTicker(opts.Every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.Sample()
			}
		}
	})
	return w
}

// Watch adds a process under name and samples it at once. The returned function stops sampling it
// (it ended as expected); its figures stay in Usage.
func (w *Watchdog) Watch(name string, pid int) (unwatch func()) {
	p := &watched{Usage: Usage{Name: name, PID: pid, Budget: w.budget(pid)}}
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	w.Sample()
	return func() {
		w.mu.Lock()
		p.Ended = true
		w.mu.Unlock()
	}
}

func (w *Watchdog) budget(pid int) int {
	if w.opts.MaxDescriptors > 0 {
		return w.opts.MaxDescriptors
	}
	limit, err := DescriptorLimit(pid)
	if err != nil || limit <= 0 {
		return 1024 / 2 // the usual default soft limit
	}
	return limit / 2
}

// Sample reads every watched process now and fails the run if one is over its budget.
func (w *Watchdog) Sample() {
	w.mu.Lock()
	procs := make([]*watched, 0, len(w.procs))
	for _, p := range w.procs {
		if !p.Ended {
			procs = append(procs, p)
		}
	}
	w.mu.Unlock()
	for _, p := range procs {
		n, errFD := Descriptors(p.PID)
		rss, peak, errRSS := Memory(p.PID)
		if err := errors.Join(errFD, errRSS); err != nil {
			switch {
			case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
				// This process cannot open /proc: it is out of descriptors itself.
				w.Fail(fmt.Sprintf("%s (pid %d)", w.nameOf(os.Getpid()), os.Getpid()), fmt.Errorf("%w: %v", ErrTooManyDescriptors, err))
			case errors.Is(err, fs.ErrNotExist) || errFD == nil:
				// Gone between samples (a zombie has no memory lines): whoever started it reports an
				// unexpected exit.
				w.mu.Lock()
				p.Ended = true
				w.mu.Unlock()
			}
			continue
		}
		w.mu.Lock()
		p.Descriptors, p.PeakDescriptors = n, max(p.PeakDescriptors, n)
		p.RSS, p.PeakRSS = rss, peak
		over := n > p.Budget
		w.mu.Unlock()
		if over {
			w.Fail(fmt.Sprintf("%s (pid %d)", p.Name, p.PID), fmt.Errorf("%w: %d open, over its budget of %d: "+
				"connections or files are opened and never closed", ErrTooManyDescriptors, n, p.Budget))
		}
	}
}

// nameOf is the name pid is watched under ("this process" if it is not).
func (w *Watchdog) nameOf(pid int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.procs {
		if p.PID == pid {
			return p.Name
		}
	}
	return "this process"
}

// Usage returns every process watched so far, in the order they were added.
func (w *Watchdog) Usage() []Usage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Usage, len(w.procs))
	for i, p := range w.procs {
		out[i] = p.Usage
	}
	return out
}

// Fail records that component cannot make progress, because of cause. The first failure wins: OnFail
// runs, then every bound context is cancelled with it as the cause. Later failures are ignored (they
// are usually the first one's consequences).
func (w *Watchdog) Fail(component string, cause error) {
	w.mu.Lock()
	if w.failed != nil {
		w.mu.Unlock()
		return
	}
	f := &Failure{Component: component, Cause: cause}
	w.failed = f
	w.mu.Unlock()
	if w.opts.OnFail != nil {
		w.opts.OnFail(f)
	}
	close(w.done)
}

// Err is the failure (a *Failure), nil while the run is healthy.
func (w *Watchdog) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		return nil
	}
	return w.failed
}

// Done is closed when the run has failed.
func (w *Watchdog) Done() <-chan struct{} { return w.done }

// Context returns a context derived from parent that is also cancelled when the run fails, with the
// failure as its cause (context.Cause).
func (w *Watchdog) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-w.done:
			cancel(w.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// Close stops sampling. It does not fail the run.
func (w *Watchdog) Close() {
	w.closed.Do(func() { close(w.stop) })
	w.loop.Wait()
}

// Descriptors counts a process's open descriptors (the entries of /proc/<pid>/fd).
func Descriptors(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	n := len(names)
	if pid == os.Getpid() {
		n-- // the descriptor reading the directory
	}
	return n, nil
}

// DescriptorLimit is a process's soft limit on open descriptors (RLIMIT_NOFILE, from /proc/<pid>/limits).
func DescriptorLimit(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			if f[0] == "unlimited" {
				return 1 << 30, nil
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("no \"Max open files\" in /proc/%d/limits", pid)
}

// Memory reads a process's resident set now (VmRSS) and at its peak (VmHWM), in bytes.
func Memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var found int
	for _, line := range strings.Split(string(b), "\n") {
		key, v, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("no VmRSS and VmHWM in /proc/%d/status (a zombie?)", pid)
	}
	return rss, peak, nil
}
