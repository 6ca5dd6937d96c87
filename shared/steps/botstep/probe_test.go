package botstep

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/awsenv"
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/plan"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
)

// operations records every operation a client built from the config sends.
type operations struct {
	mu  sync.Mutex
	ops []string
}

func (o *operations) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("recordOperation", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		o.mu.Lock()
		o.ops = append(o.ops, middleware.GetServiceID(ctx)+":"+middleware.GetOperationName(ctx))
		o.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

type probeRig struct {
	local     *plantest.Local
	execution string
	runner    Runner
	ops       *operations
}

// newProbeRig: kumo serves STS (AssumeRole of any role), KMS (the probe key) and Step Functions (the
// member-health state machine, an execution of it running).
func newProbeRig(t *testing.T, bot string) *probeRig {
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
	exec, err := local.Start(ctx, execName(t, "daily"))
	if err != nil {
		t.Fatal(err)
	}
	ops := &operations{}
	base := cfg.Copy()
	base.APIOptions = append(base.APIOptions, ops.option)
	b, ok := bots.Lookup(bot)
	if !ok {
		t.Fatalf("%s is not registered", bot)
	}
	v := &plan.Verifier{KMS: local.KMS, KeyID: local.KeyID, States: local.SFN, StateMachineArn: local.StateMachineArn, MaxAge: plan.ProbeMaxAge}
	return &probeRig{local: local, execution: exec, ops: ops, runner: Runner{Bot: b, Region: "us-east-1", Probes: v,
		Resolver: &awsenv.Resolver{Base: base, RolePrefix: "guardbots", ExternalID: "ext-7f3a", AccountID: "111122223333"}}}
}

// execName is unique per test: kumo keeps one store per process.
func execName(t *testing.T, what string) string {
	n := what + "-" + strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(n) > 80 {
		n = n[len(n)-80:]
	}
	return n
}

func (r *probeRig) probe(t *testing.T, bot string, accounts ...string) plan.Probe {
	t.Helper()
	p := plan.Probe{Execution: r.execution, Bot: bot, Accounts: accounts}
	if err := r.local.Signer().SignProbe(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The happy path against the emulator: the bot assumes its own member role in each other account, with
// the ExternalId and source identity an action would use, reports ok, and calls nothing else.
func TestProbe_AssumesOnlyItsOwnMemberRoleInEachAccountAndCallsNothingElse(t *testing.T) {
	rig := newProbeRig(t, "ec2_stop_instance")
	out, err := rig.runner.Handle(context.Background(), Request{Probe: new(rig.probe(t, "ec2_stop_instance", "444455556666", "111122223333", "777788889999"))})
	if err != nil {
		t.Fatal(err)
	}
	rep := out.(plan.ProbeReport)
	if rep.Bot != "ec2_stop_instance" || len(rep.Results) != 3 {
		t.Fatalf("report = %+v", rep)
	}
	for _, r := range rep.Results {
		if r.State != plan.ProbeOK {
			t.Errorf("%s: %+v, want ok", r.Account, r)
		}
		switch r.Account {
		case "111122223333":
			if r.Role != "" || !strings.Contains(r.Detail, "own account") {
				t.Errorf("own account: %+v", r)
			}
		default:
			if r.Role != "arn:aws:iam::"+r.Account+":role/guardbots-ec2_stop_instance" {
				t.Errorf("%s: role %q", r.Account, r.Role)
			}
		}
	}
	rig.ops.mu.Lock()
	defer rig.ops.mu.Unlock()
	if len(rig.ops.ops) != 2 || rig.ops.ops[0] != "STS:AssumeRole" || rig.ops.ops[1] != "STS:AssumeRole" {
		t.Errorf("operations with the bot's credentials = %v, want two AssumeRole and nothing else", rig.ops.ops)
	}
}

// stsAnswers makes STS answer per account with an error code ("" answers with credentials).
func stsAnswers(codes map[string]string) func(*sts.Options) {
	return func(o *sts.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("stsAnswer", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ar, ok := in.Parameters.(*sts.AssumeRoleInput)
				if !ok {
					return next.HandleInitialize(ctx, in)
				}
				account := strings.Split(aws.ToString(ar.RoleArn), ":")[4]
				if code := codes[account]; code != "" {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: code, Message: code + " for " + aws.ToString(ar.RoleArn)}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
		})
	}
}

// Each STS answer has its state: AccessDenied is denied (missing role or broken trust), throttling is
// throttled, anything else an error with the message.
func TestProbe_EachSTSAnswerHasItsState(t *testing.T) {
	rig := newProbeRig(t, "ec2_stop_instance")
	rig.runner.Resolver.(*awsenv.Resolver).STSOptions = []func(*sts.Options){stsAnswers(map[string]string{
		"444455556666": "AccessDenied", "555566667777": "Throttling", "666677778888": "RegionDisabledException", "777788889999": "ThrottlingException",
	})}
	rep, err := rig.runner.RunProbe(context.Background(), rig.probe(t, "ec2_stop_instance", "222233334444", "444455556666", "555566667777", "666677778888", "777788889999"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"222233334444": plan.ProbeOK, "444455556666": plan.ProbeDenied, "555566667777": plan.ProbeThrottled, "666677778888": plan.ProbeError, "777788889999": plan.ProbeThrottled}
	for _, r := range rep.Results {
		if r.State != want[r.Account] {
			t.Errorf("%s: %+v, want %s", r.Account, r, want[r.Account])
		}
		if r.State != plan.ProbeOK && !strings.Contains(r.Detail, r.Account) {
			t.Errorf("%s: detail %q does not name the account", r.Account, r.Detail)
		}
	}
}

func TestProbe_WithoutExternalIDIsAnErrorNamingTheSetting(t *testing.T) {
	rig := newProbeRig(t, "ec2_stop_instance")
	rig.runner.Resolver.(*awsenv.Resolver).ExternalID = ""
	rep, err := rig.runner.RunProbe(context.Background(), rig.probe(t, "ec2_stop_instance", "444455556666"))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.State != plan.ProbeError || !strings.Contains(r.Detail, deployment.EnvExternalID) {
		t.Errorf("%+v", r)
	}
}

// Who can invoke a bot Lambda can send it a probe: only the health check's signed probe, in a running
// health execution, for this very bot and these accounts, runs — and nothing else assumes any role.
func TestProbe_AnUnvouchedProbeAssumesNothing(t *testing.T) {
	rig := newProbeRig(t, "ec2_stop_instance")
	ctx := context.Background()
	good := rig.probe(t, "ec2_stop_instance", "444455556666")
	otherBot := rig.probe(t, "ec2_tag_instance", "444455556666")
	unsigned := good
	unsigned.Signature = nil
	widened := good
	widened.Accounts = []string{"444455556666", "999900001111"}
	stopped, err := rig.local.Start(ctx, execName(t, "stopped"))
	if err != nil {
		t.Fatal(err)
	}
	ended := plan.Probe{Execution: stopped, Bot: "ec2_stop_instance", Accounts: []string{"444455556666"}}
	if err := rig.local.Signer().SignProbe(ctx, &ended); err != nil {
		t.Fatal(err)
	}
	if err := rig.local.Stop(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]Request{
		"unsigned":                 {Probe: &unsigned},
		"signed for another bot":   {Probe: &otherBot},
		"accounts added":           {Probe: &widened},
		"execution no longer runs": {Probe: &ended},
		"an action and a probe": {Probe: &good, BotInput: steps.BotInput{Finding: &finding.Finding{ID: "f"},
			Action: mapping.Action{Bot: "ec2_stop_instance"}}},
	} {
		_, err := rig.runner.Handle(ctx, req)
		if faults.Classify(err) != faults.Rejected {
			t.Errorf("%s: err = %v, want a rejection", name, err)
		}
	}
	noProbes := rig.runner
	noProbes.Probes = nil
	if _, err := noProbes.RunProbe(ctx, good); err == nil || !strings.Contains(err.Error(), deployment.EnvProbeKey) {
		t.Errorf("no probe configuration: %v", err)
	}
	rig.ops.mu.Lock()
	defer rig.ops.mu.Unlock()
	if len(rig.ops.ops) != 0 {
		t.Errorf("operations = %v, want none", rig.ops.ops)
	}
}

func TestProbe_ABotWithoutOperationsHasNoRoleToProbe(t *testing.T) {
	rig := newProbeRig(t, "notify_only")
	if _, err := rig.runner.RunProbe(context.Background(), rig.probe(t, "notify_only", "444455556666")); faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v", err)
	}
}
