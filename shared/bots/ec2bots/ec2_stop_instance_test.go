package ec2bots

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// stopEnv is a kumo server with one running instance and a recorder on every client.
type stopEnv struct {
	cfg aws.Config
	rec *bottest.Recorder
	id  string
}

func newStopEnv(t *testing.T, stubs ...func(*middleware.Stack) error) stopEnv {
	t.Helper()
	srv := bottest.NewKumo(t)
	rec := bottest.NewRecorder("ec2_stop_instance")
	setup := ec2.NewFromConfig(bottest.Config(srv.URL))
	out, err := setup.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("kumo RunInstances: %v", err)
	}
	return stopEnv{
		cfg: bottest.Config(srv.URL, append([]func(*middleware.Stack) error{rec.Option}, stubs...)...),
		rec: rec,
		id:  aws.ToString(out.Instances[0].InstanceId),
	}
}

func (e stopEnv) request(dryRun bool, params bots.Params) bots.Request {
	return bots.Request{
		Finding: &finding.Finding{
			ID: "60baffd3f9042e38640f2300d5c5a631", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
			AccountID: bottest.Account, Region: bottest.Region, Partition: "aws",
			ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: e.id, State: "running"},
		},
		Params:    params,
		DryRun:    dryRun,
		AWS:       e.cfg,
		Execution: bottest.Execution,
	}
}

// state reads the instance back from kumo, without the recorder.
func (e stopEnv) state(t *testing.T) ec2types.InstanceStateName {
	t.Helper()
	cfg := e.cfg.Copy()
	cfg.APIOptions = nil
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{e.id}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Reservations[0].Instances[0].State.Name
}

func TestEC2StopInstance_StopsRunningInstanceAndTagsIt(t *testing.T) {
	var tagged *ec2.CreateTagsInput
	var stopped *ec2.StopInstancesInput
	// Observe (without answering) the StopInstances and CreateTags requests: kumo does not return
	// tags from DescribeInstances, so the request is the evidence.
	observe := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("observe", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			switch p := in.Parameters.(type) {
			case *ec2.CreateTagsInput:
				tagged = p
			case *ec2.StopInstancesInput:
				stopped = p
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
	e := newStopEnv(t, observe)
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusRemediated {
		t.Fatalf("status = %s (%s), want remediated", res.Status, res.Reason)
	}
	if got := e.state(t); got != ec2types.InstanceStateNameStopped && got != ec2types.InstanceStateNameStopping {
		t.Errorf("instance is %s after the bot ran, want stopped or stopping", got)
	}
	if res.Before["state"] != "running" || (res.After["state"] != "stopped" && res.After["state"] != "stopping") {
		t.Errorf("before %v after %v", res.Before, res.After)
	}
	if res.Account != bottest.Account || res.Region != bottest.Region || !slices.Equal(res.Resources, []string{e.id}) {
		t.Errorf("result does not say where it acted: %+v", res)
	}
	if stopped == nil || aws.ToBool(stopped.Force) {
		t.Errorf("StopInstances input %+v, want an unforced stop", stopped)
	}
	if tagged == nil {
		t.Fatal("the instance was not tagged")
	}
	tags := map[string]string{}
	for _, tg := range tagged.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	want := map[string]string{bots.TagFindingID: "60baffd3f9042e38640f2300d5c5a631", bots.TagBot: "ec2_stop_instance", bots.TagExecution: bottest.Execution}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if !slices.Equal(tagged.Resources, []string{e.id}) {
		t.Errorf("tagged %v, want %s", tagged.Resources, e.id)
	}
}

func TestEC2StopInstance_ForceParameterIsSent(t *testing.T) {
	var stopped *ec2.StopInstancesInput
	e := newStopEnv(t, bottest.StubCall("ec2:StopInstances", func(in any) (any, error) {
		stopped = in.(*ec2.StopInstancesInput)
		return &ec2.StopInstancesOutput{}, nil
	}))
	b, _ := bots.Lookup("ec2_stop_instance")
	p, err := b.ParsePositional([]string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bottest.Run(t, "ec2_stop_instance", e.request(false, p)); err != nil {
		t.Fatal(err)
	}
	if stopped == nil || !aws.ToBool(stopped.Force) {
		t.Errorf("StopInstances input %+v, want Force=true", stopped)
	}
}

func TestEC2StopInstance_SecondRunIsAlreadyDone(t *testing.T) {
	e := newStopEnv(t)
	if _, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil)); err != nil {
		t.Fatal(err)
	}
	before := len(e.rec.Ops())
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone {
		t.Fatalf("second run status = %s, want already-done", res.Status)
	}
	if ops := e.rec.Ops()[before:]; !slices.Equal(ops, []string{"ec2:DescribeInstances"}) {
		t.Errorf("second run called %v, want only a read", ops)
	}
}

func TestEC2StopInstance_DryRunChangesNothing(t *testing.T) {
	e := newStopEnv(t)
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(true, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusDryRun || !res.DryRun {
		t.Fatalf("status = %s, want dry-run", res.Status)
	}
	if want := []string{"would stop " + e.id + " (running)"}; !slices.Equal(res.Changes, want) {
		t.Errorf("changes = %q, want %q", res.Changes, want)
	}
	if got := e.state(t); got != ec2types.InstanceStateNameRunning {
		t.Errorf("dry run left the instance %s, want running", got)
	}
	if ops := e.rec.Distinct(); !slices.Equal(ops, []string{"ec2:DescribeInstances"}) {
		t.Errorf("dry run called %v, want only DescribeInstances", ops)
	}
}

func TestEC2StopInstance_MissingInstanceIsSkipped(t *testing.T) {
	e := newStopEnv(t)
	req := e.request(false, nil)
	req.Finding.Instance.ID = "i-0123456789abcdef0"
	res, err := bottest.Run(t, "ec2_stop_instance", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusSkipped || res.Reason != "instance i-0123456789abcdef0 no longer exists" {
		t.Errorf("result = %s %q, want skipped because it no longer exists", res.Status, res.Reason)
	}
}

func TestEC2StopInstance_EmptyReservationIsSkipped(t *testing.T) {
	e := newStopEnv(t, bottest.StubCall("ec2:DescribeInstances", func(any) (any, error) {
		return &ec2.DescribeInstancesOutput{}, nil
	}))
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("result = %+v, err %v; want skipped", res, err)
	}
}

func TestEC2StopInstance_TerminatedInstanceIsSkippedWithItsState(t *testing.T) {
	e := newStopEnv(t)
	if _, err := ec2.NewFromConfig(bottest.Config(aws.ToString(e.cfg.BaseEndpoint))).TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{e.id}}); err != nil {
		t.Fatal(err)
	}
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "terminated") && !strings.Contains(res.Reason, "shutting-down") {
		t.Errorf("result = %s %q, want skipped naming the state", res.Status, res.Reason)
	}
}

func TestEC2StopInstance_AccessDeniedIsAFailedError(t *testing.T) {
	e := newStopEnv(t, bottest.StubError("ec2:StopInstances", "UnauthorizedOperation", "You are not authorized to perform this operation."))
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err == nil {
		t.Fatalf("got result %+v, want an error", res)
	}
	if k := faults.Classify(err); k != faults.Failed {
		t.Errorf("Classify = %s, want %s", k, faults.Failed)
	}
	for _, want := range []string{e.id, bottest.Account, bottest.Region, "UnauthorizedOperation"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if got := e.state(t); got != ec2types.InstanceStateNameRunning {
		t.Errorf("instance is %s, want untouched", got)
	}
}

func TestEC2StopInstance_ThrottlingIsAThrottledError(t *testing.T) {
	e := newStopEnv(t, bottest.StubError("ec2:DescribeInstances", "RequestLimitExceeded", "Request limit exceeded."))
	_, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if k := faults.Classify(err); k != faults.Throttled {
		t.Errorf("Classify(%v) = %s, want %s", err, k, faults.Throttled)
	}
}

func TestEC2StopInstance_TaggingFailureIsAnErrorThatSaysItStopped(t *testing.T) {
	e := newStopEnv(t, bottest.StubError("ec2:CreateTags", "UnauthorizedOperation", "not authorized"))
	_, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err == nil || !strings.Contains(err.Error(), "was stopped but tagging it failed") {
		t.Fatalf("err = %v, want a tagging failure that says the instance was stopped", err)
	}
}

func TestEC2StopInstance_MalformedInstanceIDIsRejected(t *testing.T) {
	e := newStopEnv(t)
	req := e.request(false, nil)
	req.Finding.Instance.ID = "i-99999999; rm -rf"
	_, err := bottest.Run(t, "ec2_stop_instance", req)
	if faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v, want a rejection", err)
	}
	if len(e.rec.Ops()) != 0 {
		t.Errorf("called AWS with a malformed id: %v", e.rec.Ops())
	}
}

func TestEC2StopInstance_OtherResourceKindIsSkipped(t *testing.T) {
	e := newStopEnv(t)
	req := e.request(false, nil)
	req.Finding.ResourceKind, req.Finding.Instance = finding.KindAccessKey, nil
	res, err := bottest.Run(t, "ec2_stop_instance", req)
	if err != nil || res.Status != bots.StatusSkipped {
		t.Errorf("result %+v, err %v; want skipped", res, err)
	}
}

// The bot calls exactly what it declares: every recorded operation is declared, and every declared
// operation is exercised by some path (the permissions test generalizes this to every bot).
func TestEC2StopInstance_OperationsMatchDeclaration(t *testing.T) {
	b, _ := bots.Lookup("ec2_stop_instance")
	seen := map[string]bool{}
	for _, dry := range []bool{false, true, false} { // stop, dry run (already done), already done
		e := newStopEnv(t)
		if _, err := bottest.Run(t, "ec2_stop_instance", e.request(dry, nil)); err != nil {
			t.Fatal(err)
		}
		for _, op := range e.rec.Ops() {
			seen[op] = true
		}
	}
	for op := range seen {
		if !slices.Contains(b.Operations, op) {
			t.Errorf("called %s, which is not declared in Operations %v", op, b.Operations)
		}
	}
	for _, op := range b.Operations {
		// The runner's exemption read (added by Register) is exercised by shared/exempt's tests.
		if !seen[op] && !slices.Contains(b.ExemptionOperations, op) {
			t.Errorf("declared %s but never called it", op)
		}
		if acts, ok := bots.OperationActions(op); !ok || slices.ContainsFunc(acts, func(a string) bool { return strings.Contains(a, "*") }) {
			t.Errorf("%s maps to %v: want exact IAM actions", op, acts)
		}
	}
}

func TestEC2StopInstance_StoppedByOthersMeanwhileIsAlreadyDone(t *testing.T) {
	describes := 0
	e := newStopEnv(t,
		bottest.StubCall("ec2:DescribeInstances", func(in any) (any, error) {
			describes++
			state := ec2types.InstanceStateNameRunning
			if describes > 1 {
				state = ec2types.InstanceStateNameStopping
			}
			id := in.(*ec2.DescribeInstancesInput).InstanceIds[0]
			return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: []ec2types.Instance{{
				InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: state},
			}}}}}, nil
		}),
		bottest.StubError("ec2:StopInstances", "IncorrectInstanceState", "The instance is not in a state from which it can be stopped."),
	)
	res, err := bottest.Run(t, "ec2_stop_instance", e.request(false, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusAlreadyDone || res.After["state"] != "stopping" {
		t.Errorf("result = %s %v, want already-done, stopping", res.Status, res.After)
	}
	if slices.Contains(e.rec.Ops(), "ec2:CreateTags") {
		t.Error("tagged an instance this run did not stop")
	}
}
