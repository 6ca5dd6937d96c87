package procwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// exhausted makes this test binary a process that has run out of descriptors and samples itself.
const exhausted = "GUARDBOTS_PROCWATCH_EXHAUSTED"

func TestMain(m *testing.M) {
	if os.Getenv(exhausted) != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 64, Max: 64}); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(2)
		}
		// A budget above the limit: only running out can fail the run.
		w := New(Options{Every: time.Hour, MaxDescriptors: 1000})
		w.Watch("starved process", os.Getpid())
		for {
			if _, err := os.Open(os.DevNull); err != nil {
				break
			}
		}
		w.Sample()
		fmt.Println(w.Err())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A process out of descriptors cannot even read /proc: that fails the run too, naming it.
func TestWatchdog_FailsTheRunWhenThisProcessIsOutOfDescriptors(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), exhausted+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "starved process (pid ") || !strings.Contains(got, "too many open descriptors") || !strings.Contains(got, "too many open files") {
		t.Errorf("failure %q", got)
	}
}

func openFiles(t *testing.T, n int) {
	t.Helper()
	for range n {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
	}
}

func TestDescriptors_CountsWhatAProcessOpens(t *testing.T) {
	before, err := Descriptors(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	openFiles(t, 25)
	after, err := Descriptors(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 25 {
		t.Errorf("%d descriptors before opening 25 files, %d after", before, after)
	}
	if limit, err := DescriptorLimit(os.Getpid()); err != nil || limit < after {
		t.Errorf("limit %d, %v", limit, err)
	}
	if rss, peak, err := Memory(os.Getpid()); err != nil || rss <= 0 || peak < rss {
		t.Errorf("RSS %d, peak %d, %v", rss, peak, err)
	}
}

// A process that keeps opening descriptors fails the run within a sampling period or two, with an
// error that names it and says what it holds; OnFail runs once and every bound context ends with the
// failure as its cause.
func TestWatchdog_FailsTheRunWhenAProcessGoesOverItsDescriptorBudget(t *testing.T) {
	n, err := Descriptors(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	w := New(Options{Every: 20 * time.Millisecond, MaxDescriptors: n + 30, OnFail: func(error) { failures.Add(1) }})
	defer w.Close()
	ctx, cancel := w.Context(context.Background())
	defer cancel()
	w.Watch("leaky component", os.Getpid())
	if w.Err() != nil {
		t.Fatalf("failed under budget: %v", w.Err())
	}
	start := time.Now()
	openFiles(t, 40)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a process over its descriptor budget did not fail the run")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v to notice", d)
	}
	var f *Failure
	if !errors.As(context.Cause(ctx), &f) || !errors.Is(f, ErrTooManyDescriptors) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	if !strings.HasPrefix(f.Component, "leaky component (pid ") || !strings.Contains(f.Error(), "over its budget of") {
		t.Errorf("failure %q", f)
	}
	w.Fail("something else", errors.New("a consequence"))
	time.Sleep(60 * time.Millisecond)
	if failures.Load() != 1 || w.Err() != f {
		t.Errorf("OnFail ran %d times; Err %v", failures.Load(), w.Err())
	}
	u := w.Usage()
	if len(u) != 1 || u[0].PeakDescriptors <= n+30 || u[0].Budget != n+30 {
		t.Errorf("usage %+v", u)
	}
}

func TestWatchdog_ContextEndsWithItsParentAndAfterAFailureAtOnce(t *testing.T) {
	w := New(Options{})
	defer w.Close()
	parent, cancelParent := context.WithCancel(context.Background())
	ctx, cancel := w.Context(parent)
	defer cancel()
	cancelParent()
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	w.Fail("bootstrap verify (pid 1)", errors.New("exited"))
	late, cancelLate := w.Context(context.Background())
	defer cancelLate()
	select {
	case <-late.Done():
	case <-time.After(time.Second):
		t.Fatal("a context bound after the failure was not cancelled")
	}
	if got := context.Cause(late).Error(); got != "bootstrap verify (pid 1): exited" {
		t.Errorf("cause %q", got)
	}
}

// A process that ended keeps its last figures; one that was unwatched is no longer sampled.
func TestWatchdog_KeepsTheFiguresOfProcessesThatEnded(t *testing.T) {
	w := New(Options{Every: time.Hour})
	defer w.Close()
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Watch("sleeper", cmd.Process.Pid)
	unwatch := w.Watch("self", os.Getpid())
	before := w.Usage()
	if before[0].Ended || before[0].PeakRSS == 0 || before[0].Descriptors == 0 {
		t.Fatalf("usage %+v", before[0])
	}
	cmd.Process.Kill()
	cmd.Wait()
	unwatch()
	openFiles(t, 10)
	w.Sample()
	after := w.Usage()
	if !after[0].Ended || after[0].PeakRSS != before[0].PeakRSS {
		t.Errorf("ended process %+v", after[0])
	}
	if after[1].Descriptors != before[1].Descriptors || !after[1].Ended {
		t.Errorf("unwatched process sampled: %+v", after[1])
	}
	if w.Err() != nil {
		t.Errorf("failed: %v", w.Err())
	}
}
