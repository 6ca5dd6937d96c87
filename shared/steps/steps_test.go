package steps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
)

// fixture reads one of the project's own finding events (written for the project; present in every clone).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func defaultMapping(t testing.TB) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse(mapping.Default())
	if err != nil {
		t.Fatalf("default mapping: %v", err)
	}
	return m
}

func TestDecide_SNSWrappedEC2FindingIsRemediatedByStopInstance(t *testing.T) {
	f, d, err := Decide(context.Background(), fixture(t, "envelope_sns_string.json"), defaultMapping(t), mapping.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != "sns" || f.AccountID != "111122223333" {
		t.Errorf("finding source/account = %q/%q", f.Source, f.AccountID)
	}
	if d.Outcome != mapping.Remediate || len(d.Actions) != 2 || d.Actions[1].Bot != "ec2_stop_instance" {
		t.Fatalf("decision = %+v, want remediate with ec2_tag_instance, ec2_stop_instance", d)
	}
}

func TestDecide_RejectsMalformedEventWithRejectedKind(t *testing.T) {
	_, _, err := Decide(context.Background(), []byte(`{"source":"aws.guardduty"`), defaultMapping(t), mapping.MatchOptions{})
	if faults.Classify(err) != faults.Rejected {
		t.Fatalf("error %v classified %q, want %q", err, faults.Classify(err), faults.Rejected)
	}
}

// BenchmarkPipeline is parse → transform → match in one process on a ~9 KB SNS-wrapped EC2 finding:
// the figure compared with CloudBots' 27 µs parse + transform.
func BenchmarkPipeline(b *testing.B) {
	raw := fixture(b, "envelope_sns_string.json")
	m := defaultMapping(b)
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, d, err := Decide(ctx, raw, m, mapping.MatchOptions{}); err != nil || d.Outcome != mapping.Remediate {
			b.Fatal(err, d)
		}
	}
}

func invokeErr(t *testing.T, err error) messages.InvokeResponse_Error {
	t.Helper()
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %T %v is not an InvokeResponse_Error", err, err)
	}
	return ie
}

func TestLambda_NamesErrorsForTheStateMachine(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "slow down"}
	denied := &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no"}
	cases := []struct {
		name string
		err  error
		want faults.Kind
	}{
		{"throttled", throttle, faults.Throttled},
		{"wrapped throttle", errors.Join(errors.New("stop i-1"), throttle), faults.Throttled},
		{"access denied", denied, faults.Failed},
		{"rejection", faults.Rejectf("bad input"), faults.Rejected},
		{"timeout", context.DeadlineExceeded, faults.Retryable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Lambda("test", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, c.err })
			_, err := h.Invoke(context.Background(), []byte(`{}`))
			ie := invokeErr(t, err)
			if ie.Type != string(c.want) {
				t.Errorf("errorType = %q, want %q", ie.Type, c.want)
			}
			if ie.Message != c.err.Error() {
				t.Errorf("errorMessage = %q, want %q", ie.Message, c.err.Error())
			}
		})
	}
}

func TestLambda_UndecodableInputIsRejected(t *testing.T) {
	h := Lambda("transform", Transform)
	_, err := h.Invoke(context.Background(), []byte(`[1,2]`))
	if ie := invokeErr(t, err); ie.Type != string(faults.Rejected) || !strings.Contains(ie.Message, "transform") {
		t.Fatalf("got %+v", ie)
	}
}

func TestLambda_WarmupDoesNotRunTheStep(t *testing.T) {
	ran := false
	for _, h := range []interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}{
		Lambda("x", func(context.Context, struct{}) (struct{}, error) { ran = true; return struct{}{}, nil }),
		Raw("y", func(context.Context, []byte) (struct{}, error) { ran = true; return struct{}{}, nil }),
	} {
		out, err := h.Invoke(context.Background(), Warmup)
		if err != nil || string(out) != `{"warm":true}` {
			t.Fatalf("warm-up = %s, %v", out, err)
		}
	}
	if ran {
		t.Fatal("warm-up ran the step")
	}
}

func TestParseLambda_OutputFeedsTransform(t *testing.T) {
	out, err := ParseLambda().Invoke(context.Background(), fixture(t, "ec2_malicious_ip_caller_custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	var event struct {
		Detail json.RawMessage `json:"detail"`
	}
	if len(keys["event"]) > 0 {
		if err := json.Unmarshal(keys["event"], &event); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := keys["detail"]; ok || (len(event.Detail) > 0 && string(event.Detail) != "null") {
		t.Errorf("parse output carries the raw event: %s", out)
	}
	tr, err := TransformLambda().Invoke(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var got Transformed
	if err := json.Unmarshal(tr, &got); err != nil {
		t.Fatal(err)
	}
	if got.Finding.Instance == nil || got.Finding.Instance.ID != "i-0abc1234def567890" {
		t.Fatalf("transformed finding = %+v", got.Finding)
	}
}

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
		Params:     []bots.Param{{Name: "force", Type: bots.TypeBool, Default: false}},
		Operations: []string{"ec2:StopInstances"},
		Run:        run,
	}
}

func ec2Finding() *finding.Finding {
	return &finding.Finding{ID: "f1", AccountID: "444455556666", Region: "eu-west-1", Partition: "aws",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-1"}}
}

func TestBotRunner_RunsInFindingAccountWithValidatedParams(t *testing.T) {
	var got bots.Request
	r := &fakeResolver{}
	runner := BotRunner{Resolver: r, Bot: testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
		got = req
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	res, err := runner.Run(context.Background(), BotInput{Finding: ec2Finding(), Execution: "arn:x",
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
		runner BotRunner
		in     BotInput
	}{
		"mode":   {BotRunner{}, BotInput{Action: mapping.Action{Bot: "test_bot", Mode: "DRYRUN"}}},
		"input":  {BotRunner{}, BotInput{DryRun: true, Action: mapping.Action{Bot: "test_bot", Mode: "AUTO"}}},
		"switch": {BotRunner{DryRun: true}, BotInput{Action: mapping.Action{Bot: "test_bot", Mode: "AUTO"}}},
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
	runner := BotRunner{Resolver: &fakeResolver{}, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		t.Fatal("bot ran")
		return bots.Result{}, nil
	})}
	for name, in := range map[string]BotInput{
		"other bot":     {Finding: ec2Finding(), Action: mapping.Action{Bot: "ec2_terminate_instance"}},
		"no finding":    {Action: mapping.Action{Bot: "test_bot"}},
		"unknown param": {Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot", Params: map[string]any{"instanceId": "i-2"}}},
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
	runner := BotRunner{Resolver: r, Bot: testBot(nil)}
	f := ec2Finding()
	f.ResourceKind = finding.KindS3Bucket
	res, err := runner.Run(context.Background(), BotInput{Finding: f, Action: mapping.Action{Bot: "test_bot"}})
	if err != nil || res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "S3Bucket") {
		t.Fatalf("result = %+v, err = %v", res, err)
	}
	if len(r.calls) != 0 {
		t.Error("credentials were resolved for a skipped action")
	}
}

func TestBotRunner_FailuresAreErrorsWithContextNeverResults(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}
	runner := BotRunner{Resolver: &fakeResolver{err: faults.Fail(denied)}, Bot: testBot(nil)}
	_, err := runner.Run(context.Background(), BotInput{Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot"}})
	if err == nil || !strings.Contains(err.Error(), "444455556666") || faults.Classify(err) != faults.Failed {
		t.Fatalf("assume failure: %v (%s)", err, faults.Classify(err))
	}
	throttled := &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	runner = BotRunner{Resolver: &fakeResolver{}, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		return bots.Result{}, throttled
	})}
	_, err = runner.Run(context.Background(), BotInput{Finding: ec2Finding(), Action: mapping.Action{Bot: "test_bot"}})
	if faults.Classify(err) != faults.Throttled || !strings.Contains(err.Error(), "test_bot on finding f1") {
		t.Fatalf("bot throttle: %v (%s)", err, faults.Classify(err))
	}
}

type fakePublisher struct{ msgs []notify.Message }

func (p *fakePublisher) Publish(_ context.Context, m notify.Message) (string, error) {
	p.msgs = append(p.msgs, m)
	return "msg-1", nil
}

func TestNotifier_FailedOutcomesEndTheExecutionFailed(t *testing.T) {
	f := ec2Finding()
	d := &mapping.Decision{Outcome: mapping.Remediate, Actions: []mapping.Action{{Bot: "a"}, {Bot: "b"}}}
	cases := map[string]struct {
		in         notify.Input
		wantFailed bool
	}{
		"remediated": {notify.Input{Finding: f, Decision: d, Results: []bots.Result{{Bot: "a", Status: bots.StatusRemediated}}}, false},
		"one action failed": {notify.Input{Finding: f, Decision: d, Results: []bots.Result{
			{Bot: "a", Status: bots.StatusRemediated}, {Bot: "b", Status: bots.StatusFailed, Error: "Guardbots.Failed"}}}, true},
		"rejected": {notify.Input{Error: &notify.StepError{Step: "parse", Error: "Guardbots.Rejected", Cause: "not JSON"}}, true},
		"skipped":  {notify.Input{Finding: f, Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "no mapping entry"}}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := &fakePublisher{}
			c.in.Execution = notify.Execution{ID: "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:x"}
			out, err := Notifier{Publisher: p}.Notify(context.Background(), c.in)
			if err != nil {
				t.Fatal(err)
			}
			if out.Failed != c.wantFailed || out.MessageID != "msg-1" || len(p.msgs) != 1 {
				t.Fatalf("out = %+v, messages = %d", out, len(p.msgs))
			}
		})
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
	runner := BotRunner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
		if fail {
			return bots.Result{}, faults.Fail(errors.New("boom"))
		}
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	in := func(i int, onError mapping.OnError) BotInput {
		return BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: i,
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
	runner := BotRunner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		attempts++
		if attempts == 1 {
			return bots.Result{}, &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
		}
		return bots.Result{Status: bots.StatusRemediated}, nil
	})}
	first := BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: 0, Action: mapping.Action{Bot: "test_bot", OnError: mapping.Stop}}
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
	runner := BotRunner{Resolver: &fakeResolver{}, State: state, Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
		return bots.Result{}, faults.Fail(errors.New("boom"))
	})}
	_, err := runner.Run(context.Background(), BotInput{Finding: ec2Finding(), Execution: "arn:exec:1",
		Action: mapping.Action{Bot: "test_bot", OnError: mapping.Continue}})
	if err == nil || len(state) != 0 {
		t.Fatalf("err = %v, state = %v", err, state)
	}
}

func TestBotRunner_OnErrorStopIsRecordedWhenARailFailsBeforeTheBot(t *testing.T) {
	state := memState{}
	runner := BotRunner{Resolver: &fakeResolver{}, State: state,
		Rails: Rails{Exempt: func(context.Context, aws.Config, *finding.Finding) (exempt.Target, bool, error) {
			return exempt.Target{}, false, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "no ec2:DescribeTags"}
		}},
		Bot: testBot(func(context.Context, bots.Request) (bots.Result, error) {
			t.Fatal("the bot ran although its exemption could not be read")
			return bots.Result{}, nil
		})}
	in := BotInput{Finding: ec2Finding(), Execution: "arn:exec:1", Index: 0, Action: mapping.Action{Bot: "test_bot", OnError: mapping.Stop}}
	if _, err := runner.Run(context.Background(), in); faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v", err)
	}
	if _, ok := state[stopKey("arn:exec:1")]; !ok {
		t.Fatal("no stop record after the exemption read failed")
	}
}
