package perf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

type obj = map[string]any

// transitions executes the generated definition with every Lambda canned (aws-local-stepfunctions)
// and counts what Standard bills: each state entered plus each retry.
func transitions(t *testing.T, tools aslrun.Tools, overrides map[string][]aslrun.Response) (int, *aslrun.Execution) {
	t.Helper()
	def, err := statemachine.Definition()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := statemachine.Render(def, statemachine.LambdaARNs("aws", "us-east-1", "111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := tools.Run(ctx, aslrun.Job{
		Definition: rendered,
		Input:      obj{"source": "aws.guardduty", "detail": obj{"id": "gd-1"}},
		Context: obj{"Execution": obj{"Id": "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:cost", "Name": "cost",
			"StartTime": "2026-01-02T03:04:05.000Z"}, "Task": obj{"Token": "token"}, "State": aslrun.StaticState(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		Overrides:      overrides,
		InstantRetries: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range ex.Events {
		if ev.Type == "StateEntered" || ev.Type == "StateRetried" {
			n++
		}
	}
	return n, ex
}

// canned: parse, transform and match succeed with decision and actions; verify confirms; every bot
// remediates; notify judges as steps.Notifier does.
func canned(decision string, actions ...obj) map[string][]aslrun.Response {
	if actions == nil {
		actions = []obj{}
	}
	finding := obj{"id": "gd-1", "accountId": "111122223333", "region": "us-east-1"}
	o := map[string][]aslrun.Response{
		statemachine.StateParse:     {aslrun.Returns(obj{"finding": finding})},
		statemachine.StateTransform: {aslrun.Returns(obj{"finding": finding})},
		statemachine.StateMatch: {aslrun.Returns(obj{"finding": finding,
			"decision": obj{"decision": decision, "reason": "test", "mappingKey": "k", "actions": actions}})},
		// verify passes the decision on with the account it always names, each action signed (the held
		// path copies the signature).
		statemachine.StateVerify: {{JS: `(x) => ({finding: x.finding, decision: {...x.decision,
		  account: {id: x.finding.accountId},
		  actions: x.decision.actions.map(a => ({...a, signature: {v: 1, signedAt: '2026-01-02T03:04:05Z', sig: 'c2ln'}}))}})`}},
		statemachine.StateNotify: {{JS: `(x) => { const failed = !!x.error || (x.results ?? []).some(r => r.status === 'failed'); return {outcome: 'x', failed}; }`}},
	}
	for _, fn := range statemachine.Placeholders() {
		switch fn {
		case "parse", "transform", "match", "verify", "notify", "request_approval":
		default:
			o[fn] = []aslrun.Response{{JS: `(x) => ({bot: x.action.bot, status: 'remediated'})`}}
		}
	}
	return o
}

func act(bot, mode string) obj {
	return obj{"bot": bot, "params": obj{}, "onError": "continue", "mode": mode, "approvalTimeoutSeconds": 900}
}

// The transitions the cost model prices are what the generated definition makes each shape enter:
// counted from an execution's events, not by hand, for the measured shapes and for the formula's
// per-action, approval, held and retry terms.
func TestCostTransitions_FollowTheDefinition(t *testing.T) {
	tools, err := aslrun.FindTools()
	if errors.Is(err, aslrun.ErrNoTools) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	shape := func(name string) int {
		s, ok := ShapeNamed(name)
		if !ok {
			t.Fatalf("no shape %s", name)
		}
		return s.Transitions
	}
	remediate := shape(ShapeOne) - PerAction // the fixed part of a remediation
	bots := []string{"ec2_tag_instance", "ec2_create_snapshot", "ec2_enable_termination_protection",
		"ec2_detach_from_autoscaling", "ec2_deregister_from_load_balancers", "ec2_quarantine_instance"}

	rejectParse := canned("skip")
	rejectParse[statemachine.StateParse] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected", "not a GuardDuty finding")}
	forged := canned("remediate", act("ec2_stop_instance", "AUTO"))
	forged[statemachine.StateVerify] = []aslrun.Response{aslrun.Fails("Guardbots.Rejected", "GuardDuty has no such finding")}
	held := canned("remediate", act("ec2_stop_instance", "AUTO"))
	held["ec2_stop_instance"] = []aslrun.Response{
		aslrun.Returns(obj{"bot": "ec2_stop_instance", "status": "skipped", "held": true, "reason": "blast radius"}),
		{JS: `(x) => ({bot: x.action.bot, status: 'remediated'})`}}
	held[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	approve := canned("remediate", act("ec2_stop_instance", "APPROVE"))
	approve[statemachine.StateWaitForApproval] = []aslrun.Response{aslrun.Returns(obj{"approved": true, "approver": "alice"})}
	retried := canned("remediate", act("ec2_stop_instance", "AUTO"))
	retried["ec2_stop_instance"] = []aslrun.Response{aslrun.Fails("Lambda.TooManyRequestsException", "rate"),
		{JS: `(x) => ({bot: x.action.bot, status: 'remediated'})`}}

	cases := []struct {
		name      string
		overrides map[string][]aslrun.Response
		want      int
		status    string
	}{
		{ShapeRejected, rejectParse, shape(ShapeRejected), "FAILED"},
		{ShapeNoAction, canned("skip"), shape(ShapeNoAction), "SUCCEEDED"},
		{"notify decision", canned("notify"), shape(ShapeNoAction), "SUCCEEDED"},
		{ShapeForged, forged, shape(ShapeForged), "FAILED"},
		{ShapeOne, canned("remediate", act("s3_block_public_access", "AUTO")), shape(ShapeOne), "SUCCEEDED"},
		{ShapeTwo, canned("remediate", act("ec2_tag_instance", "AUTO"), act("ec2_stop_instance", "AUTO")), shape(ShapeTwo), "SUCCEEDED"},
		{"six actions", canned("remediate", act(bots[0], "AUTO"), act(bots[1], "AUTO"), act(bots[2], "AUTO"),
			act(bots[3], "AUTO"), act(bots[4], "AUTO"), act(bots[5], "AUTO")), remediate + 6*PerAction, "SUCCEEDED"},
		{"APPROVE, approved", approve, remediate + PerAction + ApproveAdds, "SUCCEEDED"},
		{"held by the blast-radius limit, approved", held, remediate + PerAction + HeldAdds, "SUCCEEDED"},
		{"one retry", retried, remediate + PerAction + 1, "SUCCEEDED"},
	}
	for _, c := range cases {
		got, ex := transitions(t, tools, c.overrides)
		if ex.Status != c.status {
			t.Errorf("%s: execution %s (%s: %s), want %s; entered %v", c.name, ex.Status, ex.Error, ex.Cause, c.status, ex.Entered())
		}
		if got != c.want {
			t.Errorf("%s: %d billed transitions, the cost model says %d; entered %v", c.name, got, c.want, ex.Entered())
		}
	}
}

// The arithmetic, on the two-action shape: every line is quantity × list price, the memory size scales
// the Lambda duration, and the free tiers come off only the lines that have one.
func TestMonthly_PricesTheCounts(t *testing.T) {
	s, _ := ShapeNamed(ShapeTwo)
	a := DefaultAssumptions
	m := Monthly(s, 1e6, ListPrices, a)
	lines := map[string]Line{}
	for _, l := range m.Standard {
		lines[strings.SplitN(l.Item, " (", 2)[0]] = l
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("transitions", lines["Step Functions Standard transitions"].Cost, float64(s.Transitions)*1e6*0.025/1000)
	near("transitions free", lines["Step Functions Standard transitions"].Free, 4000*0.025/1000)
	near("Lambda requests", lines["Lambda requests"].Cost, float64(s.Invocations)*1e6*0.20/1e6)
	sec := math.Ceil(float64(s.HandlerMs)+float64(s.Calls+s.PlanChecks)*a.APILatencyMs+float64(s.Invocations)*a.InitMs) / 1000
	near("Lambda GB-s", lines["Lambda arm64 duration"].Quantity, sec*a.MemoryMB/1024*1e6)
	near("DynamoDB writes", lines["DynamoDB writes"].Cost, s.WriteUnits*1e6*0.625/1e6)
	near("DynamoDB free", lines["DynamoDB writes"].Free, 0)
	near("KMS requests", lines["KMS"].Quantity, 3*2*30*24*3600/300) // three topics, one publisher
	// The plan: verify's Sign per action and a cold bot's GetPublicKey, at the asymmetric rate, no free tier.
	var plan Line
	for _, l := range m.Standard {
		if strings.HasPrefix(l.Item, "KMS plan signatures") {
			plan = l
		}
	}
	near("plan KMS requests", plan.Quantity, float64(s.Signs+s.PlanChecks)*1e6)
	near("plan KMS cost", plan.Cost, float64(s.Signs+s.PlanChecks)*1e6*0.15/10000)
	near("plan KMS free", plan.Free, 0)
	if s.Signs != 2 || s.PlanChecks != 2 {
		t.Errorf("two actions: %d signs, %d plan checks", s.Signs, s.PlanChecks)
	}
	near("logs GB", lines["CloudWatch Logs ingestion"].Quantity, (float64(s.SFNLogBytes+s.LambdaLogBytes)+7*a.PlatformLogBytes)*1e6/1e9)

	a.MemoryMB *= 2
	double := Monthly(s, 1e6, ListPrices, a)
	near("twice the memory doubles the GB-s", double.Standard[2].Quantity, lines["Lambda arm64 duration"].Quantity*2)
	if !strings.Contains(double.Standard[2].Item, fmt.Sprintf("%g MB", a.MemoryMB)) {
		t.Errorf("the line does not say the memory size: %q", double.Standard[2].Item)
	}

	// Express drops the transitions for a request and a duration in 100 ms and 64 MB steps.
	if m.ExpressMs != math.Ceil((sec*1000+float64(s.Invocations)*a.InvokeOverheadMs)/100)*100 || m.ExpressMB != 64 {
		t.Errorf("Express billed %v ms × %v MB", m.ExpressMs, m.ExpressMB)
	}
	near("Express duration", m.Express[1].Cost, m.ExpressMs/1000*64.0/1024*1e6*0.00001667)
	std, _ := Total(m.Standard)
	exp, _ := Total(m.Express)
	near("Standard − Express", std-exp, lines["Step Functions Standard transitions"].Cost-m.Express[0].Cost-m.Express[1].Cost)
}
