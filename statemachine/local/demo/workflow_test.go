package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// The workflow tests run the committed definition with aws-local-stepfunctions, every Task calling the
// real bootstrap through kumo's Lambda API. One build per test binary (reused across runs when the
// sources are unchanged, like make demo's); one stack per test, since a stack's bootstraps carry its
// configuration.

var (
	buildOnce sync.Once
	bins      map[string]string
	buildErr  error
	stackN    atomic.Int32
)

const moduleRoot = "../../.."

func built(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs every Lambda bootstrap")
	}
	buildOnce.Do(func() {
		bins, buildErr = Build(context.Background(), moduleRoot, filepath.Join(moduleRoot, "build", "host"), nil, nil)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

func newStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	b := built(t)
	opts.Suffix = fmt.Sprintf("-t%d-%d", os.Getpid()%10000, stackN.Add(1))
	s, err := Start(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func tools(t *testing.T) aslrun.Tools {
	t.Helper()
	tl, err := aslrun.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func run(t *testing.T, s *Stack, name string, event []byte) *Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := s.Run(ctx, tools(t), name, s.Resources.Substitute(event), RunOptions{InstantRetries: true})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func runFinding(t *testing.T, s *Stack, name string) *Execution {
	t.Helper()
	f, err := FindingNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, s, name, f.Event)
}

func readBack(t *testing.T, s *Stack) State {
	t.Helper()
	st, err := s.ReadBack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// oneNotification is the single message the subscriber got.
func oneNotification(t *testing.T, ex *Execution) Notification {
	t.Helper()
	if len(ex.Notifications) != 1 {
		t.Fatalf("%d notifications received, want exactly 1 (calls %v)", len(ex.Notifications), ex.Calls())
	}
	return ex.Notifications[0]
}

func wantCalls(t *testing.T, ex *Execution, want ...string) {
	t.Helper()
	if got := ex.Calls(); !slices.Equal(got, want) {
		t.Fatalf("functions invoked %v, want %v", got, want)
	}
}

func wantClean(t *testing.T, ex *Execution, e Expected) {
	t.Helper()
	if bad := e.Check(ex); len(bad) > 0 {
		t.Fatalf("execution: %s\ncalls %v", strings.Join(bad, "; "), ex.Calls())
	}
}

func TestWorkflow_EC2FindingTagsThenStopsTheInstanceAndNotifiesOnce(t *testing.T) {
	s := newStack(t, Options{})
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	wantClean(t, ex, Expectations(false)["ec2_malicious_ip_caller_custom"])
	// Evidence before containment: the declared order, one action at a time.
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_tag_instance", "ec2_stop_instance", "notify")
	if st := readBack(t, s); st.Instance != "stopped" && st.Instance != "stopping" {
		t.Errorf("instance is %s after the workflow", st.Instance)
	}
	n := oneNotification(t, ex)
	if len(n.Body.Actions) != 2 || n.Body.Actions[0].Bot != "ec2_tag_instance" || n.Body.Actions[1].Bot != "ec2_stop_instance" {
		t.Errorf("notified actions %+v, want tag then stop", n.Body.Actions)
	}
	if n.Body.Execution.ARN != ex.ARN {
		t.Errorf("notification links execution %q, want %q (the context object)", n.Body.Execution.ARN, ex.ARN)
	}
}

// Stolen instance credentials, end to end in kumo with the real bootstraps: the two IAM bots deny the
// stolen session and the attacker's address on the instance's role (read back from kumo: one policy
// each, its Sid naming the finding), and the EC2 bot tags the instance the session is named after — a
// related target the runner found live and read the exemption tag of.
func TestWorkflow_CredentialExfiltrationDeniesTheSessionAndTheAddressAndTagsTheInstance(t *testing.T) {
	s := newStack(t, Options{})
	ex := runFinding(t, s, "iam_instance_credential_exfiltration")
	wantClean(t, ex, Expectations(false)["iam_instance_credential_exfiltration"])
	st := readBack(t, s)
	r := s.Resources
	session := r.RoleID + ":" + r.InstanceID
	if len(st.Denies) != 2 || !strings.HasPrefix(st.SessionDenied, session+", tokens issued before ") || !strings.HasPrefix(st.AddressDenied, "[192.0.2.180/32] until ") {
		t.Fatalf("role %s read back: denies %q, session %q, address %q", r.RoleName, st.Denies, st.SessionDenied, st.AddressDenied)
	}
	const id = "b2d4f6a8c0e2b4d6f8a0c2e4b6d8f062"
	for _, want := range []string{DenyPolicyPrefix + "session-" + id + ": Sid GuardbotsDenySession" + id, DenyPolicyPrefix + "source-ip-" + id + ": Sid GuardbotsDenySourceIp" + id} {
		if !slices.ContainsFunc(st.Denies, func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("no %q among %q", want, st.Denies)
		}
	}
	if st.RevokedBefore != "" {
		t.Error("every session of the role was revoked: only the attacker's should be denied")
	}
	tags := ec2test.KumoTagsOf(t, ec2.NewFromConfig(s.AWS), r.InstanceID)
	if tags[bots.TagFindingID] != id || tags[bots.TagBot] != "ec2_tag_instance" {
		t.Errorf("instance %s tags %v, want the finding's markers", r.InstanceID, tags)
	}
	// The state table holds a record of each deny, for the undo bots and the clean-up.
	for _, k := range []string{"session", "source-ip"} {
		key := "iam-deny#" + k + "#aws#" + Account + "#role#" + r.RoleName + "#" + id
		if _, found, err := s.StateTable().Get(context.Background(), key); err != nil || !found {
			t.Errorf("no state record %s (%v)", key, err)
		}
	}
}

func TestWorkflow_S3FindingBlocksThePublicAccessOfTheBucket(t *testing.T) {
	s := newStack(t, Options{})
	ex := runFinding(t, s, "s3_bucket_block_public_access_disabled")
	wantClean(t, ex, Expectations(false)["s3_bucket_block_public_access_disabled"])
	if st := readBack(t, s); !st.BucketBlocked {
		t.Errorf("bucket %s: %s after the workflow", s.Resources.Bucket, st.BucketBlock)
	}
}

func TestWorkflow_NoMatchingActionSkipsNotifiesAndRunsNoBot(t *testing.T) {
	s := newStack(t, Options{})
	ex := runFinding(t, s, "unmapped_bedrock_model_invocation")
	wantCalls(t, ex, "parse", "transform", "match", "notify")
	if ex.Status != "SUCCEEDED" || !slices.Contains(ex.Entered(), "Nothing to remediate") {
		t.Fatalf("execution %s through %v", ex.Status, ex.Entered())
	}
	if n := oneNotification(t, ex); n.Outcome != notify.OutcomeSkipped || !strings.Contains(n.Body.Summary, "no mapping entry") {
		t.Errorf("notified %s: %s", n.Outcome, n.Body.Summary)
	}
}

func TestWorkflow_MalformedEventIsRejectedNotifiedWithTheParseErrorAndFails(t *testing.T) {
	s := newStack(t, Options{})
	ex := run(t, s, "malformed", []byte(`{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`))
	wantCalls(t, ex, "parse", "notify")
	if ex.Status != "FAILED" {
		t.Fatalf("execution %s, want FAILED", ex.Status)
	}
	n := oneNotification(t, ex)
	if n.Outcome != notify.OutcomeRejected || n.Body.Error == nil || n.Body.Error.Step != "parse" || n.Body.Error.Error != "Guardbots.Rejected" {
		t.Fatalf("notified %s with error %+v", n.Outcome, n.Body.Error)
	}
	if !strings.Contains(n.Body.Error.Cause, "aws.ec2") {
		t.Errorf("cause %q does not say what was wrong with the event", n.Body.Error.Cause)
	}
}

func TestWorkflow_ThrottledBotIsRetriedAndSucceeds(t *testing.T) {
	s := newStack(t, Options{InvokeErrors: map[string][]string{"ec2_stop_instance": {"Guardbots.Throttled"}}})
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_tag_instance", "ec2_stop_instance", "ec2_stop_instance", "notify")
	if ex.Status != "SUCCEEDED" || !slices.ContainsFunc(ex.Events, func(e aslrun.Event) bool { return e.Type == "StateRetried" && e.State == "ec2_stop_instance" }) {
		t.Fatalf("execution %s (%s), events %+v: want the throttle retried", ex.Status, ex.Cause, ex.Events)
	}
	n := oneNotification(t, ex)
	if n.Outcome != notify.OutcomeRemediated || len(n.Body.Actions) != 2 || n.Body.Actions[1].Status != bots.StatusRemediated {
		t.Errorf("notified %s with %+v, want the retried stop remediated", n.Outcome, n.Body.Actions)
	}
	if st := readBack(t, s); st.Instance != "stopped" && st.Instance != "stopping" {
		t.Errorf("instance is %s after the retry", st.Instance)
	}
}

// deniedEC2 answers StopInstances as AWS does when the role lacks the permission, so a bootstrap pointed
// at it fails for real in the bot's own call, with Guardbots.Failed and no retry. Every other EC2 call
// (the exemption rail's DescribeTags) goes on to kumo once the test sets kumo's URL.
func deniedEC2(t *testing.T) (string, *atomic.Pointer[string]) {
	t.Helper()
	var kumoURL atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if target := kumoURL.Load(); target != nil && form.Get("Action") != "StopInstances" {
			u, _ := url.Parse(*target)
			r.Body = io.NopCloser(bytes.NewReader(body))
			httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &kumoURL
}

// stackDenyingStop is a stack whose ec2_stop_instance is denied StopInstances, with mapping.
func stackDenyingStop(t *testing.T, mapping []byte) *Stack {
	t.Helper()
	denied, forward := deniedEC2(t)
	s := newStack(t, Options{Mapping: mapping, FunctionEnv: map[string][]string{"ec2_stop_instance": {"AWS_ENDPOINT_URL_EC2=" + denied}}})
	forward.Store(&s.Kumo.URL)
	return s
}

// failingStopMapping runs ec2_stop_instance (failing) before ec2_tag_instance, with onError as given.
func failingStopMapping(onError string) []byte {
	return []byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
	  "actions": [{"bot": "ec2_stop_instance", "onError": "` + onError + `"}, {"bot": "ec2_tag_instance"}]}]}`)
}

func TestWorkflow_BotThatKeepsFailingIsRecordedFailedOtherOutcomesKeptNotifiedAndFails(t *testing.T) {
	s := stackDenyingStop(t, failingStopMapping("continue"))
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_stop_instance", "ec2_tag_instance", "notify")
	if ex.Status != "FAILED" {
		t.Fatalf("execution %s, want FAILED", ex.Status)
	}
	n := oneNotification(t, ex)
	if n.Outcome != notify.OutcomePartial || len(n.Body.Actions) != 2 {
		t.Fatalf("notified %s with actions %+v", n.Outcome, n.Body.Actions)
	}
	stop, tag := n.Body.Actions[0], n.Body.Actions[1]
	if stop.Status != bots.StatusFailed || stop.Error != "Guardbots.Failed" || !strings.Contains(stop.Cause, "UnauthorizedOperation") {
		t.Errorf("stop action %+v, want failed with the UnauthorizedOperation cause", stop)
	}
	if tag.Status != bots.StatusRemediated {
		t.Errorf("tag action %+v: onError continue must let it run", tag)
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("instance is %s, but the stop failed", st.Instance)
	}
}

func TestWorkflow_OnErrorStopSkipsTheRemainingActions(t *testing.T) {
	s := stackDenyingStop(t, failingStopMapping("stop"))
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	if ex.Status != "FAILED" {
		t.Fatalf("execution %s, want FAILED", ex.Status)
	}
	n := oneNotification(t, ex)
	if len(n.Body.Actions) != 2 {
		t.Fatalf("notified actions %+v", n.Body.Actions)
	}
	if tag := n.Body.Actions[1]; tag.Status != bots.StatusSkipped || !strings.Contains(tag.Reason, "onError is stop") {
		t.Errorf("tag action %+v, want skipped because the stop failed with onError stop", tag)
	}
	if n.Outcome != notify.OutcomeFailed {
		t.Errorf("notified outcome %s, want %s", n.Outcome, notify.OutcomeFailed)
	}
}

func TestWorkflow_DryRunChangesNothingAndNotifiesWhatWouldBeDone(t *testing.T) {
	s := newStack(t, Options{DryRun: true})
	want := Expectations(true)
	scenes := []string{"ec2_malicious_ip_caller_custom", "iam_instance_credential_exfiltration", "s3_bucket_block_public_access_disabled"}
	for _, name := range scenes {
		ex := runFinding(t, s, name)
		wantClean(t, ex, want[name])
		n := oneNotification(t, ex)
		for _, a := range n.Body.Actions {
			if a.Status != bots.StatusDryRun || len(a.Changes) == 0 || !strings.HasPrefix(a.Changes[0], "would ") {
				t.Errorf("%s: notified action %+v, want dry-run with what would be done", name, a)
			}
		}
	}
	// The hourly clean-up in a dry run says what it would remove, and removes nothing.
	if err := s.PlantExpiredDeny(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantClean(t, run(t, s, CleanupScene, steps.ScheduleRequest), want[CleanupScene])
	st := readBack(t, s)
	for _, name := range append(scenes, CleanupScene) {
		if e := want[name]; e.Resource != nil {
			if p := e.Resource(st); p != "" {
				t.Errorf("%s: %s", name, p)
			}
		}
	}
}

// The demo mapping is the default mapping but for the instance-credential rule, whose chain on the
// instance stops at ec2_tag_instance (kumo lacks calls of the others).
func TestDemoMapping_IsTheDefaultMappingWithTheCredentialChainCutForKumo(t *testing.T) {
	var demo, def struct{ Rules []map[string]any }
	if err := json.Unmarshal(Mapping(), &demo); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mapping.Default(), &def); err != nil {
		t.Fatal(err)
	}
	if len(demo.Rules) != len(def.Rules) {
		t.Fatalf("demo mapping has %d rules, the default %d", len(demo.Rules), len(def.Rules))
	}
	// Beside the default's rules, the demo adds one scope: APPROVE in the workload OU (the production
	// account), so one finding type is AUTO in the sandbox and APPROVE in production.
	scoped := 0
	for _, r := range demo.Rules {
		if sc, ok := r["scopes"]; ok {
			scoped++
			if r["match"] != "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom" || !strings.Contains(fmt.Sprint(sc), "ou-demo-workload") {
				t.Errorf("scopes on %v: %v", r["match"], sc)
			}
			delete(r, "scopes")
		}
	}
	if scoped != 1 {
		t.Errorf("%d rules with scopes, want the one production scope", scoped)
	}
	bots := func(r map[string]any) []string {
		var out []string
		for _, a := range r["actions"].([]any) {
			out = append(out, a.(map[string]any)["bot"].(string))
		}
		return out
	}
	for i, d := range def.Rules {
		got := demo.Rules[i]
		if fmt.Sprint(got["match"]) != fmt.Sprint(d["match"]) {
			t.Fatalf("rule %d matches %v, the default's %v", i, got["match"], d["match"])
		}
		if !strings.Contains(fmt.Sprint(d["match"]), "InstanceCredentialExfiltration") {
			if fmt.Sprint(got) != fmt.Sprint(d) {
				t.Errorf("rule %d differs from mapping.Default()'s: copy the default again", i)
			}
			continue
		}
		if want := bots(d)[:3]; !slices.Equal(bots(got), want) || want[2] != "ec2_tag_instance" {
			t.Errorf("the credential rule runs %v, want the default's first three %v", bots(got), want)
		}
	}
}

func TestDemoFindings_AreNotSamplesAndCarryOnlyKnownPlaceholders(t *testing.T) {
	fs, err := Findings()
	if err != nil || len(fs) != 7 {
		t.Fatalf("%d findings, %v", len(fs), err)
	}
	r := Resources{InstanceID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/p", RoleName: "r", RoleID: "AROAEXAMPLE", Bucket: "b-b-b"}
	for _, f := range fs {
		e := string(r.Substitute(f.Event))
		if strings.Contains(e, "{{") {
			t.Errorf("%s: a placeholder is left after substitution", f.Name)
		}
		if strings.Contains(strings.ToLower(e), "sample") {
			t.Errorf("%s: mentions sample: the demo findings must not be GuardDuty samples", f.Name)
		}
	}
}

// forgedEC2 is the demo EC2 finding with its instance id replaced: what someone able to start an
// execution would send to stop an instance of their choosing.
func forgedEC2(t *testing.T, s *Stack, instanceID string) []byte {
	t.Helper()
	f, err := FindingNamed("ec2_malicious_ip_caller_custom")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(s.Resources.Substitute(f.Event), []byte(s.Resources.InstanceID), []byte(instanceID))
}

// A finding id GuardDuty never held is rejected at verify and no bot runs.
func TestWorkflow_FindingGuardDutyDoesNotHoldIsRejectedAtVerifyAndNoBotRuns(t *testing.T) {
	s := newStack(t, Options{})
	f, _ := FindingNamed("ec2_malicious_ip_caller_custom")
	event := s.Resources.Substitute(f.Event)
	unknown := bytes.ReplaceAll(event, []byte(findingIDOf(event)), []byte("0123456789abcdef0123456789abcdef"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	ex, err := s.Run(ctx, tools(t), "forged-unknown-id", unknown, RunOptions{InstantRetries: true, NotInGuardDuty: true})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, ex, "parse", "transform", "match", "verify", "notify")
	if ex.Status != "FAILED" || len(ex.Audit) != 0 {
		t.Errorf("execution %s with %d audit records, want FAILED and none", ex.Status, len(ex.Audit))
	}
	n := oneNotification(t, ex)
	if n.Outcome != notify.OutcomeRejected || n.Body.Error == nil || n.Body.Error.Step != "verify" || !strings.Contains(n.Body.Error.Cause, "GuardDuty has no finding") {
		t.Fatalf("notified %s with error %+v, want rejected at verify", n.Outcome, n.Body.Error)
	}
	// The message shows the forged finding only as the sender's claim.
	if n.Body.FindingFrom != "event" || !strings.Contains(n.Body.Summary, "not read back from GuardDuty") {
		t.Errorf("findingFrom %q, summary %q", n.Body.FindingFrom, n.Body.Summary)
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("instance is %s after a forged finding", st.Instance)
	}
}

// GuardDuty's finding is about another instance; the event names the demo's. The bots act on GuardDuty's
// instance (not in this account's kumo, so nothing is found to stop), never on the one the event names.
func TestWorkflow_ForgedInstanceIsReplacedByGuardDutysAndLeftRunning(t *testing.T) {
	s := newStack(t, Options{})
	const other = "i-0aaaaaaaaaaaaaaaa"
	hold(t, s, forgedEC2(t, s, other))
	f, _ := FindingNamed("ec2_malicious_ip_caller_custom")
	ex := runRaw(t, s, "forged-instance", s.Resources.Substitute(f.Event))
	for _, in := range ex.BotInvokes() {
		var b struct {
			Finding struct{ Instance struct{ ID string } } `json:"finding"`
		}
		_ = json.Unmarshal(in.Input, &b)
		if b.Finding.Instance.ID != other {
			t.Errorf("%s got instance %q, want GuardDuty's %s", in.Function, b.Finding.Instance.ID, other)
		}
	}
	if len(ex.BotInvokes()) == 0 {
		t.Fatalf("no bot ran: %v", ex.Calls())
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("the instance the event named is %s", st.Instance)
	}
	n := oneNotification(t, ex)
	if !strings.Contains(n.Body.Decision.Verification, `instance (input "`+s.Resources.InstanceID+`", GuardDuty "`+other+`")`) {
		t.Errorf("verification %q does not name the difference", n.Body.Decision.Verification)
	}
}

func TestWorkflow_ExemptInstanceIsLeftRunningAndTheNotificationSaysExempt(t *testing.T) {
	s := newStack(t, Options{})
	if _, err := ec2.NewFromConfig(s.AWS).CreateTags(context.Background(), &ec2.CreateTagsInput{
		Resources: []string{s.Resources.InstanceID},
		Tags:      []ec2types.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("payments on-call")}},
	}); err != nil {
		t.Fatal(err)
	}
	ex := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s (%s)", ex.Status, ex.Cause)
	}
	n := oneNotification(t, ex)
	if len(n.Body.Actions) != 2 {
		t.Fatalf("notified actions %+v", n.Body.Actions)
	}
	for _, a := range n.Body.Actions {
		if a.Status != bots.StatusSkipped || !strings.Contains(a.Reason, "exempt") || !strings.Contains(a.Reason, s.Resources.InstanceID) {
			t.Errorf("action %+v, want skipped: exempt naming the instance", a)
		}
	}
	if !strings.Contains(n.Raw, "exempt") {
		t.Errorf("notification does not say exempt: %s", n.Raw)
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("exempt instance is %s", st.Instance)
	}
}

func TestWorkflow_DuplicateDeliveryRunsTheBotOnceAndNamesTheFirstExecution(t *testing.T) {
	s := newStack(t, Options{})
	first := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	wantClean(t, first, Expectations(false)["ec2_malicious_ip_caller_custom"])
	if len(first.Audit) != 2 || first.Audit[1].Bot != "ec2_stop_instance" || first.Audit[1].Before["state"] != "running" || first.Audit[1].After["state"] != "stopped" {
		t.Fatalf("first execution's audit records %+v, want tag then stop with before and after state", first.Audit)
	}
	// EventBridge delivers the same finding again: a new execution, same finding id.
	second := runFinding(t, s, "ec2_malicious_ip_caller_custom")
	if second.Status != "SUCCEEDED" {
		t.Fatalf("second execution %s (%s)", second.Status, second.Cause)
	}
	n := oneNotification(t, second)
	for _, a := range n.Body.Actions {
		if a.Status != bots.StatusSkipped || !strings.Contains(a.Reason, "already handled by execution "+first.ARN) {
			t.Errorf("second delivery: action %+v, want skipped: already handled by execution %s", a, first.ARN)
		}
	}
	if len(second.Audit) != 2 || second.Audit[1].Status != string(bots.StatusSkipped) {
		t.Errorf("second execution's audit records %+v, want both actions recorded skipped", second.Audit)
	}
}

func TestWorkflow_ExemptRoleKeepsItsSessionsTagsReadThroughTheIAMShim(t *testing.T) {
	s := newStack(t, Options{})
	// Tagged after creation: the shim answers ListRoleTags from kumo's live role, not from a snapshot.
	if _, err := iam.NewFromConfig(s.AWS).TagRole(context.Background(), &iam.TagRoleInput{RoleName: aws.String(s.Resources.RoleName),
		Tags: []iamtypes.Tag{{Key: aws.String(bots.ExemptionTag), Value: aws.String("break-glass")}}}); err != nil {
		t.Fatal(err)
	}
	ex := runFinding(t, s, "iam_instance_credential_exfiltration")
	if !slices.ContainsFunc(ex.StandIns, func(c string) bool { return strings.HasPrefix(c, "iam:ListRoleTags "+s.Resources.RoleName) }) {
		t.Errorf("the exemption rail did not read the role's tags through the shim: %v", ex.StandIns)
	}
	n := oneNotification(t, ex)
	if len(n.Body.Actions) != 3 {
		t.Fatalf("notified actions %+v, want the two denies and the tag", n.Body.Actions)
	}
	for _, a := range n.Body.Actions[:2] {
		if a.Status != bots.StatusSkipped || !strings.Contains(a.Reason, "exempt: iam-role "+s.Resources.RoleName) {
			t.Errorf("%s: %s (%s), want skipped: the role is exempt", a.Bot, a.Status, a.Reason)
		}
	}
	// The instance is not the role: its own exemption tag decides for the EC2 bot.
	if a := n.Body.Actions[2]; a.Bot != "ec2_tag_instance" || a.Status != bots.StatusRemediated {
		t.Errorf("%s: %s (%s), want the instance tagged", a.Bot, a.Status, a.Reason)
	}
	if st := readBack(t, s); len(st.Denies) != 0 || st.RevokedBefore != "" {
		t.Errorf("exempt role got %q %s", st.Denies, st.RevokedBefore)
	}
}

// make demo's last scene: the first finding replayed with edited fields acts on the copy GuardDuty holds
// (the demo's instance, already handled by the first execution), not on the instance the replay names.
func TestWorkflow_EditedReplayActsOnTheCopyGuardDutyHolds(t *testing.T) {
	s := newStack(t, Options{})
	first := runFinding(t, s, ReplayOf)
	wantClean(t, first, Expectations(false)[ReplayOf])
	replay, err := EditedReplay()
	if err != nil {
		t.Fatal(err)
	}
	ex := run(t, s, replay.Name, replay.Event)
	wantClean(t, ex, Expectations(false)[replay.Name])
	if ex.GuardDuty == nil || ex.GuardDuty.Stored || !strings.Contains(ex.GuardDuty.String(), "already holds finding") {
		t.Errorf("stand-in: %v", ex.GuardDuty)
	}
	for _, a := range oneNotification(t, ex).Body.Actions {
		if !strings.Contains(a.Reason, "already handled by execution "+first.ARN) {
			t.Errorf("action %+v, want skipped: already handled by the first execution", a)
		}
	}
}
