package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// The perf harness runs many executions in one long-lived Node process, some concurrently, which Run
// (one Node process per execution, one execution at a time) cannot do. These hooks give it the pieces
// Run is made of, unchanged.

// Prepare holds event's finding in the GuardDuty stand-in (verify re-reads it), starts the execution's
// record in kumo (Finish ends it) and returns the job Run would execute for it, Env included (the timing
// proxy to kumo), with the execution's ARN.
func (s *Stack) Prepare(ctx context.Context, name string, event []byte, opts RunOptions) (aslrun.Job, string, error) {
	var input any
	if err := json.Unmarshal(event, &input); err != nil {
		input = string(event)
	}
	name = executionName(name)
	arn, contextObject, err := s.startExecution(ctx, name)
	if err != nil {
		return aslrun.Job{}, "", err
	}
	s.publish(event, opts)
	job := aslrun.Job{
		Definition:     s.Definition,
		Input:          input,
		Context:        contextObject,
		InstantRetries: opts.InstantRetries,
		Env:            append(append([]string{}, childEnv...), "AWS_ENDPOINT_URL_LAMBDA="+s.proxy.URL(), "AWS_ENDPOINT_URL="+s.proxy.URL()),
	}
	return job, arn, nil
}

// Finish ends the kumo record of an execution Prepare started: its plans can no longer act.
func (s *Stack) Finish(ctx context.Context, arn string) error { return s.Plans.Stop(ctx, arn) }

// startExecution starts the execution's record in kumo — the guardbots state machine kumo holds a
// placeholder of, so that DescribeExecution answers RUNNING on it while aws-local-stepfunctions runs the
// definition — and returns its ARN and the context object ($$) the run gives the workflow.
func (s *Stack) startExecution(ctx context.Context, name string) (string, map[string]any, error) {
	arn, err := s.Plans.Start(ctx, name)
	if err != nil {
		return "", nil, fmt.Errorf("demo: %w", err)
	}
	now := time.Now()
	return arn, map[string]any{
		"Execution": map[string]any{
			"Id": arn, "Name": name, "StartTime": now.UTC().Format(time.RFC3339Nano),
			"RoleArn": fmt.Sprintf("arn:%s:iam::%s:role/%s", Partition, Account, StateMachineName),
		},
		"StateMachine": map[string]any{"Id": s.Plans.StateMachineArn, "Name": StateMachineName},
		// One static State.EnteredTime for the whole run (aslrun.StaticState): an approval's wait reads 0 s
		// locally.
		"State": aslrun.StaticState(now),
	}, nil
}

// TakeInvokes returns the Lambda invocations the proxy recorded since the last take, and forgets them.
func (s *Stack) TakeInvokes() []Invoke {
	s.guardDuty.take()
	s.iamShim.take()
	s.orgs.take()
	return s.proxy.take()
}

// Receive drains the subscriber queue (waiting up to 2 s for a first message, as Run does).
func (s *Stack) Receive(ctx context.Context) ([]Notification, error) { return s.receive(ctx) }

// TakeAPICalls returns the AWS API calls the bootstraps made to kumo (IAM's through the shim included)
// since the last take, and forgets them; nil unless the stack was started with Options.CountAPICalls.
// GuardDuty's calls and the IAM tag reads the shim answers itself are in Execution.StandIns.
func (s *Stack) TakeAPICalls() []APICall {
	if s.calls == nil {
		return nil
	}
	return s.calls.take()
}

// LogBytes is how many bytes each bootstrap has written to stdout and stderr so far (its JSON log
// lines; Lambda's own platform lines are not included).
func (s *Stack) LogBytes() map[string]int {
	return s.Host.LogBytes()
}
