package health

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/plan"
)

// fakeStates runs one execution: RUNNING for polls describes, then status with output.
type fakeStates struct {
	input  string
	polls  int
	status sfntypes.ExecutionStatus
	output string
}

func (f *fakeStates) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.input = aws.ToString(in.Input)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:us-east-1:111122223333:execution:guardbots-member-health:manual-1")}, nil
}

func (f *fakeStates) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if f.polls > 0 {
		f.polls--
		return &sfn.DescribeExecutionOutput{Status: sfntypes.ExecutionStatusRunning}, nil
	}
	return &sfn.DescribeExecutionOutput{Status: f.status, Output: aws.String(f.output), Error: aws.String("States.TaskFailed"), Cause: aws.String("ListAccounts denied")}, nil
}

func TestCommand_WaitsForTheReportAndPrintsEveryProblemWithWhatToInspect(t *testing.T) {
	rep := Report{Accounts: []string{"444455556666", "555566667777"}, Counts: map[string]int{"ok": 1, "denied": 1, "throttled": 1, "error": 1},
		Bots: []plan.ProbeReport{{Bot: "ec2_stop_instance"}, {Bot: "iam_deactivate_access_key"}},
		Problems: []Problem{
			{Bot: "ec2_stop_instance", Account: "444455556666", State: "denied", Detail: "AccessDenied", Inspect: "inspect the stack instance of StackSet gb-member-roles for account 444455556666"},
			{Bot: "iam_deactivate_access_key", Account: "444455556666", State: "throttled", Detail: "Throttling", Inspect: "STS throttled"},
			{Bot: "iam_deactivate_access_key", Account: "555566667777", State: "error", Detail: "RegionDisabledException", Inspect: "see detail"},
		}, Skipped: []Skipped{{Account: "777788889999", State: "SUSPENDED"}}}
	out, _ := json.Marshal(rep)
	f := &fakeStates{polls: 2, status: sfntypes.ExecutionStatusSucceeded, output: string(out)}
	got, exec, err := StartAndWait(context.Background(), f, "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-member-health", []string{"444455556666", "555566667777"}, time.Millisecond)
	if err != nil || !strings.HasSuffix(exec, ":manual-1") || f.input != `{"accounts":["444455556666","555566667777"]}` {
		t.Fatalf("StartAndWait = %v, %q, input %s", err, exec, f.input)
	}
	var b bytes.Buffer
	if err := Print(&b, got); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"2 bots × 2 accounts: 1 ok, 1 denied, 1 throttled, 1 error", "not probed: account 777788889999 is SUSPENDED",
		"denied     444455556666  ec2_stop_instance", "throttled  444455556666  iam_deactivate_access_key", "error      555566667777",
		"· inspect the stack instance of StackSet gb-member-roles for account 444455556666", "· STS throttled"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	ok := Report{Accounts: []string{"444455556666"}, Counts: map[string]int{"ok": 1}, Bots: []plan.ProbeReport{{Bot: "b"}}, OK: true}
	b.Reset()
	_ = Print(&b, ok)
	if !strings.Contains(b.String(), "every bot can reach its member role in every account") {
		t.Errorf("ok output: %s", b.String())
	}
}

func TestCommand_AFailedCheckIsAnErrorWithItsCause(t *testing.T) {
	f := &fakeStates{status: sfntypes.ExecutionStatusFailed}
	_, _, err := StartAndWait(context.Background(), f, "arn:sm", nil, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "FAILED") || !strings.Contains(err.Error(), "ListAccounts denied") || f.input != "{}" {
		t.Errorf("err = %v, input %s", err, f.input)
	}
}
