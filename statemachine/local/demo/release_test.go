package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// Release requests end to end (README "Notifications: mail, chat, events, metrics", Release): the chat's
// Release button starts an execution with {"guardbots":"release","findingId":…,"accountId":…,"region":…}.
// Here the demo's instance-credential finding is contained first — iam_deny_session and
// iam_deny_source_ip put two deny policies on the instance's role, read back from kumo, and record them
// in the state table — then released through the committed definition: parse, transform, match, verify
// (GuardDuty's copy, the registry's undo bots in APPROVE mode, signed), the approval wait, the undo bots
// and notify, every Task the real bootstrap. The IAM pair is the one kumo serves end to end (its
// PutRolePolicy, GetRolePolicy and DeleteRolePolicy); ec2_release_quarantine needs
// ModifyNetworkInterfaceAttribute, which kumo lacks, and is planned for the same finding (an instance's
// credentials), where it finds no quarantine record and changes nothing.

// credentialFinding is the demo finding whose containment the tests release.
const credentialFinding = "iam_instance_credential_exfiltration"

// releasePlan is what verify plans for it: every undo bot of the registry for an AccessKey finding.
var releasePlan = []string{"ec2_release_quarantine", "iam_undo_deny_session", "iam_undo_deny_source_ip"}

// alice is an approver's answer to the approval request (send-task-success's output).
var alice = map[string]any{"approved": true, "approver": "alice"}

// approvalHistory stands in for what Step Functions records of the approval Task and neither local tool
// keeps (kumo's history of the placeholder execution holds its start and end; aws-local-stepfunctions
// has none), which each undo bot reads to confirm its approval before it acts (shared/plan/history.go).
// The approving override (approves) reports each approval Task's parameters — as aws-local-stepfunctions
// resolved them from the committed definition — and the answer it returns; GetExecutionHistory of that
// execution then shows exactly those, in Step Functions' event shapes (plantest.History). Every other
// call, and the history of an execution it was told nothing about, goes on to kumo.
type approvalHistory struct {
	srv  *httptest.Server
	kumo atomic.Pointer[url.URL]

	mu    sync.Mutex
	tasks map[string][]approvalTask // execution ARN → approval Tasks in the order answered
	reads map[string]int            // execution ARN → GetExecutionHistory requests answered from tasks
}

type approvalTask struct {
	Parameters json.RawMessage `json:"parameters"`
	Answer     any             `json:"answer"`
}

func newApprovalHistory(t *testing.T) *approvalHistory {
	t.Helper()
	h := &approvalHistory{tasks: map[string][]approvalTask{}, reads: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve)) // 127.0.0.1
	t.Cleanup(h.srv.Close)
	return h
}

func (h *approvalHistory) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Path == "/approval" {
		var task approvalTask
		var p struct {
			Payload struct{ Execution string } `json:"Payload"`
		}
		if json.Unmarshal(body, &task) != nil || json.Unmarshal(task.Parameters, &p) != nil || p.Payload.Execution == "" {
			http.Error(w, "not an approval Task's parameters and answer", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.tasks[p.Payload.Execution] = append(h.tasks[p.Payload.Execution], task)
		h.mu.Unlock()
		return
	}
	var in struct {
		ExecutionArn string `json:"executionArn"`
	}
	_ = json.Unmarshal(body, &in)
	h.mu.Lock()
	tasks, ok := h.tasks[in.ExecutionArn]
	if ok && r.Header.Get("X-Amz-Target") == "AWSStepFunctions.GetExecutionHistory" {
		h.reads[in.ExecutionArn]++
		h.mu.Unlock()
		hist := plantest.NewHistory(in.ExecutionArn)
		for _, task := range tasks {
			var p struct {
				Payload struct{ Index int } `json:"Payload"`
			}
			_ = json.Unmarshal(task.Parameters, &p)
			hist.Iteration(p.Payload.Index, func() { hist.ApprovalScheduled(string(task.Parameters), task.Answer) })
		}
		b, _ := json.Marshal(map[string]any{"events": hist.Events})
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write(b)
		return
	}
	h.mu.Unlock()
	target := h.kumo.Load()
	if target == nil {
		http.Error(w, "kumo not started yet", http.StatusServiceUnavailable)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
}

// approves answers the approval wait as approvers would, one answer per approval request in turn (the
// last repeats): an approval object is returned (send-task-success) and reported to the history; a
// string is a denial with that cause (send-task-failure).
func (h *approvalHistory) approves(answers ...any) map[string][]aslrun.Response {
	var rs []aslrun.Response
	for _, a := range answers {
		if cause, ok := a.(string); ok {
			rs = append(rs, aslrun.Fails("Guardbots.Denied", cause))
			continue
		}
		answer, _ := json.Marshal(a)
		endpoint, _ := json.Marshal(h.srv.URL + "/approval")
		rs = append(rs, aslrun.Response{JS: `async (input) => {
  const answer = ` + string(answer) + `;
  const r = await fetch(` + string(endpoint) + `, {method: 'POST', body: JSON.stringify({parameters: input, answer})});
  if (!r.ok) throw new Error('approval history stand-in: ' + r.status);
  return answer;
}`})
	}
	return map[string][]aslrun.Response{statemachine.StateWaitForApproval: rs}
}

// historyReads is how many times the bots read the history of execution from the stand-in.
func (h *approvalHistory) historyReads(execution string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads[execution]
}

// releaseStack is a stack whose undo bots read execution histories through h.
func releaseStack(t *testing.T) (*Stack, *approvalHistory) {
	t.Helper()
	h := newApprovalHistory(t)
	env := map[string][]string{}
	for _, u := range bots.UndoBots() {
		env[u] = []string{"AWS_ENDPOINT_URL_SFN=" + h.srv.URL}
	}
	s := newStack(t, Options{FunctionEnv: env})
	u, err := url.Parse(s.Kumo.URL)
	if err != nil {
		t.Fatal(err)
	}
	h.kumo.Store(u)
	return s, h
}

func releaseRequest(findingID, account, region string) []byte {
	b, _ := json.Marshal(map[string]string{"guardbots": "release", "findingId": findingID, "accountId": account, "region": region})
	return b
}

func runWith(t *testing.T, s *Stack, name string, event []byte, overrides map[string][]aslrun.Response) *Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := s.Run(ctx, tools(t), name, event, RunOptions{InstantRetries: true, Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// denyRecords are the state-table keys of the two denies of finding id on the demo role.
func denyRecords(s *Stack, id string) []string {
	var out []string
	for _, k := range []string{"session", "source-ip"} {
		out = append(out, "iam-deny#"+k+"#aws#"+Account+"#role#"+s.Resources.RoleName+"#"+id)
	}
	return out
}

// recorded lists which of keys the state table holds.
func recorded(t *testing.T, s *Stack, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		_, found, err := s.StateTable().Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if found {
			out = append(out, k)
		}
	}
	return out
}

// contained runs the credential finding and checks its containment in kumo: both denies on the role and
// both records in the state table. It returns the execution and the role's denies as read back.
func contained(t *testing.T, s *Stack) (*Execution, []string) {
	t.Helper()
	ex := runFinding(t, s, credentialFinding)
	wantClean(t, ex, Expectations(false)[credentialFinding])
	st := readBack(t, s)
	if len(st.Denies) != 2 || st.SessionDenied == "" || st.AddressDenied == "" {
		t.Fatalf("not contained: role %s denies %q", s.Resources.RoleName, st.Denies)
	}
	if got := recorded(t, s, denyRecords(s, ex.FindingID)); len(got) != 2 {
		t.Fatalf("state records %v, want both denies recorded", got)
	}
	return ex, st.Denies
}

// offeredRelease is the release request the containment's chat message offers: its Release button's
// variables (additionalContext) are what the button sends.
func offeredRelease(t *testing.T, ex *Execution) []byte {
	t.Helper()
	v := chatOf(t, oneNotification(t, ex)).Metadata.AdditionalContext
	if v[notify.ChatKeyKind] != notify.ChatKindRelease || v[notify.ChatKeyFindingID] != ex.FindingID {
		t.Fatalf("the containment's chat message offers no Release for finding %s: %v", ex.FindingID, v)
	}
	return releaseRequest(v[notify.ChatKeyFindingID], v[notify.ChatKeyAccount], v[notify.ChatKeyRegion])
}

func approvalWaits(ex *Execution) int {
	n := 0
	for _, e := range ex.Events {
		if e.Type == "StateEntered" && e.State == statemachine.StateWaitForApproval {
			n++
		}
	}
	return n
}

// wantReleasePlan checks the notified decision: GuardDuty's copy, the release key, every undo bot for
// its kind in APPROVE mode with the deployment's timeout, each signed by verify.
func wantReleasePlan(t *testing.T, n Notification, findingID string) {
	t.Helper()
	d := n.Body.Decision
	if d == nil || d.Key != steps.ReleaseKey || !d.Verified || d.Outcome != mapping.Remediate || n.Body.FindingFrom != "guardduty" ||
		n.Body.Finding == nil || n.Body.Finding.ID != findingID || n.Body.Finding.AccountID != Account {
		t.Fatalf("decision %+v on %+v (from %s), want the release planned from GuardDuty's copy", d, n.Body.Finding, n.Body.FindingFrom)
	}
	var planned []string
	for _, a := range d.Actions {
		planned = append(planned, a.Bot)
		if a.Mode != string(mapping.ModeApprove) || a.ApprovalTimeoutSeconds != 3600 || a.Signature == nil || len(a.Params) != 0 {
			t.Errorf("planned %s: mode %s, timeout %d, signature %v, params %v; want APPROVE, 3600 s, signed, none", a.Bot, a.Mode, a.ApprovalTimeoutSeconds, a.Signature, a.Params)
		}
	}
	if !slices.Equal(planned, releasePlan) {
		t.Errorf("planned %v, want %v", planned, releasePlan)
	}
}

// chatMessage is a notification's chat twin, as far as the tests read it.
type chatMessage struct {
	Content struct {
		Title       string
		Description string
		NextSteps   []string
	}
	Metadata struct {
		EventType         string
		AdditionalContext map[string]string
	}
}

func chatOf(t *testing.T, n Notification) chatMessage {
	t.Helper()
	var c chatMessage
	if err := json.Unmarshal(n.Chat, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// metricLines are notify's EMF records so far that contain every one of words.
func metricLines(s *Stack, words ...string) int {
	n := 0
	for _, r := range s.MetricRecords() {
		if !strings.HasPrefix(r, "notify ") {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(r, w)
		}
		if all {
			n++
		}
	}
	return n
}

// A person presses Release on the containment's chat message. Nobody approves the first request in time:
// nothing changes and the plan shows why. The second is approved: each undo bot runs under the signed
// plan with the approval the execution's history shows, the denies leave the role (read back from
// kumo) with their records, the audit trail names the approver, and the message in all three forms says
// released — not remediated, with no time to contain and no Release button of its own.
func TestRelease_ContainedThenReleasedOnlyOnceAnApproverApproves(t *testing.T) {
	s, h := releaseStack(t)
	first, denies := contained(t, s)
	id := first.FindingID
	request := offeredRelease(t, first)
	ttc := metricLines(s, "TimeToContain=")
	if ttc != 1 {
		t.Fatalf("the containment's time to contain: %d metric records, want 1: %q", ttc, s.MetricRecords())
	}

	// Nobody approves: the approval wait times out for each action (ApprovalWaitStandIn).
	waited := runWith(t, s, "release-timed-out", request, ApprovalWaitStandIn())
	wantCalls(t, waited, "parse", "transform", "match", "verify", "notify")
	if waited.Status != "SUCCEEDED" || approvalWaits(waited) != len(releasePlan) {
		t.Fatalf("execution %s (%s), %d approval waits, want SUCCEEDED with one per planned action", waited.Status, waited.Cause, approvalWaits(waited))
	}
	n := oneNotification(t, waited)
	wantReleasePlan(t, n, id)
	if n.Outcome != notify.OutcomeSkipped || len(n.Body.Actions) != len(releasePlan) {
		t.Fatalf("notified %s with %+v", n.Outcome, n.Body.Actions)
	}
	for _, a := range n.Body.Actions {
		if a.Status != bots.StatusSkipped || !strings.HasPrefix(a.Reason, "approval timed out after 3600 seconds") {
			t.Errorf("%s: %s (%s), want skipped: approval timed out", a.Bot, a.Status, a.Reason)
		}
	}
	if !strings.Contains(n.Mail, "Nothing was changed.") || !strings.Contains(n.Mail, "approval timed out") {
		t.Errorf("mail does not say nothing changed for want of approval:\n%s", n.Mail)
	}
	if st := readBack(t, s); !slices.Equal(st.Denies, denies) {
		t.Errorf("the role's denies changed without an approval: %q, were %q", st.Denies, denies)
	}
	if got := recorded(t, s, denyRecords(s, id)); len(got) != 2 || len(waited.Audit) != 0 {
		t.Errorf("state records %v, audit records %+v: want both records kept and nothing audited", got, waited.Audit)
	}

	// Alice approves each action.
	rel := runWith(t, s, "release-approved", request, h.approves(alice))
	wantCalls(t, rel, append(append([]string{"parse", "transform", "match", "verify"}, releasePlan...), "notify")...)
	if rel.Status != "SUCCEEDED" {
		t.Fatalf("execution %s (%s: %s)", rel.Status, rel.Error, rel.Cause)
	}
	n = oneNotification(t, rel)
	wantReleasePlan(t, n, id)
	for i, bot := range releasePlan {
		var b steps.BotInput
		for _, inv := range rel.Invokes {
			if inv.Function == bot {
				if err := json.Unmarshal(inv.Input, &b); err != nil {
					t.Fatal(err)
				}
			}
		}
		a := b.Action
		if a.Signature == nil || a.Signature.Value != n.Body.Decision.Actions[i].Signature.Value || a.Mode != string(mapping.ModeApprove) ||
			a.Approval == nil || *a.Approval != (mapping.Approval{Approved: true, Approver: "alice"}) ||
			b.Execution != rel.ARN || b.MappingKey != steps.ReleaseKey || b.Index != i || b.Finding == nil || b.Finding.ID != id {
			t.Errorf("%s ran with action %+v, approval %+v, execution %s, key %q, index %d: want verify's signed APPROVE action with alice's approval",
				bot, a, a.Approval, b.Execution, b.MappingKey, b.Index)
		}
	}
	// Each bot confirmed its approval in the execution's history before it acted.
	if reads := h.historyReads(rel.ARN); reads != len(releasePlan) {
		t.Errorf("the bots read the execution's history %d times, want once each (%d)", reads, len(releasePlan))
	}
	results := map[string]bots.Result{}
	for _, r := range n.Body.Actions {
		results[r.Bot] = r
	}
	if r := results["ec2_release_quarantine"]; r.Status != bots.StatusSkipped || !strings.Contains(r.Reason, "no quarantine record") {
		t.Errorf("ec2_release_quarantine: %s (%s), want skipped: nothing it quarantined", r.Status, r.Reason)
	}
	for bot, policy := range map[string]string{"iam_undo_deny_session": "guardbots-deny-session-" + id, "iam_undo_deny_source_ip": "guardbots-deny-source-ip-" + id} {
		if r := results[bot]; r.Status != bots.StatusRemediated || len(r.Changes) == 0 || !strings.Contains(r.Changes[0], "removed the") || !strings.Contains(r.Changes[0], policy) {
			t.Errorf("%s: %s (%s) %q, want %s removed", bot, r.Status, r.Reason, r.Changes, policy)
		}
	}
	if st := readBack(t, s); len(st.Denies) != 0 || st.SessionDenied != "" || st.AddressDenied != "" {
		t.Errorf("role %s still has %q after the approved release", s.Resources.RoleName, st.Denies)
	}
	if got := recorded(t, s, denyRecords(s, id)); len(got) != 0 {
		t.Errorf("state records %v left after the release", got)
	}
	// The audit trail: one record per undo action, under the release key, naming the approver.
	if len(rel.Audit) != len(releasePlan) {
		t.Fatalf("%d audit records for the release, want %d: %+v", len(rel.Audit), len(releasePlan), rel.Audit)
	}
	for _, r := range rel.Audit {
		want := map[string]string{"ec2_release_quarantine": "skipped", "iam_undo_deny_session": "remediated", "iam_undo_deny_source_ip": "remediated"}[r.Bot]
		if r.Status != want || r.MappingKey != steps.ReleaseKey || r.ApproverClaimed != "alice" || !strings.Contains(r.Approval, rel.ARN) {
			t.Errorf("audit record %s: status %s, key %q, approver %q, approval %q", r.Bot, r.Status, r.MappingKey, r.ApproverClaimed, r.Approval)
		}
	}

	// The message, in its three forms, says released.
	if n.Outcome != notify.OutcomeReleased || n.Body.Outcome != notify.OutcomeReleased || n.Attributes[notify.AttrOutcome].Value != notify.OutcomeReleased ||
		!strings.HasSuffix(n.Subject, ": released") || !strings.HasPrefix(n.Body.Summary, "released: ") {
		t.Errorf("notified %s, subject %q, summary %q: want released", n.Outcome, n.Subject, n.Body.Summary)
	}
	done := n.Mail[strings.Index(n.Mail, "What was done"):]
	if !strings.HasPrefix(n.Mail, "guardbots: released\n") || !strings.Contains(done, "- iam_undo_deny_session: remediated") ||
		!strings.Contains(done, "removed the session deny guardbots-deny-session-"+id) || !strings.Contains(n.Mail, "Mapping rule: release request") {
		t.Errorf("mail does not say what was released:\n%s", n.Mail)
	}
	c := chatOf(t, n)
	if !strings.HasPrefix(c.Content.Title, "guardbots: released - HIGH finding in account "+Account) || c.Metadata.EventType != "guardbots.released" ||
		!strings.Contains(c.Content.Description, "removed the address deny guardbots-deny-source-ip-"+id) ||
		!strings.Contains(strings.Join(c.Content.NextSteps, " "), "The containment was undone") || c.Metadata.AdditionalContext != nil {
		t.Errorf("chat %+v: want released, what was undone, no Release button", c)
	}
	// notify counted the release as released and gave it no time to contain.
	if metricLines(s, "Outcome=released") != 1 || metricLines(s, "TimeToContain=") != ttc {
		t.Errorf("metric records %q: want one released finding and no new time to contain", s.MetricRecords())
	}
}

// Each action of a release waits for its own answer: the approver approves removing the session deny
// and denies removing the address deny, so only the first leaves the role.
func TestRelease_EachUndoWaitsForItsOwnApproval(t *testing.T) {
	s, h := releaseStack(t)
	first, denies := contained(t, s)
	ex := runWith(t, s, "release-in-part", offeredRelease(t, first), h.approves(alice, alice, "bob: keep the address blocked"))
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_release_quarantine", "iam_undo_deny_session", "notify")
	n := oneNotification(t, ex)
	if got := n.Body.Actions[2]; got.Bot != "iam_undo_deny_source_ip" || got.Status != bots.StatusSkipped || got.Reason != "denied by bob: keep the address blocked" {
		t.Errorf("the denied action: %+v", got)
	}
	if n.Outcome != notify.OutcomeReleased || ex.Status != "SUCCEEDED" {
		t.Errorf("notified %s, execution %s", n.Outcome, ex.Status)
	}
	st := readBack(t, s)
	if len(st.Denies) != 1 || st.Denies[0] != denies[1] || st.SessionDenied != "" || !strings.HasPrefix(st.Denies[0], "guardbots-deny-source-ip-") {
		t.Errorf("role's denies %q, want only the address deny %q left", st.Denies, denies[1])
	}
	if got := recorded(t, s, denyRecords(s, first.FindingID)); !slices.Equal(got, denyRecords(s, first.FindingID)[1:]) {
		t.Errorf("state records %v, want only the address deny's", got)
	}
}

// What someone able to start an execution could send as a release, each against the contained finding,
// and none changes the role. Only a finding GuardDuty holds, for its own account and region, is planned
// (verify); a request carrying anything beyond its four members is refused at parse; every plan waits
// for an approver, so a smuggled mode or plan never runs by itself; and an approval the execution's
// history does not show is refused by every undo bot. The attacks run in turn on one contained stack:
// read the first failure (a release that got through leaves nothing for the next to keep).
func TestRelease_AttacksChangeNothing(t *testing.T) {
	s, h := releaseStack(t)
	first, denies := contained(t, s)
	id := first.FindingID
	unchanged := func(t *testing.T, ex *Execution) {
		t.Helper()
		if st := readBack(t, s); !slices.Equal(st.Denies, denies) {
			t.Errorf("the role's denies are %q, were %q", st.Denies, denies)
		}
		if got := recorded(t, s, denyRecords(s, id)); len(got) != 2 {
			t.Errorf("state records %v, want both kept", got)
		}
		for _, in := range ex.BotInvokes() {
			var r bots.Result
			if json.Unmarshal(in.Output, &r) == nil && (r.Status == bots.StatusRemediated || r.Status == bots.StatusAlreadyDone) {
				t.Errorf("%s reported %s", in.Function, r.Status)
			}
		}
	}
	rejected := func(t *testing.T, ex *Execution, step, cause string) {
		t.Helper()
		if ex.Status != "FAILED" || approvalWaits(ex) != 0 || len(ex.BotInvokes()) != 0 {
			t.Errorf("execution %s with %d approval waits and bots %v, want FAILED before any", ex.Status, approvalWaits(ex), ex.Calls())
		}
		n := oneNotification(t, ex)
		if n.Outcome != notify.OutcomeRejected || n.Body.Error == nil || n.Body.Error.Step != step || !strings.Contains(n.Body.Error.Cause, cause) {
			t.Errorf("notified %s with error %+v, want rejected at %s: %s", n.Outcome, n.Body.Error, step, cause)
		}
		if c := chatOf(t, n); c.Metadata.AdditionalContext != nil || !strings.HasPrefix(c.Content.Title, "guardbots: rejected") {
			t.Errorf("chat %+v", c)
		}
	}

	// Verify's rails, with an approver at hand who approves anything: they stop the request before any
	// approval request.
	for _, tc := range []struct {
		name    string
		request []byte
		cause   string
	}{
		{"a finding GuardDuty does not hold", releaseRequest("0123456789abcdef0123456789abcdef", Account, Region), "GuardDuty has no finding 0123456789abcdef0123456789abcdef"},
		{"the finding in another account", releaseRequest(id, "444455556666", Region), `is GuardDuty's finding ` + id + ` of account ` + Account + ` in ` + Region + `, not of account "444455556666"`},
		{"the finding in another region", releaseRequest(id, Account, "eu-west-1"), `not of account "` + Account + `" in "eu-west-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := runWith(t, s, "release-"+tc.name, tc.request, h.approves(alice))
			unchanged(t, ex)
			wantCalls(t, ex, "parse", "transform", "match", "verify", "notify")
			rejected(t, ex, "verify", tc.cause)
		})
	}

	// Parse's rail: only the four members. Nobody approves (the wait times out), so were one of these
	// let through, its plan would still be verify's, waiting for an approver.
	for _, tc := range []struct{ name, request string }{
		{"actions in AUTO mode", `{"guardbots":"release","findingId":"` + id + `","accountId":"` + Account + `","region":"` + Region + `",` +
			`"actions":[{"bot":"iam_undo_deny_session","mode":"AUTO"},{"bot":"iam_undo_deny_source_ip","mode":"AUTO"}],"mode":"AUTO"}`},
		{"a decision and a plan", `{"guardbots":"release","findingId":"` + id + `","accountId":"` + Account + `","region":"` + Region + `",` +
			`"decision":{"decision":"remediate","verified":true,"actions":[{"bot":"iam_undo_deny_session","mode":"AUTO"}]},"plan":{"signature":"Zm9yZ2Vk"}}`},
		{"an approval", `{"guardbots":"release","findingId":"` + id + `","accountId":"` + Account + `","region":"` + Region + `",` +
			`"approval":{"approved":true,"approver":"mallory"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := runWith(t, s, "release-smuggled", []byte(tc.request), ApprovalWaitStandIn())
			unchanged(t, ex)
			wantCalls(t, ex, "parse", "notify")
			rejected(t, ex, "parse", "want only guardbots, findingId, accountId and region")
		})
	}
	// The shape the workflow has after match, sent as the execution's input: parse takes it for no
	// release (no "guardbots" member) and no GuardDuty event.
	t.Run("a matched release with its decision", func(t *testing.T) {
		in := `{"finding":{"id":"` + id + `","accountId":"` + Account + `","region":"` + Region + `","source":"release"},` +
			`"decision":{"decision":"remediate","mappingKey":"release request","verified":true,"actions":[{"bot":"iam_undo_deny_session","mode":"AUTO"}]}}`
		ex := runWith(t, s, "release-matched", []byte(in), ApprovalWaitStandIn())
		unchanged(t, ex)
		wantCalls(t, ex, "parse", "notify")
		rejected(t, ex, "parse", "not an EventBridge event, SNS record, GuardDuty finding or Security Hub event")
	})

	// The bots' rail: an approval the wait returned but the execution's history does not show (the
	// override answers without telling the history stand-in) is refused by each undo bot.
	t.Run("an approval the history does not show", func(t *testing.T) {
		ex := runWith(t, s, "release-unrecorded", offeredRelease(t, first), map[string][]aslrun.Response{
			statemachine.StateWaitForApproval: {aslrun.Returns(alice)}})
		unchanged(t, ex)
		wantCalls(t, ex, append(append([]string{"parse", "transform", "match", "verify"}, releasePlan...), "notify")...)
		n := oneNotification(t, ex)
		for _, a := range n.Body.Actions {
			if a.Status != bots.StatusFailed || a.Error != "Guardbots.Rejected" || !strings.Contains(a.Cause, "shows no \"Wait for approval\" task") {
				t.Errorf("%s: %s %s (%s), want rejected: the history shows no approval", a.Bot, a.Status, a.Error, a.Cause)
			}
		}
		if n.Outcome != notify.OutcomeFailed || ex.Status != "FAILED" {
			t.Errorf("notified %s, execution %s", n.Outcome, ex.Status)
		}
	})
}

// A release of a finding guardbots never contained: GuardDuty holds it, the plan is approved, and each
// undo bot finds nothing it recorded and changes nothing. A deny another hand wrote on the role — one
// under a name of its own, and one under the name guardbots would have used but not guardbots'
// statement — is left alone: an undo bot removes only guardbots' own deny of this finding.
func TestRelease_OfAFindingNeverContainedChangesNothing(t *testing.T) {
	s, h := releaseStack(t)
	f, err := FindingNamed(credentialFinding)
	if err != nil {
		t.Fatal(err)
	}
	event := s.Resources.Substitute(f.Event)
	hold(t, s, event)
	id := findingIDOf(event)
	iamc := iam.NewFromConfig(s.AWS)
	put := func(name, doc string) {
		t.Helper()
		if _, err := iamc.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(s.Resources.RoleName),
			PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	policies := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		names, err := iamc.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String(s.Resources.RoleName)})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names.PolicyNames {
			p, err := iamc.GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{RoleName: aws.String(s.Resources.RoleName), PolicyName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			out[name] = aws.ToString(p.PolicyDocument)
		}
		return out
	}
	put("team-deny-tor-exits", `{"Version":"2012-10-17","Statement":[{"Sid":"TeamDenyTor","Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.180/32"]}}}]}`)
	before := policies()

	ex := runWith(t, s, "release-never-contained", releaseRequest(id, Account, Region), h.approves(alice))
	wantCalls(t, ex, append(append([]string{"parse", "transform", "match", "verify"}, releasePlan...), "notify")...)
	n := oneNotification(t, ex)
	wantReleasePlan(t, n, id)
	for _, a := range n.Body.Actions {
		if a.Status != bots.StatusSkipped || len(a.Changes) != 0 || !(strings.Contains(a.Reason, "never added") || strings.Contains(a.Reason, "no quarantine record")) {
			t.Errorf("%s: %s (%s) %q, want skipped: nothing of its own to undo", a.Bot, a.Status, a.Reason, a.Changes)
		}
	}
	if n.Outcome != notify.OutcomeSkipped || ex.Status != "SUCCEEDED" || !strings.Contains(n.Mail, "Nothing was changed.") {
		t.Errorf("notified %s, execution %s, mail:\n%s", n.Outcome, ex.Status, n.Mail)
	}
	if after := policies(); !maps.Equal(after, before) {
		t.Errorf("the role's policies are %v, were %v", after, before)
	}
	if got := recorded(t, s, denyRecords(s, id)); len(got) != 0 {
		t.Errorf("the release recorded %v", got)
	}

	// Under guardbots' name, a statement guardbots did not write (no Sid naming the finding): the undo bot
	// leaves it and says so; the execution fails, so a person looks.
	name := "guardbots-deny-session-" + id
	put(name, `{"Version":"2012-10-17","Statement":[{"Sid":"BreakGlassHold","Effect":"Deny","Action":"*","Resource":"*"}]}`)
	before = policies()
	ex = runWith(t, s, "release-not-ours", releaseRequest(id, Account, Region), h.approves(alice))
	n = oneNotification(t, ex)
	for _, a := range n.Body.Actions {
		switch {
		case a.Bot == "iam_undo_deny_session":
			if a.Status != bots.StatusFailed || !strings.Contains(a.Cause, "is not the session deny guardbots wrote for finding "+id) || !strings.Contains(a.Cause, "left alone") {
				t.Errorf("%s: %s (%s), want failed: not guardbots' deny, left alone", a.Bot, a.Status, a.Cause)
			}
		case a.Status != bots.StatusSkipped:
			t.Errorf("%s: %s (%s), want skipped", a.Bot, a.Status, a.Reason)
		}
	}
	if n.Outcome != notify.OutcomeFailed || ex.Status != "FAILED" {
		t.Errorf("notified %s, execution %s", n.Outcome, ex.Status)
	}
	if after := policies(); !maps.Equal(after, before) {
		t.Errorf("the role's policies are %v, were %v", after, before)
	}
}
