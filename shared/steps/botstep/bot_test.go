package botstep

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

type fakeResolver struct {
	calls []string
	err   error
}

func (r *fakeResolver) ForBot(_ context.Context, bot, findingID, account, region, partition string) (aws.Config, string, error) {
	r.calls = append(r.calls, strings.Join([]string{bot, findingID, account, region, partition}, " "))
	return aws.Config{Region: region}, "arn:aws:iam::" + account + ":role/guardbots-" + bot, r.err
}

func testBot(run func(context.Context, bots.Request) (bots.Result, error)) bots.Bot {
	return bots.Bot{
		Name: "test_bot", Summary: "test", Impact: bots.ImpactDisruptive,
		Resources:  []finding.ResourceKind{finding.KindInstance},
		Targets:    []finding.TargetKind{finding.TargetInstance},
		Params:     []bots.Param{{Name: "force", Type: bots.TypeBool, Default: false}},
		Operations: []string{"ec2:StopInstances"},
		Run:        run,
	}
}

func ec2Finding() *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: "444455556666", Region: "eu-west-1", Partition: "aws",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-00000001"}}
}

// targetsOf is the finding's targets, as the runner resolves them.
func targetsOf(t *testing.T, f *finding.Finding) []finding.Target {
	t.Helper()
	ts, err := finding.Targets(f)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestBotRunner_RunsInFindingAccountWithValidatedParams(t *testing.T) {
	var got bots.Request
	r := &fakeResolver{}
	runner := Runner{Resolver: r, Bot: testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
		got = req
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	res, err := runner.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Execution: "arn:x",
		Action: mapping.Action{Bot: "test_bot", Params: map[string]any{"force": true}, Mode: "AUTO"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 || r.calls[0] != "test_bot f1 444455556666 eu-west-1 aws" {
		t.Errorf("resolver calls = %q", r.calls)
	}
	if !got.Params.Bool("force") || got.DryRun || got.AWS.Region != "eu-west-1" || got.Execution != "arn:x" {
		t.Errorf("request = %+v", got)
	}
	if res.Bot != "test_bot" || res.Account != "444455556666" || res.Role != "arn:aws:iam::444455556666:role/guardbots-test_bot" {
		t.Errorf("result = %+v", res)
	}
}

func TestBotRunner_DryRunFromModeInputOrSwitch(t *testing.T) {
	for name, tc := range map[string]struct {
		runner Runner
		in     steps.BotInput
	}{
		"mode":   {Runner{}, steps.BotInput{Action: mapping.Action{Bot: "test_bot", Mode: "DRYRUN"}}},
		"input":  {Runner{}, steps.BotInput{DryRun: true, Action: mapping.Action{Bot: "test_bot", Mode: "AUTO"}}},
		"switch": {Runner{DryRun: true}, steps.BotInput{Action: mapping.Action{Bot: "test_bot", Mode: "AUTO"}}},
	} {
		t.Run(name, func(t *testing.T) {
			var dry bool
			tc.runner.Resolver = &fakeResolver{}
			tc.runner.Bot = testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
				dry = req.DryRun
				return bots.Result{Status: bots.StatusDryRun}, nil
			})
			tc.in.Finding = ec2Finding()
			res, err := tc.runner.Run(context.Background(), tc.in)
			if err != nil || !dry || !res.DryRun {
				t.Fatalf("dry=%v result=%+v err=%v", dry, res, err)
			}
		})
	}
}

func TestBotRunner_RefusesInputsItShouldNotTrust(t *testing.T) {
	runner := Runner{Resolver: &fakeResolver{}, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		t.Fatal("bot ran")
		return bots.Result{}, nil
	})}
	for name, in := range map[string]steps.BotInput{
		"other bot":     {Finding: ec2Finding(), Action: mapping.Action{Bot: "ec2_terminate_instance"}},
		"no finding":    {Action: mapping.Action{Bot: "test_bot"}},
		"unknown param": {Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot", Params: map[string]any{"instanceId": "i-00000002"}}},
		"bad param":     {Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot", Params: map[string]any{"force": "maybe"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runner.Run(context.Background(), in)
			if faults.Classify(err) != faults.Rejected {
				t.Fatalf("err = %v (%s), want a rejection", err, faults.Classify(err))
			}
		})
	}
}

func TestBotRunner_SkipsFindingOfAnotherResourceKind(t *testing.T) {
	r := &fakeResolver{}
	runner := Runner{Resolver: r, Bot: testBot(nil)}
	f := ec2Finding()
	f.ResourceKind = finding.KindS3Bucket
	res, err := runner.Run(context.Background(), steps.BotInput{Finding: f, Action: mapping.Action{Bot: "test_bot"}})
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "S3Bucket") {
		t.Fatalf("result = %+v, err = %v", res, err)
	}
	if len(r.calls) != 0 {
		t.Error("credentials were resolved for a skipped action")
	}
}

func TestBotRunner_FailuresAreErrorsWithContextNeverResults(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}
	runner := Runner{Resolver: &fakeResolver{err: faults.Fail(denied)}, Bot: testBot(nil)}
	_, err := runner.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot"}})
	if err == nil || !strings.Contains(err.Error(), "444455556666") || faults.Classify(err) != faults.Failed {
		t.Fatalf("assume failure: %v (%s)", err, faults.Classify(err))
	}
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	runner = Runner{Resolver: &fakeResolver{}, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		return bots.Result{}, throttled
	})}
	_, err = runner.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot"}})
	if faults.Classify(err) != faults.Throttled || !strings.Contains(err.Error(), "test_bot on finding f1") {
		t.Fatalf("bot throttle: %v (%s)", err, faults.Classify(err))
	}
}

// memState is an in-memory StateStore.
type memState map[string][]byte

func (m memState) Put(_ context.Context, k string, v []byte) error { m[k] = v; return nil }
func (m memState) Get(_ context.Context, k string) ([]byte, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}
func (m memState) Delete(_ context.Context, k string) error { delete(m, k); return nil }

func TestBotRunner_OnErrorStopSkipsOnlyTheActionsAfterTheFailedOne(t *testing.T) {
	state := memState{}
	fail := true
	runner := Runner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
		if fail {
			return bots.Result{}, faults.Fail(errors.New("boom"))
		}
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	in := func(i int, onError mapping.OnError) steps.BotInput {
		return steps.BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: i,
			Action: mapping.Action{Bot: "test_bot", OnError: onError, Mode: "AUTO"}}
	}
	// Action 0 fails with onError stop: its error is returned, and action 1 of the same execution is skipped.
	if _, err := runner.Run(context.Background(), in(0, mapping.Stop)); err == nil {
		t.Fatal("action 0 did not fail")
	}
	fail = false
	res, err := runner.Run(context.Background(), in(1, mapping.Continue))
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "action 1 (test_bot) failed and its onError is stop") {
		t.Fatalf("action 1 = %+v, %v", res, err)
	}
	// Another execution is not affected.
	other := in(1, mapping.Continue)
	other.Execution = "arn:exec:2"
	if res, err := runner.Run(context.Background(), other); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("other execution = %+v, %v", res, err)
	}
}

func TestBotRunner_OnErrorStopIsClearedWhenTheRetrySucceeds(t *testing.T) {
	state := memState{}
	attempts := 0
	runner := Runner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		attempts++
		if attempts == 1 {
			return bots.Result{}, &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
		}
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	first := steps.BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: 0, Action: mapping.Action{Bot: "test_bot", OnError: mapping.Stop}}
	if _, err := runner.Run(context.Background(), first); faults.Classify(err) != faults.Throttled {
		t.Fatalf("first attempt: %v", err)
	}
	// The state machine's Retry runs the same action (same index) again: it runs, and clears the record.
	if res, err := runner.Run(context.Background(), first); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if len(state) != 0 {
		t.Fatalf("stop record left after a successful retry: %v", state)
	}
	next := first
	next.Index, next.Action.OnError = 1, mapping.Continue
	if res, err := runner.Run(context.Background(), next); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("next action = %+v, %v", res, err)
	}
}

func TestBotRunner_OnErrorContinueLeavesNoStopRecord(t *testing.T) {
	state := memState{}
	runner := Runner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		return bots.Result{}, faults.Fail(errors.New("boom"))
	})}
	_, err := runner.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Execution: "arn:exec:1",
		Action: mapping.Action{Bot: "test_bot", OnError: mapping.Continue}})
	if err == nil || len(state) != 0 {
		t.Fatalf("err = %v, state = %v", err, state)
	}
}

func TestBotRunner_OnErrorStopIsRecordedWhenARailFailsBeforeTheBot(t *testing.T) {
	state := memState{}
	runner := Runner{Resolver: &fakeResolver{}, State: state,
		Rails: Rails{Exempt: func(context.Context, aws.Config, []finding.Target) (exempt.Verdict, error) {
			return exempt.Verdict{}, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no ec2:DescribeTags"}
		}},
		Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
			t.Fatal("the bot ran although its exemption could not be read")
			return bots.Result{}, nil
		})}
	in := steps.BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: 0, Action: mapping.Action{Bot: "test_bot", OnError: mapping.Stop}}
	if _, err := runner.Run(context.Background(), in); faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v", err)
	}
	if _, ok := state[stopKey("arn:exec:1")]; !ok {
		t.Fatal("no stop record after the exemption read failed")
	}
}

func TestHandler_FailsInitForAnUnknownBot(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	if _, err := Handler(t.Context(), "no_such_bot"); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("unknown bot: err %v", err)
	}
}

// A bot declared otherwise than its catalogue entry (here: none) has an IAM policy and a state machine
// branch generated from another declaration: its Lambda fails its init instead of running.
func TestHandler_FailsInitForABotTheCatalogueDoesNotMatch(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test") // the execution role's, as Lambda sets them
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(deployment.EnvSigningKey, "arn:aws:kms:us-east-1:111122223333:key/k")
	t.Setenv(deployment.EnvStateMachineArn, "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation")
	bots.Register(bots.Bot{Name: "uncatalogued_bot", Summary: "s", Impact: bots.ImpactNone,
		Resources: []finding.ResourceKind{finding.KindInstance},
		Run:       func(context.Context, bots.Request) (bots.Result, error) { return bots.Result{}, nil }})
	if _, err := Handler(t.Context(), "uncatalogued_bot"); err == nil || !strings.Contains(err.Error(), "not in the bot catalogue") {
		t.Errorf("uncatalogued bot: err %v", err)
	}
	if _, err := Handler(t.Context(), "notify_only"); err != nil {
		t.Errorf("a catalogued bot: %v", err)
	}
}

func TestBotRunner_RefusesABotThatChangesSomethingButNamesNoTarget(t *testing.T) {
	b := testBot(func(context.Context, bots.Request) (bots.Result, error) {
		t.Fatal("a bot with no target ran: the exemption rail would have read nothing")
		return bots.Result{}, nil
	})
	b.Targets = nil
	_, err := Runner{Resolver: &fakeResolver{}, Bot: b}.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot"}})
	if faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "declares no kind of target") {
		t.Fatalf("err = %v, want a failure", err)
	}
}

// A bot Lambda without the signing key or the state machine cannot tell a plan the workflow signed
// from one it did not: it does not start.
func TestHandler_FailsInitWithoutThePlanCheck(t *testing.T) {
	for _, unset := range []string{deployment.EnvSigningKey, deployment.EnvStateMachineArn} {
		t.Setenv("AWS_REGION", "us-east-1")
		t.Setenv("AWS_ACCESS_KEY_ID", "test") // the execution role's, as Lambda sets them
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		t.Setenv(deployment.EnvStateTable, "state")
		t.Setenv(deployment.EnvSigningKey, "arn:aws:kms:us-east-1:111122223333:key/k")
		t.Setenv(deployment.EnvStateMachineArn, "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation")
		t.Setenv(unset, "")
		if _, err := Handler(t.Context(), "ec2_stop_instance"); err == nil || !strings.Contains(err.Error(), unset) {
			t.Errorf("without %s: err %v", unset, err)
		}
	}
	t.Setenv(deployment.EnvSigningKey, "arn:aws:kms:us-east-1:111122223333:key/k")
	t.Setenv(deployment.EnvStateMachineArn, "arn:aws:states:us-east-1:111122223333:stateMachine:guardbots-remediation")
	if _, err := Handler(t.Context(), "ec2_stop_instance"); err != nil {
		t.Errorf("with both: %v", err)
	}
}
