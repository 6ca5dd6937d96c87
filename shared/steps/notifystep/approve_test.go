package notifystep

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

const (
	testToken    = "AQCEAAAAKgAAAAMAAAAAAAAAAfake+token/with=base64=="
	approverRole = "arn:aws:iam::111122223333:role/guardbots-approver"
	approvalExec = "arn:aws:states:eu-west-1:111122223333:execution:guardbots-remediation:run-7"
)

func approvalRequest() notify.ApprovalRequest {
	return notify.ApprovalRequest{
		Finding:   ec2Finding(),
		Action:    mapping.Action{Bot: "ec2_stop_instance", Mode: "APPROVE", OnError: "continue", ApprovalTimeoutSeconds: 1800},
		Index:     1,
		Execution: approvalExec,
		TaskToken: testToken,
	}
}

func approver(p *fakePublisher, dry bool) Approver {
	return Approver{Publisher: p, Options: notify.ApprovalOptions{ApproverRoleArn: approverRole, DryRun: dry},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC) }}
}

func TestApprover_MessageSaysExactlyHowToApproveOrDenyAndWho(t *testing.T) {
	p := &fakePublisher{}
	out, err := approver(p, false).Request(context.Background(), approvalRequest())
	if err != nil {
		t.Fatal(err)
	}
	if out.MessageID != "msg-1" || len(p.msgs) != 1 {
		t.Fatalf("out %+v, %d messages", out, len(p.msgs))
	}
	m := p.msgs[0]
	if m.Outcome != notify.OutcomeApprovalRequested || !strings.HasPrefix(m.Subject, "[guardbots] APPROVE? ec2_stop_instance i-") || len(m.Subject) > notify.MaxSubject {
		t.Errorf("outcome %q subject %q", m.Outcome, m.Subject)
	}
	var body notify.ApprovalBody
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatal(err)
	}
	wantApprove := `aws stepfunctions send-task-success --region eu-west-1 --task-token '` + testToken +
		`' --task-output '{"approved":true,"approver":"YOUR-NAME","comment":"why"}'`
	wantDeny := `aws stepfunctions send-task-failure --region eu-west-1 --task-token '` + testToken +
		`' --error Guardbots.Denied --cause 'YOUR-NAME: why not'`
	if body.ApproveCommand != wantApprove {
		t.Errorf("approve command\n got %s\nwant %s", body.ApproveCommand, wantApprove)
	}
	if body.DenyCommand != wantDeny {
		t.Errorf("deny command\n got %s\nwant %s", body.DenyCommand, wantDeny)
	}
	text := strings.Join(body.Instructions, "\n")
	for _, want := range []string{
		"  " + wantApprove, "  " + wantDeny,
		"Send them as " + approverRole + ":",
		"CloudTrail",
		"If nobody answers by 2026-01-02T03:30:00Z (1800 seconds), nothing is done",
		"re-reads the resource",
		"ec2_stop_instance (disruptive)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("instructions lack %q:\n%s", want, text)
		}
	}
	if body.Deadline != "2026-01-02T03:30:00Z" || body.Execution.ARN != approvalExec || body.Execution.ConsoleURL == "" || body.DryRun {
		t.Errorf("body %+v", body)
	}
	if strings.Contains(text, "DRY RUN") {
		t.Error("live deployment says DRY RUN")
	}
}

func TestApprover_DryRunDeploymentSaysApprovalChangesNothing(t *testing.T) {
	p := &fakePublisher{}
	if _, err := approver(p, true).Request(context.Background(), approvalRequest()); err != nil {
		t.Fatal(err)
	}
	var body notify.ApprovalBody
	_ = json.Unmarshal(p.msgs[0].Body, &body)
	if !body.DryRun || !strings.Contains(strings.Join(body.Instructions, "\n"), "DRY RUN") {
		t.Errorf("dry-run deployment: %+v", body)
	}
}

func TestApprover_RefusesBadTokensAndNonApproveActionsWithoutPublishing(t *testing.T) {
	cases := map[string]func(*notify.ApprovalRequest){
		"no token":           func(r *notify.ApprovalRequest) { r.TaskToken = "" },
		"shell in the token": func(r *notify.ApprovalRequest) { r.TaskToken = "abc'; rm -rf ~; echo '" },
		"token too long":     func(r *notify.ApprovalRequest) { r.TaskToken = strings.Repeat("A", 2049) },
		"AUTO action":        func(r *notify.ApprovalRequest) { r.Action.Mode = "AUTO" },
		"unknown bot":        func(r *notify.ApprovalRequest) { r.Action.Bot = "no_such_bot" },
		"no finding":         func(r *notify.ApprovalRequest) { r.Finding = nil },
		"no timeout":         func(r *notify.ApprovalRequest) { r.Action.ApprovalTimeoutSeconds = 0 },
	}
	for name, edit := range cases {
		p := &fakePublisher{}
		r := approvalRequest()
		edit(&r)
		_, err := approver(p, false).Request(context.Background(), r)
		if faults.Classify(err) != faults.Rejected || len(p.msgs) != 0 {
			t.Errorf("%s: err %v (%s), %d messages", name, err, faults.Classify(err), len(p.msgs))
		}
	}
}

func TestApprover_HandlerDecodesTheWaitForTaskTokenPayload(t *testing.T) {
	p := &fakePublisher{}
	h := steps.Lambda("request_approval", approver(p, false).Request)
	// The Payload the "Wait for approval" Task sends (statemachine.approval).
	payload := `{"finding": {"id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "accountId": "111122223333", "region": "us-east-1",
	  "resourceKind": "Instance", "instance": {"id": "i-0123456789abcdef0"}},
	  "action": {"bot": "ec2_stop_instance", "params": {}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 600},
	  "index": 0, "execution": "` + approvalExec + `", "taskToken": "` + testToken + `"}`
	out, err := h.Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"messageId":"msg-1"}` || len(p.msgs) != 1 || !strings.Contains(string(p.msgs[0].Body), testToken) {
		t.Errorf("out %s, messages %d", out, len(p.msgs))
	}
}

func TestApprover_HeldActionMessageSaysTheBlastRadiusLimitIsWhy(t *testing.T) {
	p := &fakePublisher{}
	in := approvalRequest()
	in.Action.Mode, in.Action.Held, in.Action.ApprovalTimeoutSeconds = "AUTO", heldReason, mapping.DefaultApprovalTimeoutSeconds
	if _, err := approver(p, false).Request(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	m := p.msgs[0]
	var body notify.ApprovalBody
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Subject, "[guardbots] APPROVE (held by blast-radius limit)? ec2_stop_instance") {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(body.Summary, heldReason) {
		t.Errorf("summary %q does not say why", body.Summary)
	}
	if text := strings.Join(body.Instructions, "\n"); !strings.Contains(text, "Why you are asked: "+heldReason+".") {
		t.Errorf("instructions do not say why:\n%s", text)
	}
}

func TestApprover_AUTOActionThatWasNotHeldIsRejected(t *testing.T) {
	in := approvalRequest()
	in.Action.Mode = "AUTO"
	_, err := approver(&fakePublisher{}, false).Request(context.Background(), in)
	if faults.Classify(err) != faults.Rejected {
		t.Errorf("err = %v, want rejected", err)
	}
}

// heldReason is what the bot runner writes when the blast-radius limit holds an action.
const heldReason = "held by the blast-radius limit: 1 disruptive actions in account 111122223333 this hour"

// An approval request is routed like every other message: the owner and OU path of the account verify
// looked up (the Map hands it to the iteration) become its owner and ou attributes, and its body names
// the account. An account that is not the finding's routes nowhere (RoutingOf's rule).
func TestApprover_RequestCarriesTheOwnerAndOUPathOfTheAccount(t *testing.T) {
	p := &fakePublisher{}
	h := steps.Lambda("request_approval", approver(p, false).Request)
	payload := `{"finding": {"id": "f1", "type": "UnauthorizedAccess:EC2/TorClient", "accountId": "444455556666", "region": "us-east-1",
	  "resourceKind": "Instance", "instance": {"id": "i-0123456789abcdef0"}},
	  "action": {"bot": "ec2_stop_instance", "params": {}, "onError": "continue", "mode": "APPROVE", "approvalTimeoutSeconds": 600},
	  "index": 0, "execution": "` + approvalExec + `",
	  "account": {"id": "444455556666", "name": "payments-prod", "ouPath": ["r-ab12", "ou-ab12-prod0000"], "owner": "team-payments", "ownerTag": "owner"},
	  "taskToken": "` + testToken + `"}`
	if _, err := h.Invoke(context.Background(), []byte(payload)); err != nil {
		t.Fatal(err)
	}
	m := p.msgs[0]
	a := m.Routing.Attributes()
	if a[notify.AttrOutcome].Value != notify.OutcomeApprovalRequested || a[notify.AttrAccount].Value != "444455556666" ||
		a[notify.AttrOwner].Value != "team-payments" || a[notify.AttrOU] != (notify.Attribute{DataType: "String.Array", Value: `["r-ab12","ou-ab12-prod0000"]`}) {
		t.Errorf("attributes %v", a)
	}
	var body notify.ApprovalBody
	if err := json.Unmarshal(m.Body, &body); err != nil || body.Account == nil || body.Account.Name != "payments-prod" || body.Account.Owner != "team-payments" {
		t.Errorf("body account %+v (%v)", body.Account, err)
	}

	// Another account's owner and OU are not the finding's: routed by the finding alone.
	r := approvalRequest()
	r.Account = &org.Summary{ID: "999988887777", Owner: "attacker-team", OUPath: []string{"r-ab12", "ou-ab12-attacker"}}
	p = &fakePublisher{}
	if _, err := approver(p, false).Request(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	a = p.msgs[0].Routing.Attributes()
	if _, ok := a[notify.AttrOwner]; ok || a[notify.AttrAccount].Value != r.Finding.AccountID {
		t.Errorf("another account's routing used: %v", a)
	}
	if _, ok := a[notify.AttrOU]; ok {
		t.Errorf("another account's OU path used: %v", a)
	}
}
