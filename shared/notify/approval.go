package notify

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
)

// OutcomeApprovalRequested is the outcome attribute of an approval request, so a subscription filter
// policy can send requests to the approvers only.
const OutcomeApprovalRequested = "approval-requested"

// ApprovalRequest is the request_approval step's input: one Map iteration of an APPROVE action and the
// task token the state machine waits on.
type ApprovalRequest struct {
	Finding   *finding.Finding `json:"finding"`
	Action    mapping.Action   `json:"action"`
	Index     int              `json:"index"`
	Execution string           `json:"execution"`
	// Account is the finding's account as verify looked it up (the Map hands each iteration verify's
	// $.decision.account): its owner and OU path route the request like every other message.
	Account   *org.Summary `json:"account,omitempty"`
	TaskToken string       `json:"taskToken"`
}

// ApprovalOptions are the deployment's settings for approval messages.
type ApprovalOptions struct {
	// ApproverRoleArn is the only role allowed to send the task result (the CDK app grants
	// states:SendTaskSuccess/SendTaskFailure to it alone).
	ApproverRoleArn string
	// DryRun is the deployment's GUARDBOTS_DRY_RUN: an approved action still changes nothing.
	DryRun bool
	// Now stamps the deadline.
	Now time.Time
}

// ApprovalBody is the approval request's JSON body.
type ApprovalBody struct {
	Summary string `json:"summary"`
	// Instructions say, line by line, exactly how to approve or deny.
	Instructions   []string         `json:"instructions"`
	ApproveCommand string           `json:"approveCommand"`
	DenyCommand    string           `json:"denyCommand"`
	Deadline       string           `json:"deadline"`
	DryRun         bool             `json:"dryRun,omitempty"`
	Action         mapping.Action   `json:"action"`
	Finding        *finding.Finding `json:"finding"`
	// Account is the account's name, OU path and owner, as on every notification.
	Account   *org.Summary  `json:"account,omitempty"`
	Execution ExecutionLink `json:"execution"`
}

// taskTokenRE: Step Functions tokens are base64 text. Anything else is refused, since the token is
// pasted into a shell command.
var taskTokenRE = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]+$`)

// ValidTaskToken reports whether tok can be quoted in the approval commands (SendTaskSuccess takes
// at most 2048 characters).
func ValidTaskToken(tok string) bool { return len(tok) <= 2048 && taskTokenRE.MatchString(tok) }

// BuildApprovalRequest is the message that asks a person to approve one action, with the exact
// commands to approve or deny it.
func BuildApprovalRequest(r ApprovalRequest, o ApprovalOptions) (Message, error) {
	f := r.Finding
	if f == nil {
		return Message{}, fmt.Errorf("notify: approval request has no finding")
	}
	if !ValidTaskToken(r.TaskToken) {
		return Message{}, fmt.Errorf("notify: approval request's task token is missing or not base64 text")
	}
	timeout := r.Action.ApprovalTimeoutSeconds
	if timeout <= 0 {
		return Message{}, fmt.Errorf("notify: approval request for %s has no approvalTimeoutSeconds", r.Action.Bot)
	}
	impact := "unknown impact"
	if b, ok := bots.Lookup(r.Action.Bot); ok {
		impact = string(b.Impact)
	}
	res := clean(resourceID(f))
	where := clean(f.AccountID) + "/" + clean(f.Region)
	if m := r.Action.Member; m != nil {
		// One (action, member) pair of an attack sequence: the approver decides on that member.
		res, where = clean(string(m.Kind)+" "+m.ID)+fmt.Sprintf(" (attack sequence member %d)", m.Index+1), clean(m.Account)+"/"+clean(m.Region)
	}
	deadline := o.Now.UTC().Add(time.Duration(timeout) * time.Second).Format(time.RFC3339)

	regionFlag := ""
	if a, err := arn.Parse(r.Execution); err == nil && regionRE.MatchString(a.Region) {
		regionFlag = " --region " + a.Region
	}
	approve := fmt.Sprintf(`aws stepfunctions send-task-success%s --task-token '%s' --task-output '{"approved":true,"approver":"YOUR-NAME","comment":"why"}'`,
		regionFlag, r.TaskToken)
	deny := fmt.Sprintf(`aws stepfunctions send-task-failure%s --task-token '%s' --error %s --cause 'YOUR-NAME: why not'`,
		regionFlag, r.TaskToken, faults.Denied)
	role := o.ApproverRoleArn
	if role == "" {
		role = "the approver role configured in the deployment"
	}

	summary := fmt.Sprintf("approval needed: %s (%s) on %s in %s for %s %s (action %d)",
		r.Action.Bot, impact, orDefault(res, "the finding's resource"), where, f.SeverityLabel, f.Type, r.Index+1)
	lines := []string{
		fmt.Sprintf("guardbots wants to run %s (%s) on %s in %s because of GuardDuty finding %s (%s).",
			r.Action.Bot, impact, orDefault(res, "the finding's resource"), where, f.ID, f.Type),
	}
	// The approver must know why they are asked: a mapping's APPROVE mode, or the blast-radius limit
	// (the bot's own reason, e.g. "held by the blast-radius limit: 10 disruptive actions in account X
	// this hour"), where approving lets this one action past the limit.
	if held := ellipsize(clean(r.Action.Held), 300); held != "" {
		summary = "approval needed, " + held + ": " + strings.TrimPrefix(summary, "approval needed: ")
		lines = append(lines, fmt.Sprintf("Why you are asked: %s. Approving lets this one action past the limit; it is still checked for exemption and duplicates.", held))
	}
	lines = append(lines,
		fmt.Sprintf("To APPROVE, replace YOUR-NAME and run, with the credentials of %s:", role),
		"  "+approve,
		fmt.Sprintf("To DENY, run, with the credentials of %s:", role),
		"  "+deny,
		fmt.Sprintf("Send them as %s: guardbots grants these commands to no other role it creates (an SCP can deny them to everyone else). Your identity is recorded by CloudTrail (SendTaskSuccess/SendTaskFailure); the approver you type is recorded in the execution.", role),
		fmt.Sprintf("If nobody answers by %s (%d seconds), nothing is done and the action is recorded as skipped: approval timed out.", deadline, timeout),
		"After approval the bot re-reads the resource from AWS and acts only on its live state.",
	)
	if o.DryRun {
		lines = append(lines, "DRY RUN: this deployment runs every bot in dry-run ("+deployment.EnvDryRun+"=true): approving only reports what the bot would change.")
	}
	body := ApprovalBody{
		Summary:        ellipsize(clean(summary), 500),
		Instructions:   lines,
		ApproveCommand: approve,
		DenyCommand:    deny,
		Deadline:       deadline,
		DryRun:         o.DryRun,
		Action:         r.Action,
		Finding:        slimFinding(f),
		Account:        accountOf(Input{Finding: f, Decision: &mapping.Decision{Account: r.Account}}),
		Execution:      ExecutionLink{ARN: r.Execution, ConsoleURL: ConsoleURL(r.Execution)},
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Message{}, fmt.Errorf("notify: encode approval request: %w", err)
	}
	if len(b) > MaxBody {
		body.Finding = coreFinding(f)
		if b, err = json.Marshal(body); err != nil {
			return Message{}, fmt.Errorf("notify: encode approval request: %w", err)
		}
	}
	chat, err := approvalChat(r, body, approve, deny)
	if err != nil {
		return Message{}, fmt.Errorf("notify: encode approval request for chat: %w", err)
	}
	prefix := "[guardbots] APPROVE? "
	if r.Action.Held != "" {
		prefix = "[guardbots] APPROVE (held by blast-radius limit)? "
	}
	subject := prefix + strings.Join(nonEmpty(clean(r.Action.Bot), res, clean(f.AccountID)), " ")
	return Message{
		Subject:  ellipsize(subject, MaxSubject),
		Body:     b,
		Text:     approvalText(body),
		Chat:     chat,
		Outcome:  OutcomeApprovalRequested,
		Severity: clean(string(f.SeverityLabel)),
		// The request goes to the approvers (a filter on outcome); the finding's attributes, and the
		// owner and OU path of verify's lookup, let a team's route see its own approvals too. An account
		// that is not the finding's is ignored, as for every message (RoutingOf).
		Routing: RoutingOf(Input{Finding: f, Decision: &mapping.Decision{Account: r.Account}}, OutcomeApprovalRequested),
	}, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
