package botstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/statetable"
	"github.com/guardbots/guardbots/shared/steps"
)

// railsEnv is kumo with the state table and the audit table laid out as the CDK app creates them, and
// a clock the test moves.
type railsEnv struct {
	srv   *kumo.Server
	ddb   *dynamodb.Client
	state *statetable.Rails
	audit *statetable.Audit
	now   time.Time
}

var railsT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newRailsEnv(t *testing.T) *railsEnv {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	ddb := dynamodb.NewFromConfig(kumoConfig(srv.URL), func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	// kumo's storage is shared by every server in the process: one pair of tables per test.
	stateName, auditName := "state-"+t.Name(), "audit-"+t.Name()
	attr := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(n string, k ddbtypes.KeyType) ddbtypes.KeySchemaElement {
		return ddbtypes.KeySchemaElement{AttributeName: aws.String(n), KeyType: k}
	}
	ctx := context.Background()
	for _, in := range []*dynamodb.CreateTableInput{
		{TableName: aws.String(stateName), AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(statetable.PartitionKey)},
			KeySchema: []ddbtypes.KeySchemaElement{key(statetable.PartitionKey, ddbtypes.KeyTypeHash)}, BillingMode: ddbtypes.BillingModePayPerRequest},
		{TableName: aws.String(auditName),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{attr(statetable.PartitionKey), attr(statetable.AuditSortKey), attr(statetable.AuditResourceKey)},
			KeySchema:            []ddbtypes.KeySchemaElement{key(statetable.PartitionKey, ddbtypes.KeyTypeHash), key(statetable.AuditSortKey, ddbtypes.KeyTypeRange)},
			GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String(statetable.AuditResourceGSI),
				KeySchema:  []ddbtypes.KeySchemaElement{key(statetable.AuditResourceKey, ddbtypes.KeyTypeHash), key(statetable.AuditSortKey, ddbtypes.KeyTypeRange)},
				Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}},
			BillingMode: ddbtypes.BillingModePayPerRequest},
	} {
		if _, err := ddb.CreateTable(ctx, in); err != nil {
			t.Fatalf("kumo CreateTable %s: %v", aws.ToString(in.TableName), err)
		}
	}
	return &railsEnv{srv: srv, ddb: ddb, now: railsT0,
		state: &statetable.Rails{Client: ddb, Name: stateName}, audit: &statetable.Audit{Client: ddb, Name: auditName}}
}

func kumoConfig(url string, opts ...func(*middleware.Stack) error) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url), RetryMaxAttempts: 1, APIOptions: opts}
}

// rails are every rail on kumo; exemption is off unless the test turns it on (its reads need AWS).
func (e *railsEnv) rails() Rails {
	return Rails{Claims: e.state, Counter: e.state, Audit: e.audit, DedupWindow: 24 * time.Hour, DedupLease: 15 * time.Minute,
		PerAccount: 10, Global: 50, Now: func() time.Time { return e.now }}
}

func (e *railsEnv) records(t *testing.T, findingID string) []statetable.AuditRecord {
	t.Helper()
	recs, err := e.audit.ByFinding(context.Background(), findingID)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// countingBot is a disruptive test bot that counts its runs and returns what next says.
type countingBot struct {
	mu   sync.Mutex
	runs int
	next func(req bots.Request) (bots.Result, error)
}

func (c *countingBot) bot(impact bots.Impact) bots.Bot {
	b := testBot(func(_ context.Context, req bots.Request) (bots.Result, error) {
		c.mu.Lock()
		c.runs++
		c.mu.Unlock()
		if c.next != nil {
			return c.next(req)
		}
		return bots.Result{Status: bots.StatusRemediated, Before: map[string]string{"state": "running"}, After: map[string]string{"state": "stopped"}}, nil
	})
	b.Impact = impact
	return b
}

func (c *countingBot) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.runs }

func input(exec string) steps.BotInput {
	return steps.BotInput{Finding: ec2Finding(), Execution: exec, Action: mapping.Action{Bot: "test_bot", Mode: "AUTO"}}
}

func runOK(t *testing.T, r Runner, in steps.BotInput) bots.Result {
	t.Helper()
	res, err := r.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: %v", in.Execution, err)
	}
	return res
}

func TestRails_DuplicateDeliveryIsSkippedNamingTheExecutionThatHandledIt(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	if res := runOK(t, r, input("arn:exec:1")); res.Status != bots.StatusRemediated {
		t.Fatalf("first = %+v", res)
	}
	e.now = e.now.Add(time.Hour)
	res := runOK(t, r, input("arn:exec:2"))
	if res.Status != bots.StatusSkipped || res.Reason != "already handled by execution arn:exec:1 at 2026-03-01T12:00:00Z" {
		t.Fatalf("duplicate = %+v", res)
	}
	if c.count() != 1 {
		t.Fatalf("bot ran %d times, want once", c.count())
	}
}

func TestRails_RetryOfTheSameExecutionStillRunsAndAnotherWaits(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	// The first attempt of exec-1 claimed, then its Lambda died (timeout) before finishing.
	key := claimKey(ec2Finding(), "test_bot", targetsOf(t, ec2Finding()))
	if _, ok, err := e.state.Claim(context.Background(), key, "arn:exec:1", e.now, 15*time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	e.now = e.now.Add(time.Minute)
	if res := runOK(t, r, input("arn:exec:2")); res.Status != bots.StatusSkipped || !strings.Contains(res.Reason, "arn:exec:1") || !strings.Contains(res.Reason, "in progress") {
		t.Fatalf("other execution during the claim = %+v", res)
	}
	// Step Functions retries exec-1: the claim is its own, so it runs.
	if res := runOK(t, r, input("arn:exec:1")); res.Status != bots.StatusRemediated {
		t.Fatalf("retry = %+v", res)
	}
	if c.count() != 1 {
		t.Fatalf("runs = %d", c.count())
	}
}

func TestRails_AbandonedClaimIsTakenOverAfterTheLease(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	key := claimKey(ec2Finding(), "test_bot", targetsOf(t, ec2Finding()))
	e.state.Claim(context.Background(), key, "arn:crashed", e.now, 15*time.Minute)
	e.now = e.now.Add(16 * time.Minute)
	if res := runOK(t, r, input("arn:exec:2")); res.Status != bots.StatusRemediated || c.count() != 1 {
		t.Fatalf("after the lease = %+v, runs %d", res, c.count())
	}
}

func TestRails_FailedActionReleasesItsClaimSoTheNextExecutionRuns(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{next: func(bots.Request) (bots.Result, error) {
		return bots.Result{}, &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	}}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	if _, err := r.Run(context.Background(), input("arn:exec:1")); faults.Classify(err) != faults.Throttled {
		t.Fatalf("first: %v (%s): a rail must keep the failure and its kind", err, faults.Classify(err))
	}
	c.next = nil
	if res := runOK(t, r, input("arn:exec:2")); res.Status != bots.StatusRemediated || c.count() != 2 {
		t.Fatalf("after a failed first = %+v, runs %d", res, c.count())
	}
}

func TestRails_SkippedResultAndDryRunLeaveNoClaim(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{next: func(bots.Request) (bots.Result, error) {
		return bots.Result{Status: bots.StatusSkipped, Reason: "instance i-1 no longer exists"}, nil
	}}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	runOK(t, r, input("arn:exec:1"))
	dry := input("arn:exec:2")
	dry.Action.Mode = "DRYRUN"
	c.next = func(bots.Request) (bots.Result, error) { return bots.Result{Status: bots.StatusDryRun}, nil }
	runOK(t, r, dry)
	c.next = nil
	if res := runOK(t, r, input("arn:exec:3")); res.Status != bots.StatusRemediated || c.count() != 3 {
		t.Fatalf("after a skip and a dry run = %+v, runs %d", res, c.count())
	}
}

func TestRails_ExpiredWindowLetsTheActionRunAgain(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	rails := e.rails()
	rails.DedupWindow = 2 * time.Hour
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	runOK(t, r, input("arn:exec:1"))
	e.now = e.now.Add(119 * time.Minute)
	if res := runOK(t, r, input("arn:exec:2")); res.Status != bots.StatusSkipped {
		t.Fatalf("inside the window = %+v", res)
	}
	// The claim item is still in the table (TTL lags): the condition on expiresAt decides, not its deletion.
	e.now = e.now.Add(2 * time.Minute)
	if res := runOK(t, r, input("arn:exec:3")); res.Status != bots.StatusRemediated || c.count() != 2 {
		t.Fatalf("after the window = %+v, runs %d", res, c.count())
	}
}

func TestRails_ClaimStoreErrorRunsNothing(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	rails := e.rails()
	rails.Claims = &statetable.Rails{Client: e.ddb, Name: "no-such-table"}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	if _, err := r.Run(context.Background(), input("arn:exec:1")); err == nil || !strings.Contains(err.Error(), "no-such-table") {
		t.Fatalf("err = %v", err)
	}
	if c.count() != 0 {
		t.Fatal("the bot ran although its claim could not be made")
	}
}

// captureLog swaps the default logger for the test and returns what it wrote.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&syncWriter{w: &buf}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestRails_BlastRadiusHoldsTheActionPastTheLimitAndTheNextHourResets(t *testing.T) {
	e := newRailsEnv(t)
	logs := captureLog(t)
	rails := e.rails()
	rails.PerAccount, rails.Global = 2, 3
	disruptive, evidence := &countingBot{}, &countingBot{}
	rd := Runner{Resolver: &fakeResolver{}, Bot: disruptive.bot(bots.ImpactDisruptive), Rails: rails}
	re := Runner{Resolver: &fakeResolver{}, Bot: evidence.bot(bots.ImpactEvidence), Rails: rails}
	inFor := func(account, instance, exec string) steps.BotInput {
		in := input(exec)
		in.Finding.AccountID, in.Finding.Instance.ID, in.Finding.ID = account, instance, "f-"+instance
		return in
	}
	// Evidence actions and dry runs never count.
	for i, id := range []string{"i-000000e1", "i-000000e2", "i-000000e3"} {
		runOK(t, re, inFor("444455556666", id, "arn:exec:e"+string(rune('0'+i))))
	}
	dry := inFor("444455556666", "i-0000dddd", "arn:exec:dry")
	dry.DryRun = true
	runOK(t, rd, dry)
	for _, id := range []string{"i-00000001", "i-00000002"} {
		if res := runOK(t, rd, inFor("444455556666", id, "arn:exec:"+id)); res.Status != bots.StatusRemediated {
			t.Fatalf("%s = %+v", id, res)
		}
	}
	held := runOK(t, rd, inFor("444455556666", "i-00000003", "arn:exec:i-3"))
	if held.Status != bots.StatusSkipped || !held.Held ||
		held.Reason != "held by the blast-radius limit: 2 disruptive actions in account 444455556666 in the last hour" {
		t.Fatalf("3rd disruptive action in the account = %+v", held)
	}
	if disruptive.count() != 3 { // the dry run and two real runs
		t.Fatalf("disruptive runs = %d", disruptive.count())
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), `"event":"`+deployment.EventBlastRadiusHeld+`"`) {
		t.Errorf("no error-level %s event in the log:\n%s", deployment.EventBlastRadiusHeld, logs)
	}
	// The held action left no claim: once the limit allows, the same finding runs.
	// Another account still has room, until the global cap (3).
	if res := runOK(t, rd, inFor("777788889999", "i-00000004", "arn:exec:i-4")); res.Status != bots.StatusRemediated {
		t.Fatalf("other account = %+v", res)
	}
	if res := runOK(t, rd, inFor("123456789012", "i-00000005", "arn:exec:i-5")); !res.Held || !strings.Contains(res.Reason, "3 disruptive actions in all accounts") {
		t.Fatalf("past the global cap = %+v", res)
	}
	e.now = e.now.Add(time.Hour)
	if res := runOK(t, rd, inFor("444455556666", "i-00000003", "arn:exec:i-3b")); res.Status != bots.StatusRemediated || res.Held {
		t.Fatalf("next hour = %+v", res)
	}
	if evidence.count() != 3 {
		t.Fatalf("evidence runs = %d", evidence.count())
	}
}

// The limit is a sliding window: actions at 10:59 still count at 11:01 (a counter per clock hour allowed
// twice the limit across the boundary), and free up exactly an hour after each was taken.
func TestRails_BlastRadiusIsASlidingHourNotAClockHour(t *testing.T) {
	e := newRailsEnv(t)
	rails := e.rails()
	rails.PerAccount = 2
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	n := 0
	run := func() bots.Result {
		n++
		in := input(fmt.Sprintf("arn:exec:%d", n))
		in.Finding.ID, in.Finding.Instance.ID = fmt.Sprintf("f-%d", n), fmt.Sprintf("i-%08x", n)
		return runOK(t, r, in)
	}
	e.now = time.Date(2026, 3, 1, 10, 59, 0, 0, time.UTC)
	first := e.now
	if run().Status != bots.StatusRemediated {
		t.Fatal("first")
	}
	e.now = time.Date(2026, 3, 1, 10, 59, 40, 0, time.UTC)
	second := e.now
	if run().Status != bots.StatusRemediated {
		t.Fatal("second")
	}
	for _, at := range []time.Time{
		time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC),               // the clock hour turned
		time.Date(2026, 3, 1, 11, 1, 0, 0, time.UTC),               // a minute into it
		first.Add(deployment.BlastRadiusWindow - time.Millisecond), // a hair before the first frees
	} {
		e.now = at
		if res := run(); !res.Held {
			t.Fatalf("at %s, two actions in the last hour: %+v, want held", at.Format("15:04:05.000"), res)
		}
	}
	e.now = first.Add(deployment.BlastRadiusWindow)
	if res := run(); res.Held || res.Status != bots.StatusRemediated {
		t.Fatalf("an hour after the first: %+v, want it to run", res)
	}
	e.now = second.Add(deployment.BlastRadiusWindow - time.Second)
	if res := run(); !res.Held {
		t.Fatalf("before the second frees: %+v, want held", res)
	}
	if got, err := e.state.InWindow(context.Background(), "blast#444455556666", e.now, deployment.BlastRadiusWindow); err != nil || got != 2 {
		t.Errorf("in the window: %d, %v", got, err)
	}
}

func TestRails_ActionThatChangedNothingDoesNotUseUpTheBlastRadius(t *testing.T) {
	e := newRailsEnv(t)
	rails := e.rails()
	rails.PerAccount = 1
	c := &countingBot{next: func(bots.Request) (bots.Result, error) { return bots.Result{Status: bots.StatusAlreadyDone}, nil }}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	runOK(t, r, input("arn:exec:1"))
	c.next = nil
	other := input("arn:exec:2")
	other.Finding.Instance.ID, other.Finding.ID = "i-00000002", "f2"
	if res := runOK(t, r, other); res.Status != bots.StatusRemediated {
		t.Fatalf("after an already-done action = %+v", res)
	}
}

func TestRails_EveryOutcomeLeavesExactlyOneAuditRecordWithBeforeAndAfter(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: e.rails()}
	in := input("arn:exec:1")
	in.MappingKey = "UnauthorizedAccess:EC2/*"
	in.Finding.Type = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
	runOK(t, r, in) // remediated
	e.now = e.now.Add(time.Second)
	runOK(t, r, input("arn:exec:2")) // skipped: duplicate
	e.now = e.now.Add(time.Second)
	c.next = func(bots.Request) (bots.Result, error) { return bots.Result{}, faults.Fail(errors.New("boom")) }
	failing := input("arn:exec:3")
	failing.Finding.Instance.ID = "i-000000ff"
	if _, err := r.Run(context.Background(), failing); err == nil {
		t.Fatal("no error")
	}
	recs := e.records(t, "f1")
	if len(recs) != 3 {
		t.Fatalf("records = %d, want 3: %+v", len(recs), recs)
	}
	done, dup, failed := recs[0], recs[1], recs[2]
	if done.Status != "remediated" || done.Before["state"] != "running" || done.After["state"] != "stopped" ||
		done.MappingKey != "UnauthorizedAccess:EC2/*" || done.FindingType != "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" ||
		done.Execution != "arn:exec:1" || done.Role != "arn:aws:iam::444455556666:role/guardbots-test_bot" ||
		done.Kind != "Instance" || len(done.ResourceIDs) != 1 || done.ResourceIDs[0] != "i-00000001" || !done.Time.Equal(railsT0) {
		t.Errorf("done record = %+v", done)
	}
	if dup.Status != "skipped" || !strings.Contains(dup.Reason, "already handled") || dup.Before == nil || dup.After == nil {
		t.Errorf("duplicate record = %+v", dup)
	}
	if failed.Status != "failed" || !strings.Contains(failed.Error, "boom") {
		t.Errorf("failed record = %+v", failed)
	}
	byRes, err := e.audit.ByResource(context.Background(), statetable.AuditResource("444455556666", "eu-west-1", "Instance", "i-00000001"))
	if err != nil || len(byRes) != 2 {
		t.Fatalf("by resource = %d records, %v", len(byRes), err)
	}
}

func TestRails_AuditFailureAfterTheActionIsReportedNotHidden(t *testing.T) {
	e := newRailsEnv(t)
	rails := e.rails()
	rails.Audit = &statetable.Audit{Client: e.ddb, Name: "no-such-audit-table"}
	c := &countingBot{}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	res := runOK(t, r, input("arn:exec:1"))
	if res.Status != bots.StatusRemediated || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "audit record not written") {
		t.Fatalf("result = %+v: the action happened, and the audit gap must be named", res)
	}
	c.next = func(bots.Request) (bots.Result, error) { return bots.Result{}, faults.Fail(errors.New("boom")) }
	other := input("arn:exec:2")
	other.Finding.ID = "f2"
	_, err := r.Run(context.Background(), other)
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "audit record was not written") || faults.Classify(err) != faults.Failed {
		t.Fatalf("failed action with a failed audit: %v (%s)", err, faults.Classify(err))
	}
}

// opLog records the operation names of the calls made through a config (to prove a bot never ran).
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("opLog", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		l.mu.Lock()
		l.ops = append(l.ops, awsmiddleware.GetServiceID(ctx)+":"+awsmiddleware.GetOperationName(ctx))
		l.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (l *opLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string{}, l.ops...)
}

// kumoResolver hands every bot a configuration on kumo.
type kumoResolver struct{ cfg aws.Config }

func (k kumoResolver) ForBot(context.Context, string, string, string, string, string) (aws.Config, string, error) {
	return k.cfg, "", nil
}

func TestRails_ExemptInstanceIsUntouchedInTheEmulator(t *testing.T) {
	e := newRailsEnv(t)
	ops := &opLog{}
	cfg := kumoConfig(e.srv.URL, ops.option)
	ctx := context.Background()
	api := ec2.NewFromConfig(kumoConfig(e.srv.URL))
	run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if _, err := api.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
		Tags: []ec2types.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("payments prod, ticket SEC-12")}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := bots.Lookup("ec2_stop_instance")
	rails := e.rails()
	rails.Exempt = exempt.Check
	r := Runner{Bot: b, Resolver: kumoResolver{cfg}, Rails: rails}
	f := &finding.Finding{ID: "f-exempt", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: id}}
	res, err := r.Run(ctx, steps.BotInput{Finding: f, Execution: "arn:exec:1", Action: mapping.Action{Bot: b.Name, Mode: "AUTO"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != bots.StatusSkipped || res.Reason != "exempt: instance "+id+" is tagged guardbots:exempt" {
		t.Fatalf("result = %+v", res)
	}
	if got := ops.list(); len(got) != 1 || got[0] != "EC2:DescribeTags" {
		t.Errorf("calls = %v: only the exemption read may run", got)
	}
	desc, err := api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameRunning {
		t.Errorf("exempt instance is %s", st)
	}
	if recs := e.records(t, "f-exempt"); len(recs) != 1 || recs[0].Status != "skipped" || !strings.Contains(recs[0].Reason, "exempt") {
		t.Errorf("audit = %+v", recs)
	}
	// The tag removed, the same finding is acted on: exemption is read live, not remembered.
	if _, err := api.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(bots.ExemptionTag)}}}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Run(ctx, steps.BotInput{Finding: f, Execution: "arn:exec:2", Action: mapping.Action{Bot: b.Name, Mode: "AUTO"}}); err != nil || res.Status != bots.StatusRemediated {
		t.Fatalf("after the tag was removed = %+v, %v", res, err)
	}
}

func TestRails_ExemptBucketIsUntouchedInTheEmulator(t *testing.T) {
	e := newRailsEnv(t)
	ops := &opLog{}
	cfg := kumoConfig(e.srv.URL, ops.option)
	ctx := context.Background()
	api := s3.NewFromConfig(kumoConfig(e.srv.URL))
	bucket := "exempt-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("")}}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := bots.Lookup("s3_block_public_access")
	rails := e.rails()
	rails.Exempt = exempt.Check
	r := Runner{Bot: b, Resolver: kumoResolver{cfg}, Rails: rails}
	f := &finding.Finding{ID: "f-bucket", AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
		ResourceKind: finding.KindS3Bucket, Buckets: []finding.Bucket{{Name: bucket}}}
	res, err := r.Run(ctx, steps.BotInput{Finding: f, Execution: "arn:exec:1", Action: mapping.Action{Bot: b.Name, Mode: "AUTO"}})
	if err != nil || res.Status != bots.StatusSkipped || res.Reason != "exempt: bucket "+bucket+" is tagged guardbots:exempt" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if got := ops.list(); len(got) != 1 || got[0] != "S3:GetBucketTagging" {
		t.Errorf("calls = %v", got)
	}
	if _, err := api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)}); err == nil {
		t.Error("the exempt bucket got a public access block")
	}
}

func TestRails_ExemptionReadErrorRunsNothing(t *testing.T) {
	e := newRailsEnv(t)
	c := &countingBot{}
	rails := e.rails()
	rails.Exempt = func(context.Context, aws.Config, []finding.Target) (exempt.Verdict, error) {
		return exempt.Verdict{}, faults.Fail(&smithy.GenericAPIError{Code: "UnauthorizedOperation"})
	}
	r := Runner{Resolver: &fakeResolver{}, Bot: c.bot(bots.ImpactDisruptive), Rails: rails}
	if _, err := r.Run(context.Background(), input("arn:exec:1")); err == nil || faults.Classify(err) != faults.Failed {
		t.Fatalf("err = %v", err)
	}
	if c.count() != 0 {
		t.Fatal("the bot ran although the exemption could not be read")
	}
	if recs := e.records(t, "f1"); len(recs) != 1 || recs[0].Status != "failed" {
		t.Errorf("audit = %+v", recs)
	}
}

func TestRails_NotifyOnlyIsAuditedButNeitherClaimedNorCounted(t *testing.T) {
	e := newRailsEnv(t)
	b, _ := bots.Lookup("notify_only")
	rails := e.rails()
	rails.Exempt = func(context.Context, aws.Config, []finding.Target) (exempt.Verdict, error) {
		t.Fatal("exemption read for a bot that changes nothing")
		return exempt.Verdict{}, nil
	}
	r := Runner{Bot: b, Resolver: &fakeResolver{}, Rails: rails}
	for _, exec := range []string{"arn:exec:1", "arn:exec:2"} {
		res, err := r.Run(context.Background(), steps.BotInput{Finding: ec2Finding(), Execution: exec, Action: mapping.Action{Bot: "notify_only", Mode: "AUTO"}})
		if err != nil || res.Status != bots.StatusNotified {
			t.Fatalf("%s = %+v, %v", exec, res, err)
		}
	}
	if recs := e.records(t, "f1"); len(recs) != 2 {
		t.Errorf("audit records = %d", len(recs))
	}
}

func TestRailsFromEnv_DefaultsAndTheStateTableIsRequiredForBotsThatChangeThings(t *testing.T) {
	t.Setenv(deployment.EnvStateTable, "")
	t.Setenv(deployment.EnvAuditTable, "")
	stop, _ := bots.Lookup("ec2_stop_instance")
	if _, err := RailsFromEnv(aws.Config{}, stop); err == nil || !strings.Contains(err.Error(), deployment.EnvStateTable) {
		t.Fatalf("err = %v", err)
	}
	t.Setenv(deployment.EnvStateTable, "guardbots-state")
	r, err := RailsFromEnv(aws.Config{}, stop)
	if err != nil {
		t.Fatal(err)
	}
	if r.DedupWindow != 24*time.Hour || r.DedupLease != 15*time.Minute || r.PerAccount != 10 || r.Global != 50 ||
		r.Claims == nil || r.Counter == nil || r.Exempt == nil || r.Audit != nil {
		t.Fatalf("rails = %+v", r)
	}
	t.Setenv(deployment.EnvDedupWindow, "1h")
	t.Setenv(deployment.EnvBlastPerAccount, "3")
	t.Setenv(deployment.EnvAuditTable, "guardbots-audit")
	t.Setenv(deployment.EnvAuditRetention, "30d")
	if r, err = RailsFromEnv(aws.Config{}, stop); err != nil || r.DedupWindow != time.Hour || r.PerAccount != 3 ||
		r.Audit.(*statetable.Audit).Retention != 30*24*time.Hour {
		t.Fatalf("rails = %+v, %v", r, err)
	}
	t.Setenv(deployment.EnvBlastGlobal, "none")
	if _, err := RailsFromEnv(aws.Config{}, stop); err == nil || !strings.Contains(err.Error(), deployment.EnvBlastGlobal) {
		t.Fatalf("err = %v", err)
	}
}

// The result's new fields travel to notify as JSON.
func TestResult_HeldAndWarningsAreInTheOutput(t *testing.T) {
	b, _ := json.Marshal(bots.Result{Bot: "x", Status: bots.StatusSkipped, Held: true, Warnings: []string{"w"}})
	if !strings.Contains(string(b), `"held":true`) || !strings.Contains(string(b), `"warnings":["w"]`) {
		t.Fatal(string(b))
	}
}
