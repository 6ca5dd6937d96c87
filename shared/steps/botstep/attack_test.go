package botstep

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
)

// The direct-invoke attacks: whoever may call lambda:InvokeFunction on a bot Lambda sends it a payload of
// their own. Each test performs one through the Lambda handler (the JSON the attacker sends), with the
// real ec2_stop_instance on an instance in kumo, the signing key in kumo's KMS and the guardbots state
// machine's executions in kumo's Step Functions (approvals: an execution history served in AWS's
// documented shape, since no local tool writes one). Each shows the instance still running and no
// audit record written — and, as the control, the workflow's own signed plan stopping it.

// stand is the world of one attack.
type stand struct {
	t        *testing.T
	rails    *railsEnv
	local    *plantest.Local
	ec2      *ec2.Client
	instance string
	// execution is a running execution of the guardbots state machine; ended one that ran and ended.
	execution, ended string
	runner           Runner
	handler          lambda.Handler
}

func newStand(t *testing.T) *stand {
	t.Helper()
	ctx := context.Background()
	e := newRailsEnv(t)
	cfg := kumoConfig(e.srv.URL)
	l, err := plantest.New(ctx, cfg, "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	s := &stand{t: t, rails: e, local: l, ec2: ec2.NewFromConfig(cfg)}
	run, err := s.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	s.instance = aws.ToString(run.Instances[0].InstanceId)
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if s.execution, err = l.Start(ctx, name+"-running"); err != nil {
		t.Fatal(err)
	}
	if s.ended, err = l.Start(ctx, name+"-ended"); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(ctx, s.ended); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop(context.Background(), s.execution) })
	b, _ := bots.Lookup("ec2_stop_instance")
	s.runner = Runner{Bot: b, Resolver: kumoResolver{cfg}, Rails: e.rails(), Plan: l.Verifier()}
	s.handler = steps.Lambda(b.Name, s.runner.Run)
	return s
}

// finding is GuardDuty's copy of a finding about the stand's instance.
func (s *stand) finding() *finding.Finding {
	return &finding.Finding{ID: "7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", Severity: 5,
		AccountID: "111122223333", Region: "us-east-1", Partition: "aws", ResourceKind: finding.KindInstance, ResourceRole: "ACTOR",
		Instance: &finding.Instance{ID: s.instance}}
}

// signed is the workflow's own input for action index of execution: what verify signed and the Map sends.
func (s *stand) signed(execution string, index int, a mapping.Action) steps.BotInput {
	s.t.Helper()
	in := steps.BotInput{Finding: s.finding(), Execution: execution, Index: index, MappingKey: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", Action: a}
	if err := s.local.Sign(context.Background(), &in); err != nil {
		s.t.Fatal(err)
	}
	return in
}

func stopAction(mode string) mapping.Action {
	return mapping.Action{Bot: "ec2_stop_instance", Params: map[string]any{"force": false}, OnError: mapping.Continue, Mode: mode}
}

// invoke sends payload to the bot's Lambda handler, as lambda:InvokeFunction would.
func (s *stand) invoke(payload any) (bots.Result, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	out, err := s.handler.Invoke(context.Background(), b)
	if err != nil {
		return bots.Result{}, err
	}
	var r bots.Result
	if err := json.Unmarshal(out, &r); err != nil {
		s.t.Fatal(err)
	}
	return r, nil
}

func (s *stand) state() ec2types.InstanceStateName {
	s.t.Helper()
	d, err := s.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{s.instance}})
	if err != nil {
		s.t.Fatal(err)
	}
	return d.Reservations[0].Instances[0].State.Name
}

// refused: the invoke failed as a rejection, the instance runs, the audit trail is empty, and the log
// says a plan was rejected (what the alarm counts).
func (s *stand) refused(what string, payload any, logs interface{ String() string }) {
	s.t.Helper()
	_, err := s.invoke(payload)
	if err == nil {
		s.t.Errorf("%s: the bot ran", what)
		return
	}
	// The Lambda boundary names the error (faults.ForLambda): a rejection, never retried.
	var le messages.InvokeResponse_Error
	if !errors.As(err, &le) || le.Type != string(faults.Rejected) {
		s.t.Errorf("%s: err = %#v, want a %s", what, err, faults.Rejected)
	}
	if st := s.state(); st != ec2types.InstanceStateNameRunning {
		s.t.Errorf("%s: the instance is %s", what, st)
	}
	if recs := s.rails.records(s.t, s.finding().ID); len(recs) != 0 {
		s.t.Errorf("%s: audit records %+v", what, recs)
	}
	if logs != nil && !strings.Contains(logs.String(), deployment.EventPlanRejected) {
		s.t.Errorf("%s: no %s in the log", what, deployment.EventPlanRejected)
	}
}

func TestAttack_MadeUpFindingIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	// No signature at all: the finding, the plan and the execution made up.
	s.refused("unsigned", steps.BotInput{Finding: s.finding(), Execution: s.execution, Action: stopAction("AUTO")}, logs)
	// A real signature, taken from a plan for another finding, on a made-up finding about this instance.
	other := s.finding()
	other.ID, other.Instance.ID = "8bd9f52e3c0a5d7b9e4f6a8b0c2d4e62", "i-0fedcba9876543210"
	real := steps.BotInput{Finding: other, Execution: s.execution, Action: stopAction("AUTO")}
	if err := s.local.Sign(context.Background(), &real); err != nil {
		t.Fatal(err)
	}
	forged := real
	forged.Finding = s.finding()
	s.refused("another finding's signature", forged, logs)
	// The signed finding with one field edited (the instance a bot acts on).
	edited := s.signed(s.execution, 0, stopAction("AUTO"))
	edited.Finding.Instance.ID = "i-0123456789abcdef0"
	s.refused("an edited finding", edited, logs)
	// A signature of the attacker's own key.
	own, err := plantest.New(context.Background(), kumoConfig(s.rails.srv.URL), "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	mine := steps.BotInput{Finding: s.finding(), Execution: s.execution, Action: stopAction("AUTO")}
	if err := own.Sign(context.Background(), &mine); err != nil {
		t.Fatal(err)
	}
	s.refused("a signature of another key", mine, logs)

	// The control: the workflow's own plan stops the instance.
	res, err := s.invoke(s.signed(s.execution, 0, stopAction("AUTO")))
	if err != nil || res.Status != bots.StatusRemediated || s.state() != ec2types.InstanceStateNameStopped {
		t.Fatalf("the signed plan: %+v %v, instance %s", res, err, s.state())
	}
}

func TestAttack_ReplayedSignatureFromAnotherExecutionOrActionIndexIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	// Signed for an execution that has ended: replayed there, or carried into the running one.
	old := s.signed(s.ended, 0, stopAction("AUTO"))
	s.refused("replayed after its execution ended", old, logs)
	moved := old
	moved.Execution = s.execution
	s.refused("replayed into another execution", moved, logs)
	// Signed as action 1 (a notify_only, say) and sent as action 0, or the other way round.
	one := s.signed(s.execution, 1, stopAction("AUTO"))
	one.Index = 0
	s.refused("replayed at another action index", one, logs)
	// An execution of another state machine (the role may not even describe it).
	other := s.signed(strings.Replace(s.execution, ":guardbots-remediation:", ":my-own-machine:", 1), 0, stopAction("AUTO"))
	s.refused("an execution of another state machine", other, logs)
}

func TestAttack_SignatureForOtherParamsOrModeIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	in := s.signed(s.execution, 0, stopAction("DRYRUN"))
	in.Action.Mode = "AUTO" // a dry run turned into the real thing
	s.refused("another mode", in, logs)
	in = s.signed(s.execution, 0, stopAction("AUTO"))
	in.Action.Params = map[string]any{"force": true}
	s.refused("other params", in, logs)
	in = s.signed(s.execution, 0, stopAction("AUTO"))
	in.Action.OnError = mapping.Stop
	s.refused("another onError", in, logs)
}

func TestAttack_ExpiredSignatureIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	t0 := time.Now()
	s.local.Now = func() time.Time { return t0.Add(-deployment.ExecutionTimeout - time.Minute) }
	in := s.signed(s.execution, 0, stopAction("AUTO"))
	s.local.Now = nil
	s.refused("signed longer ago than an execution may run", in, logs)
}

// withHistory makes the stand's Step Functions a served history: hist, for its execution.
func (s *stand) withHistory(hist *plantest.History) {
	srv := plantest.NewStatesServer(s.t, s.local.StateMachineArn, 5, hist)
	v := s.local.Verifier()
	v.States = srv.Client()
	s.runner.Plan = v
	s.handler = steps.Lambda(s.runner.Bot.Name, s.runner.Run)
}

func TestAttack_MadeUpApprovalIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	hist := plantest.NewHistory(s.execution)
	hist.Iteration(0, func() {
		hist.Approval(0, map[string]any{"bot": "ec2_stop_instance", "mode": "APPROVE"}, "alice: not today")
	})
	s.withHistory(hist)
	in := s.signed(s.execution, 0, stopAction("APPROVE"))
	s.refused("APPROVE without an approval", in, logs)
	in.Action.Approval = &mapping.Approval{Approved: true, Approver: "alice"}
	s.refused("an approval the history does not show (alice denied it)", in, logs)
}

func TestAttack_MadeUpHeldReasonIsRefused(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	hist := plantest.NewHistory(s.execution)
	hist.Iteration(0, func() {
		hist.Approval(0, map[string]any{"bot": "ec2_stop_instance", "mode": "APPROVE"}, map[string]any{"approved": true, "approver": "alice"})
	})
	s.withHistory(hist)
	in := s.signed(s.execution, 0, stopAction("AUTO"))
	in.Action.Held = "held by the blast-radius limit: made up"
	s.refused("a held reason without an approval", in, logs)
	// alice approved the APPROVE action; a made-up hold with her answer would skip the limit.
	in = s.signed(s.execution, 0, stopAction("APPROVE"))
	in.Action.Held, in.Action.Approval = "held by the blast-radius limit: made up", &mapping.Approval{Approved: true, Approver: "alice"}
	s.refused("alice's APPROVE answer presented as approving a hold", in, logs)
}

// The workflow's own approval, in the history, is honoured: the record names the approver as claimed and
// says where the authenticated identity is.
func TestApproval_InTheHistoryRunsTheActionAndTheAuditSaysWhoClaimedIt(t *testing.T) {
	s := newStand(t)
	hist := plantest.NewHistory(s.execution)
	hist.Iteration(0, func() {
		hist.Approval(0, map[string]any{"bot": "ec2_stop_instance", "mode": "APPROVE"}, map[string]any{"approved": true, "approver": "alice"})
	})
	s.withHistory(hist)
	in := s.signed(s.execution, 0, stopAction("APPROVE"))
	in.Action.Approval = &mapping.Approval{Approved: true, Approver: "alice"}
	res, err := s.invoke(in)
	if err != nil || res.Status != bots.StatusRemediated || s.state() != ec2types.InstanceStateNameStopped {
		t.Fatalf("approved: %+v %v, instance %s", res, err, s.state())
	}
	recs := s.rails.records(t, s.finding().ID)
	if len(recs) != 1 || recs[0].ApproverClaimed != "alice" || !strings.Contains(recs[0].Reason, "approved by alice (claimed)") {
		t.Fatalf("audit %+v", recs)
	}
	for _, want := range []string{"a claim, not authenticated", "states:SendTaskSuccess", "CloudTrail", s.execution} {
		if !strings.Contains(recs[0].Approval, want) {
			t.Errorf("audit approval %q lacks %q", recs[0].Approval, want)
		}
	}
}

// A check that cannot ask Step Functions fails the action without running it (fail closed), and is not
// reported as an attack.
func TestPlan_StepFunctionsUnreachableRunsNothing(t *testing.T) {
	s := newStand(t)
	logs := captureLog(t)
	v := s.local.Verifier()
	// Nothing listens on port 1 of the loopback: every call fails to connect.
	v.States = sfn.NewFromConfig(kumoConfig("http://127.0.0.1:1"))
	s.runner.Plan = v
	s.handler = steps.Lambda(s.runner.Bot.Name, s.runner.Run)
	_, err := s.invoke(s.signed(s.execution, 0, stopAction("AUTO")))
	var le messages.InvokeResponse_Error
	if !errors.As(err, &le) || le.Type != string(faults.Retryable) {
		t.Fatalf("err = %#v, want a %s (the state machine retries it)", err, faults.Retryable)
	}
	if s.state() != ec2types.InstanceStateNameRunning || strings.Contains(logs.String(), deployment.EventPlanRejected) {
		t.Errorf("instance %s; log %s", s.state(), logs.String())
	}
}
