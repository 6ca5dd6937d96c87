package perf

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
	"github.com/guardbots/guardbots/statemachine/local/procwatch"
)

// Throughput is n distinct findings, each about its own instance, through the workflow with at most
// Concurrency executions in flight in one Node process, and the proof of what happened to each.
type Throughput struct {
	N, Concurrency int
	Elapsed        time.Duration
	PerSecond      float64
	Latency        []time.Duration // each execution, in Node, under load
	Succeeded      int
	// NotesPerFinding counts notifications by finding id: proof needs each exactly 1.
	Once, Missing, Duplicated int
	// AuditOK counts findings with exactly two remediated audit records (tag, stop) of their own execution.
	AuditOK int
	// Stopped counts instances read back stopped and tagged with their own finding's id.
	Stopped int
	Strays  int // notifications about findings not sent
	// Failures counts the executions that did not succeed by their status, error and cause (the cause
	// clipped), so a failed proof says what went wrong.
	Failures map[string]int
	// Checkpoints are taken after each tenth of the findings (before the read-back): every process's
	// descriptors and memory, to show they stay flat over the run.
	Checkpoints []Checkpoint
}

// Checkpoint is the stack's processes after Done findings.
type Checkpoint struct {
	Done  int
	Usage []procwatch.Usage
	// Goroutines and HeapLive are this process's (kumo, the proxies, the stand-ins, the harness): a
	// connection it never closes costs two goroutines; the live heap (as of the last GC) holds kumo's
	// stored data, which grows with every finding by design.
	Goroutines int
	HeapLive   uint64
}

// OK says none was lost or handled twice.
func (t Throughput) OK() bool {
	return t.Succeeded == t.N && t.Once == t.N && t.Missing == 0 && t.Duplicated == 0 && t.AuditOK == t.N && t.Stopped == t.N && t.Strays == 0
}

// RunThroughput launches n instances, sends one fresh finding per instance, then checks notifications,
// audit records and the instances' final state. Launching and checking are outside the timing.
func RunThroughput(ctx context.Context, stack *demo.Stack, tools aslrun.Tools, n, concurrency int) (Throughput, error) {
	out := Throughput{N: n, Concurrency: concurrency}
	f, err := demo.FindingNamed(E2EFinding)
	if err != nil {
		return out, err
	}
	ec2c := ec2.NewFromConfig(stack.AWS)
	var instances []string
	for len(instances) < n {
		batch := int32(min(100, n-len(instances)))
		run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-0c55b159cbfafe1f0"), InstanceType: ec2types.InstanceTypeM6iLarge,
			MinCount: aws.Int32(batch), MaxCount: aws.Int32(batch),
		})
		if err != nil {
			return out, fmt.Errorf("launch instances: %w", err)
		}
		for _, in := range run.Instances {
			instances = append(instances, aws.ToString(in.InstanceId))
		}
	}
	instances = instances[:n]
	ids := make([]string, n)
	events := make([][]byte, n)
	owner := map[string]string{}
	for i, inst := range instances {
		events[i], ids[i] = FreshEvent(f.Event, stack.Resources, inst)
		owner[inst] = ids[i]
	}
	r, err := newStackRunner(ctx, stack, tools, "throughput")
	if err != nil {
		return out, err
	}
	defer r.Close()
	// The first failure ends the run: the other executions are not started, and the error names it.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Drain what earlier runs left so every notification counted below is this run's.
	if _, err := stack.Receive(ctx); err != nil {
		return out, err
	}

	arns := make([]string, n)
	results := make([]Result, n)
	work := make(chan int)
	marks := map[int64]bool{}
	for k := 1; k <= 10; k++ {
		marks[int64(max(1, n*k/10))] = true
	}
	var finished atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				job, arn, err := stack.Prepare(ctx, fmt.Sprintf("tp-%d", i), events[i], demo.RunOptions{})
				if err == nil {
					arns[i] = arn
					var res Result
					res, err = r.Run(ctx, job)
					// What the proof reads, not the event log: 10,000 of those would be most of the memory
					// this process gains over a soak.
					results[i] = Result{Status: res.Status, Error: res.Error, Cause: res.Cause, InNode: res.InNode}
				}
				if err == nil {
					err = stack.Finish(ctx, arn)
				}
				stack.TakeInvokes() // not needed here; keeps the proxy's log from growing
				if err != nil {
					cancel(fmt.Errorf("finding %d of %d: %w", i+1, n, err))
					continue
				}
				if k := finished.Add(1); marks[k] {
					cp := checkpoint(stack, int(k))
					mu.Lock()
					out.Checkpoints = append(out.Checkpoints, cp)
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return out, context.Cause(ctx)
	}
	slices.SortFunc(out.Checkpoints, func(a, b Checkpoint) int { return a.Done - b.Done })
	out.Elapsed = time.Since(start)
	out.PerSecond = float64(n) / out.Elapsed.Seconds()
	for i := range n {
		if r := results[i]; r.Status == "SUCCEEDED" {
			out.Succeeded++
		} else {
			if out.Failures == nil {
				out.Failures = map[string]int{}
			}
			cause := r.Cause
			if len(cause) > 300 {
				cause = cause[:300] + "…"
			}
			out.Failures[fmt.Sprintf("%s %s: %s", r.Status, r.Error, cause)]++
		}
		out.Latency = append(out.Latency, results[i].InNode)
	}

	// Every notification, counted by finding id.
	count := map[string]int{}
	for {
		notes, err := stack.Receive(ctx)
		if err != nil {
			return out, err
		}
		if len(notes) == 0 {
			break
		}
		for _, nt := range notes {
			if nt.Body.Finding != nil {
				count[nt.Body.Finding.ID]++
			}
		}
	}
	sent := map[string]bool{}
	for _, id := range ids {
		sent[id] = true
		switch count[id] {
		case 0:
			out.Missing++
		case 1:
			out.Once++
		default:
			out.Duplicated++
		}
	}
	for id := range count {
		if !sent[id] {
			out.Strays++
		}
	}
	for i, id := range ids {
		recs, err := stack.AuditRecords(ctx, id)
		if err != nil {
			return out, err
		}
		done := map[string]int{}
		for _, rec := range recs {
			if rec.Execution == arns[i] && rec.Status == string(bots.StatusRemediated) {
				done[rec.Bot]++
			}
		}
		if len(recs) == 2 && done["ec2_tag_instance"] == 1 && done["ec2_stop_instance"] == 1 {
			out.AuditOK++
		}
	}
	// kumo's DescribeInstances carries no tags: the finding-id tags are read with DescribeTags.
	tagged := map[string]string{}
	var token *string
	for {
		tags, err := ec2c.DescribeTags(ctx, &ec2.DescribeTagsInput{NextToken: token,
			Filters: []ec2types.Filter{{Name: aws.String("key"), Values: []string{"guardbots:finding-id"}}}})
		if err != nil {
			return out, fmt.Errorf("read back tags: %w", err)
		}
		for _, t := range tags.Tags {
			tagged[aws.ToString(t.ResourceId)] = aws.ToString(t.Value)
		}
		if token = tags.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	for i := 0; i < n; i += 100 {
		d, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: instances[i:min(i+100, n)]})
		if err != nil {
			return out, fmt.Errorf("read back instances: %w", err)
		}
		for _, res := range d.Reservations {
			for _, in := range res.Instances {
				id := aws.ToString(in.InstanceId)
				if in.State != nil && in.State.Name == ec2types.InstanceStateNameStopped && tagged[id] == owner[id] {
					out.Stopped++
				}
			}
		}
	}
	return out, nil
}

// checkpoint samples the stack's processes after done findings.
func checkpoint(stack *demo.Stack, done int) Checkpoint {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	var heap uint64
	if live[0].Value.Kind() == metrics.KindUint64 {
		heap = live[0].Value.Uint64()
	}
	return Checkpoint{Done: done, Usage: stack.Usage(), Goroutines: runtime.NumGoroutine(), HeapLive: heap}
}

// Flat checks the run's checkpoints: from the first tenth of the findings to the last, no process gained
// more than 16 descriptors and this process no more than 64 goroutines (a connection it never closes
// costs two). Memory is checked on runs of FlatMemoryFrom findings or more, once every process has
// warmed up (Node's heap settles after about 1,500 findings): from half the findings to the end, no
// process but this one grew by more than 10% + 4 MB, and this process's live heap — kumo's stored
// data, which grows with every finding by design (≈ 32 KB each, measured) — by no more than
// HeapPerFinding per finding.
func (t Throughput) Flat() error {
	cps := t.Checkpoints
	if len(cps) < 2 {
		return nil
	}
	first, mid, last := cps[0], cps[len(cps)/2-1], cps[len(cps)-1]
	var errs []error
	for _, u := range last.Usage {
		if u.Ended {
			continue // not part of this run (an earlier runner)
		}
		if f, ok := first.Find(u); ok && u.Descriptors-f.Descriptors > 16 {
			errs = append(errs, fmt.Errorf("%s: %d open descriptors after %d findings, %d after %d", u.Name, f.Descriptors, first.Done, u.Descriptors, last.Done))
		}
		if m, ok := mid.Find(u); ok && t.N >= FlatMemoryFrom && u.Name != demo.SelfName && u.RSS > m.RSS+m.RSS/10+4<<20 {
			errs = append(errs, fmt.Errorf("%s: resident memory %.1f MB after %d findings, %.1f MB after %d", u.Name,
				float64(m.RSS)/(1<<20), mid.Done, float64(u.RSS)/(1<<20), last.Done))
		}
	}
	if last.Goroutines-first.Goroutines > 64 {
		errs = append(errs, fmt.Errorf("%s: %d goroutines after %d findings, %d after %d", demo.SelfName, first.Goroutines, first.Done, last.Goroutines, last.Done))
	}
	if per := t.HeapGrowthPerFinding(); t.N >= FlatMemoryFrom && per > HeapPerFinding {
		errs = append(errs, fmt.Errorf("%s: live heap grew %.1f KB per finding, more than kumo's stored data (%d KB)", demo.SelfName, per/1024, HeapPerFinding>>10))
	}
	return errors.Join(errs...)
}

// FlatMemoryFrom is the smallest run whose memory Flat checks; HeapPerFinding the most this process's
// live heap may grow per finding (twice what kumo's stored data measured).
const (
	FlatMemoryFrom = 2000
	HeapPerFinding = 64 << 10
)

// HeapGrowthPerFinding is how many bytes this process's live heap grew per finding from the first
// checkpoint to the last.
func (t Throughput) HeapGrowthPerFinding() float64 {
	cps := t.Checkpoints
	if len(cps) < 2 || cps[len(cps)-1].Done == cps[0].Done {
		return 0
	}
	first, last := cps[0], cps[len(cps)-1]
	return float64(int64(last.HeapLive)-int64(first.HeapLive)) / float64(last.Done-first.Done)
}

// Find is the figures of u's process (same name and pid) at c.
func (c Checkpoint) Find(u procwatch.Usage) (procwatch.Usage, bool) {
	for _, v := range c.Usage {
		if v.Name == u.Name && v.PID == u.PID {
			return v, true
		}
	}
	return procwatch.Usage{}, false
}
