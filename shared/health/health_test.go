package health

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	_ "github.com/guardbots/guardbots/shared/bots/all"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps/botstep"
)

// botLambdas invokes each bot's real Runner in process, through JSON as Lambda would: the bot side of a
// probe is the code the bot Lambdas run.
type botLambdas struct {
	runners map[string]botstep.Runner // by function ARN
	// fail makes a function answer with a function error.
	fail map[string]bool
	mu   sync.Mutex
	sent []string
}

func (b *botLambdas) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	fn := aws.ToString(in.FunctionName)
	b.mu.Lock()
	b.sent = append(b.sent, string(in.Payload))
	b.mu.Unlock()
	if b.fail[fn] {
		return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorType":"Guardbots.Failed","errorMessage":"boom"}`)}, nil
	}
	var req botstep.Request
	if err := json.Unmarshal(in.Payload, &req); err != nil {
		return nil, err
	}
	out, err := b.runners[fn].Handle(ctx, req)
	if err != nil {
		return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":` + mustJSON(err.Error()) + `}`)}, nil
	}
	return &lambda.InvokeOutput{Payload: []byte(mustJSON(out))}, nil
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

type fakeMetrics struct {
	in  *cloudwatch.PutMetricDataInput
	err error
}

func (f *fakeMetrics) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.in = in
	return &cloudwatch.PutMetricDataOutput{}, f.err
}

func (f *fakeMetrics) counts() map[string]float64 {
	out := map[string]float64{}
	for _, d := range f.in.MetricData {
		out[aws.ToString(d.Dimensions[0].Value)] = aws.ToFloat64(d.Value)
	}
	return out
}

type fakePublisher struct{ sent []notify.Message }

func (f *fakePublisher) Publish(_ context.Context, m notify.Message) (string, error) {
	f.sent = append(f.sent, m)
	return "msg-1", nil
}

type fakeOrg struct {
	accounts []orgtypes.Account
	err      error
}

func (f fakeOrg) ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	return &organizations.ListAccountsOutput{Accounts: f.accounts}, f.err
}

func acct(id, state string) orgtypes.Account {
	return orgtypes.Account{Id: aws.String(id), Name: aws.String("a" + id), State: orgtypes.AccountState(state),
		Arn: aws.String("arn:aws:organizations::777788889999:account/o-abcdefghij/" + id)}
}

type rig struct {
	checker   *Checker
	bots      *botLambdas
	metrics   *fakeMetrics
	published *fakePublisher
	execution string
	functions map[string]string
}

// newRig: kumo serves KMS (the probe key), Step Functions (a running member-health execution) and STS;
// stsCodes makes STS answer an account's AssumeRole with an error code.
func newRig(t *testing.T, stsCodes map[string]string, botNames ...string) *rig {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}
	local, err := plantest.New(ctx, cfg, deployment.HealthStateMachineName)
	if err != nil {
		t.Fatal(err)
	}
	name := "run-" + strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	exec, err := local.Start(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	verifier := &plan.Verifier{KMS: local.KMS, KeyID: local.KeyID, States: local.SFN, StateMachineArn: local.StateMachineArn, MaxAge: plan.ProbeMaxAge}
	resolver := &awsenv.Resolver{Base: cfg, RolePrefix: "guardbots", ExternalID: "ext-7f3a", AccountID: "111122223333",
		STSOptions: []func(*sts.Options){stsAnswers(stsCodes)}}
	bl := &botLambdas{runners: map[string]botstep.Runner{}, fail: map[string]bool{}}
	fns := map[string]string{}
	for _, n := range botNames {
		b, ok := bots.Lookup(n)
		if !ok {
			t.Fatalf("%s is not registered", n)
		}
		arn := "arn:aws:lambda:us-east-1:111122223333:function:guardbots-" + n
		fns[n] = arn
		bl.runners[arn] = botstep.Runner{Bot: b, Resolver: resolver, Probes: verifier, Region: "us-east-1"}
	}
	r := &rig{bots: bl, metrics: &fakeMetrics{}, published: &fakePublisher{}, execution: exec, functions: fns}
	r.checker = &Checker{Signer: local.Signer(), Lambda: bl, Metrics: r.metrics, Namespace: "guardbots", Publisher: r.published,
		RolePrefix: "guardbots", StackSet: "guardbots-member-roles", Region: "us-east-1"}
	return r
}

func (r *rig) input(accounts ...string) Input {
	in := Input{Execution: r.execution, Functions: r.functions}
	in.Input.Accounts = accounts
	return in
}

func stsAnswers(codes map[string]string) func(*sts.Options) {
	return func(o *sts.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stsAnswer", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if ar, ok := in.Parameters.(*sts.AssumeRoleInput); ok {
					if code := codes[strings.Split(aws.ToString(ar.RoleArn), ":")[4]]; code != "" {
						return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: code, Message: code + " for " + aws.ToString(ar.RoleArn)}
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
		})
	}
}

// The happy path against the emulator: every active account of the organization (suspended ones listed,
// not probed), every bot, all ok — metrics for every state, no notification.
func TestHealth_AllRolesReachableReportsOKPublishesMetricsAndDoesNotNotify(t *testing.T) {
	r := newRig(t, nil, "ec2_stop_instance", "iam_deactivate_access_key")
	r.checker.Organization = fakeOrg{accounts: []orgtypes.Account{acct("444455556666", "ACTIVE"), acct("111122223333", "ACTIVE"), acct("555566667777", "SUSPENDED")}}
	rep, err := r.checker.Run(context.Background(), r.input())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Counts[plan.ProbeOK] != 4 || len(rep.Problems) != 0 || len(rep.Bots) != 2 {
		t.Errorf("report = %+v", rep)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0] != (Skipped{"555566667777", "SUSPENDED"}) {
		t.Errorf("skipped = %+v", rep.Skipped)
	}
	if got := r.metrics.counts(); got["ok"] != 4 || got["denied"] != 0 || got["throttled"] != 0 || got["error"] != 0 || len(got) != 4 {
		t.Errorf("metrics = %v, want every state", got)
	}
	if aws.ToString(r.metrics.in.Namespace) != "guardbots" || aws.ToString(r.metrics.in.MetricData[0].MetricName) != deployment.HealthMetric {
		t.Errorf("metric %s/%s", aws.ToString(r.metrics.in.Namespace), aws.ToString(r.metrics.in.MetricData[0].MetricName))
	}
	if len(r.published.sent) != 0 {
		t.Errorf("notified though all is ok: %v", r.published.sent)
	}
}

// Every state reported: a missing role (denied) names the StackSet instance and the context keys, a
// throttle says the role's health is unknown, a failed bot Lambda is an error for each of its accounts;
// the notification says it all, with the health outcome to route on.
func TestHealth_EveryStateIsReportedWithWhatToInspectAndNotified(t *testing.T) {
	r := newRig(t, map[string]string{"444455556666": "AccessDenied", "555566667777": "Throttling"}, "ec2_stop_instance", "iam_deactivate_access_key")
	r.bots.fail[r.functions["iam_deactivate_access_key"]] = true
	rep, err := r.checker.Run(context.Background(), r.input("444455556666", "555566667777", "666677778888"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Fatal("report ok")
	}
	want := map[string]int{"ok": 1, "denied": 1, "throttled": 1, "error": 3}
	for s, n := range want {
		if rep.Counts[s] != n {
			t.Errorf("counts = %v, want %v", rep.Counts, want)
			break
		}
	}
	var denied, throttled, failed *Problem
	for i, p := range rep.Problems {
		switch {
		case p.State == plan.ProbeDenied:
			denied = &rep.Problems[i]
		case p.State == plan.ProbeThrottled:
			throttled = &rep.Problems[i]
		case p.State == plan.ProbeError && p.Bot == "iam_deactivate_access_key":
			failed = &rep.Problems[i]
		}
	}
	if denied == nil || denied.Account != "444455556666" || denied.Bot != "ec2_stop_instance" ||
		!strings.Contains(denied.Inspect, "StackSet guardbots-member-roles for account 444455556666 in us-east-1") ||
		!strings.Contains(denied.Inspect, "externalId") || !strings.Contains(denied.Inspect, "guardbots-ec2_stop_instance") {
		t.Errorf("denied = %+v", denied)
	}
	if throttled == nil || throttled.Account != "555566667777" || !strings.Contains(throttled.Inspect, "unknown") {
		t.Errorf("throttled = %+v", throttled)
	}
	if failed == nil || !strings.Contains(failed.Detail, "the bot's Lambda failed") || !strings.Contains(failed.Detail, "guardbots-iam_deactivate_access_key") {
		t.Errorf("failed = %+v", failed)
	}
	if got := r.metrics.counts(); got["denied"] != 1 || got["throttled"] != 1 || got["error"] != 3 || got["ok"] != 1 {
		t.Errorf("metrics = %v", got)
	}
	if len(r.published.sent) != 1 || rep.Notified != "msg-1" {
		t.Fatalf("notifications = %d, notified %q", len(r.published.sent), rep.Notified)
	}
	m := r.published.sent[0]
	if m.Subject != "[guardbots] member roles: 1 denied, 1 throttled, 3 error" || m.Routing.Attributes()[notify.AttrOutcome].Value != notify.OutcomeMemberRoleHealth {
		t.Errorf("message subject %q, routing %v", m.Subject, m.Routing.Attributes())
	}
	var body struct {
		Summary  string    `json:"summary"`
		Problems []Problem `json:"problems"`
	}
	if err := json.Unmarshal(m.Body, &body); err != nil || len(body.Problems) != 5 || !strings.Contains(body.Summary, "in 3 of 3 accounts") {
		t.Errorf("body %s (%v)", m.Body, err)
	}
	// Each probe named exactly its bot and the accounts, and was signed.
	for _, s := range r.bots.sent {
		var req struct{ Probe plan.Probe }
		if err := json.Unmarshal([]byte(s), &req); err != nil || req.Probe.Signature == nil || len(req.Probe.Accounts) != 3 {
			t.Errorf("sent %s", s)
		}
	}
}

func TestHealth_WhatStopsTheCheckIsAnErrorNamingIt(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil, "ec2_stop_instance")
	r.checker.Organization = fakeOrg{err: errors.New("AccessDeniedException: not delegated")}
	if _, err := r.checker.Run(ctx, r.input()); err == nil || !strings.Contains(err.Error(), "organizations:ListAccounts") {
		t.Errorf("ListAccounts failing: %v", err)
	}
	r.checker.Organization = fakeOrg{accounts: []orgtypes.Account{acct("444455556666", "SUSPENDED")}}
	if _, err := r.checker.Run(ctx, r.input()); err == nil || !strings.Contains(err.Error(), "no active account") {
		t.Errorf("no active account: %v", err)
	}
	if _, err := r.checker.Run(ctx, r.input("4444")); faults.Classify(err) != faults.Rejected {
		t.Errorf("a malformed account: %v", err)
	}
	r.metrics.err = errors.New("AccessDenied: cloudwatch:PutMetricData")
	if _, err := r.checker.Run(ctx, r.input("444455556666")); err == nil || !strings.Contains(err.Error(), "PutMetricData") {
		t.Errorf("metrics failing: %v", err)
	}
	r.metrics.err = nil
	in := r.input("444455556666")
	in.Functions = nil
	if _, err := r.checker.Run(ctx, in); faults.Classify(err) != faults.Rejected {
		t.Errorf("no functions: %v", err)
	}
}

// lyingLambda answers every probe with ok for an account nobody asked about.
type lyingLambda struct{}

func (lyingLambda) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return &lambda.InvokeOutput{Payload: []byte(`{"bot":"ec2_stop_instance","results":[{"account":"999900001111","state":"ok"}]}`)}, nil
}

// A bot's answer for other accounts (or another bot) is not believed: each account asked about is an error.
func TestHealth_AnAnswerForOtherAccountsIsAnError(t *testing.T) {
	r := newRig(t, nil, "ec2_stop_instance")
	r.checker.Lambda = lyingLambda{}
	rep, err := r.checker.Run(context.Background(), r.input("444455556666"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Counts[plan.ProbeError] != 1 || rep.Counts[plan.ProbeOK] != 0 || !strings.Contains(rep.Problems[0].Detail, "not ec2_stop_instance and these 1") {
		t.Errorf("report = %+v", rep)
	}
}
