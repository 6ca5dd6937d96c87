package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/health"
)

type stubStates struct {
	started *sfn.StartExecutionInput
	out     health.Report
}

func (s *stubStates) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	s.started = in
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:eu-central-1:111122223333:execution:guardbots-member-health:x")}, nil
}

func (s *stubStates) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	b, _ := json.Marshal(s.out)
	return &sfn.DescribeExecutionOutput{Status: sfntypes.ExecutionStatusSucceeded, Output: aws.String(string(b))}, nil
}

// The health command starts the deployed check and exits 0 when every role is ok, 1 when one is not.
func TestHealth_ExitStatusSaysWhetherEveryRoleIsOK(t *testing.T) {
	stub := &stubStates{}
	orig := healthClients
	t.Cleanup(func() { healthClients = orig })
	healthClients = func(context.Context, string) (health.StatesAPI, string, error) {
		return stub, "arn:aws:states:eu-central-1:111122223333:stateMachine:guardbots-member-health", nil
	}
	stub.out = health.Report{Accounts: []string{"444455556666"}, Counts: map[string]int{"ok": 1}, OK: true}
	if code, out, errs := runCmd(t, "health", "--accounts", "444455556666"); code != 0 || !strings.Contains(out, "every bot can reach") ||
		aws.ToString(stub.started.Input) != `{"accounts":["444455556666"]}` {
		t.Errorf("ok: %d %s %s", code, out, errs)
	}
	stub.out = health.Report{Accounts: []string{"444455556666"}, Counts: map[string]int{"denied": 1},
		Problems: []health.Problem{{Bot: "ec2_stop_instance", Account: "444455556666", State: "denied", Inspect: "inspect StackSet"}}}
	if code, out, _ := runCmd(t, "health"); code != 1 || !strings.Contains(out, "denied") || aws.ToString(stub.started.Input) != "{}" {
		t.Errorf("denied: %d %s", code, out)
	}
}
