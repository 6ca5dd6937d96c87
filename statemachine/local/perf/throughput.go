package perf

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
	"github.com/guardbots/guardbots/statemachine/local/demo"
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
	r, err := newStackRunner(ctx, stack, tools)
	if err != nil {
		return out, err
	}
	defer r.Close()
	// Drain what earlier runs left so every notification counted below is this run's.
	if _, err := stack.Receive(ctx); err != nil {
		return out, err
	}

	arns := make([]string, n)
	results := make([]Result, n)
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				job, arn, err := stack.Prepare(ctx, fmt.Sprintf("tp-%d", i), events[i], demo.RunOptions{})
				if err == nil {
					arns[i] = arn
					results[i], err = r.Run(ctx, job)
				}
				if err == nil {
					err = stack.Finish(ctx, arn)
				}
				errs[i] = err
				stack.TakeInvokes() // not needed here; keeps the proxy's log from growing
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	out.Elapsed = time.Since(start)
	out.PerSecond = float64(n) / out.Elapsed.Seconds()
	for i := range n {
		if errs[i] != nil {
			return out, fmt.Errorf("finding %d: %w", i, errs[i])
		}
		if results[i].Status == "SUCCEEDED" {
			out.Succeeded++
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
