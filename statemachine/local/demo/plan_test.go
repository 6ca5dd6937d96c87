package demo

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// The signed plan end to end: verify signs with the key in kumo's KMS, each bot checks the signature
// with its public half and DescribeExecution answers from kumo. Then the attacks on the real bootstraps,
// through kumo's Lambda API as lambda:InvokeFunction would: a bot's input read from the execution
// (history, logs) and replayed after the execution ended, and the same input with the plan taken out or
// the finding swapped. The instance stays running and no audit record is added.
func TestWorkflow_SignedPlanRunsAndItsReplayOrForgeryByDirectInvokeChangesNothing(t *testing.T) {
	s := newStack(t, Options{})
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	if ex.Status != "SUCCEEDED" || oneNotification(t, ex).Outcome != "remediated" || readBack(t, s).Instance != "stopped" {
		t.Fatalf("the signed plan did not run: %s, calls %v", ex.Status, ex.Calls())
	}
	var stop steps.BotInput
	for _, in := range ex.Invokes {
		if in.Function == "ec2_stop_instance" {
			if err := json.Unmarshal(in.Input, &stop); err != nil {
				t.Fatal(err)
			}
		}
	}
	if stop.Action.Signature == nil || stop.Execution != ex.ARN || !strings.Contains(ex.ARN, ":execution:"+StateMachineName+":") {
		t.Fatalf("ec2_stop_instance was given %+v in execution %s", stop.Action, ex.ARN)
	}
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(s.AWS)
	if _, err := ec2c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{s.Resources.InstanceID}}); err != nil {
		t.Fatal(err)
	}
	records := len(s.auditOf(t, stop.Finding.ID))
	attack := func(what string, in steps.BotInput, wantMessage string) {
		t.Helper()
		b, _ := json.Marshal(in)
		out, err := s.Host.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ec2_stop_instance"), Payload: b})
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(out.Payload, &e)
		if out.FunctionError == nil || e.ErrorType != "Guardbots.Rejected" || !strings.Contains(e.ErrorMessage, wantMessage) {
			t.Errorf("%s: %s", what, out.Payload)
		}
		d, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{s.Resources.InstanceID}})
		if err != nil {
			t.Fatal(err)
		}
		if st := d.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameRunning {
			t.Errorf("%s: the instance is %s", what, st)
		}
		if n := len(s.auditOf(t, stop.Finding.ID)); n != records {
			t.Errorf("%s: %d audit records, was %d", what, n, records)
		}
	}
	attack("the workflow's own input, replayed after its execution ended", stop, "ABORTED, not running")
	unsigned := stop
	unsigned.Action = stop.Action
	unsigned.Action.Signature = nil
	attack("the input with its signature taken out", unsigned, "no signature")
	forced := stop
	forced.Action.Params = map[string]any{"force": true}
	attack("the input with force added", forced, "does not match")
	approved := stop
	approved.Action.Mode, approved.Action.Approval = string(mapping.ModeApprove), &mapping.Approval{Approved: true, Approver: "mallory"}
	attack("the input turned into an approved APPROVE action", approved, "does not match")
}

func (s *Stack) auditOf(t *testing.T, findingID string) []string {
	t.Helper()
	recs, err := s.AuditRecords(context.Background(), findingID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Bot + " " + r.Status
	}
	return out
}
