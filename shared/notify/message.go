package notify

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
)

// The message has three concerns, each in its file: the outcome in one word (outcome.go), the subject
// line a person triages by (subject.go), and the body that must fit SNS's size limit (size.go).

// Message is one notification.
type Message struct {
	// Subject is printable ASCII, at most MaxSubject characters.
	Subject string
	// Body is the JSON document (see Body).
	Body []byte
	// Text is the same message as plain text for a person (text.go), for the mail topic.
	Text string
	// Event is the EventBridge event's detail (event.go); empty for an approval request.
	Event []byte
	// Chat is the custom notification of Amazon Q Developer in chat applications (chat.go), for the
	// chat topic.
	Chat []byte
	// Outcome is one of Outcomes.
	Outcome string
	// Severity is the finding's severity label ("" when there is no finding).
	Severity string
	// Routing is what subscribers filter on (routing.go): the message attributes.
	Routing Routing
}

// Body is the JSON the message carries: everything a responder needs, with a link to the execution.
type Body struct {
	Summary string `json:"summary"`
	Outcome string `json:"outcome"`
	// FindingFrom says whose word Finding is: "guardduty" when the verify step read it back from
	// GuardDuty (every decision that ran a bot), "event" when it is the input as it arrived (skip and
	// notify decisions of match, rejections): then every field of it is the sender's claim.
	FindingFrom string `json:"findingFrom,omitempty"`
	// Account is the finding's account as the organization describes it — name, OU path, owner — for the
	// team that owns it (the account id alone when organization lookups are off or failed: Unavailable
	// says why).
	Account  *org.Summary      `json:"account,omitempty"`
	Finding  *finding.Finding  `json:"finding,omitempty"`
	Decision *mapping.Decision `json:"decision,omitempty"`
	Actions  []bots.Result     `json:"actions"`
	// Members are an attack sequence's members, each with what was done to it (sequence.go).
	Members   []MemberOutcome `json:"members,omitempty"`
	Error     *StepError      `json:"error,omitempty"`
	Execution ExecutionLink   `json:"execution"`
	// Closure is what was recorded on the finding (GuardDuty feedback/archive, Security Hub workflow).
	Closure *Closure `json:"closure,omitempty"`
	// Undelivered says which other forms of this message could not be sent (the EventBridge event).
	Undelivered []string `json:"undelivered,omitempty"`
	// Truncated says bulky parts were dropped or cut to stay under SNS's size limit; Omitted says which.
	Truncated bool     `json:"truncated,omitempty"`
	Omitted   []string `json:"omitted,omitempty"`
}

// ExecutionLink identifies the execution and links to it in the Step Functions console.
type ExecutionLink struct {
	ARN        string `json:"arn"`
	Name       string `json:"name,omitempty"`
	StartTime  string `json:"startTime,omitempty"`
	ConsoleURL string `json:"consoleUrl,omitempty"`
}

// Build turns the workflow's final state into a message.
func Build(in Input) (Message, error) {
	outcome := OutcomeOf(in)
	m := Message{Outcome: outcome, Subject: Subject(in, outcome), Routing: RoutingOf(in, outcome)}
	if in.Finding != nil {
		m.Severity = clean(string(in.Finding.SeverityLabel))
	}
	body := Body{
		Summary:     summary(in, outcome),
		Outcome:     outcome,
		FindingFrom: findingFrom(in),
		Account:     accountOf(in),
		Finding:     in.Finding,
		Decision:    in.Decision,
		Actions:     in.Results,
		Members:     memberOutcomes(in),
		Error:       in.Error,
		Closure:     in.Closure,
		Undelivered: in.Undelivered,
		Execution: ExecutionLink{
			ARN:        in.Execution.ID,
			Name:       in.Execution.Name,
			StartTime:  in.Execution.StartTime,
			ConsoleURL: ConsoleURL(in.Execution.ID),
		},
	}
	if body.Actions == nil {
		body.Actions = []bots.Result{}
	}
	b, err := fitBody(body)
	if err != nil {
		return Message{}, fmt.Errorf("notify: encode message body: %w", err)
	}
	m.Body = b
	m.Text = Text(in, outcome)
	if m.Event, err = eventJSON(in, outcome); err != nil {
		return Message{}, fmt.Errorf("notify: encode event detail: %w", err)
	}
	if m.Chat, err = chatOutcome(in, outcome); err != nil {
		return Message{}, fmt.Errorf("notify: encode chat message: %w", err)
	}
	return m, nil
}

// accountOf is Body.Account: the account match or verify looked up, else the finding's account id.
func accountOf(in Input) *org.Summary {
	if in.Decision != nil && in.Decision.Account != nil && (in.Finding == nil || in.Decision.Account.ID == in.Finding.AccountID) {
		return in.Decision.Account
	}
	if in.Finding != nil && in.Finding.AccountID != "" {
		return &org.Summary{ID: in.Finding.AccountID, Unavailable: "not looked up (organization lookups off, or the execution ended before match)"}
	}
	return nil
}

// findingFrom is Body.FindingFrom.
func findingFrom(in Input) string {
	switch {
	case in.Finding == nil:
		return ""
	case in.Decision != nil && in.Decision.Verified:
		return "guardduty"
	}
	return "event"
}

// summary is one human line for the body.
func summary(in Input, outcome string) string {
	var b strings.Builder
	b.WriteString(outcome)
	if f := in.Finding; f != nil {
		fmt.Fprintf(&b, ": %s %s", f.SeverityLabel, f.Type)
		if id := resourceID(f); id != "" {
			fmt.Fprintf(&b, " on %s", id)
		}
		fmt.Fprintf(&b, " in %s/%s", f.AccountID, f.Region)
		if a := accountOf(in); a != nil && a.Unavailable == "" {
			fmt.Fprintf(&b, " (%s", orDefault(a.Name, "unnamed account"))
			if a.Owner != "" {
				fmt.Fprintf(&b, ", owner %s", a.Owner)
			}
			if len(a.OUPath) > 0 {
				fmt.Fprintf(&b, ", OU %s", strings.Join(a.OUPath, "/"))
			}
			b.WriteString(")")
		}
		if findingFrom(in) != "guardduty" {
			b.WriteString(" (as the event says; not read back from GuardDuty)")
		}
	}
	if len(in.Results) > 0 {
		acts := make([]string, len(in.Results))
		var warnings []string
		for i, r := range in.Results {
			status := string(r.Status)
			if r.Held {
				status = "held"
			}
			acts[i] = fmt.Sprintf("%s %s", pairLabel(in, i, r.Bot), status)
			// A failure carries a reason only when the workflow knows it in a few words (a bot that is
			// not deployed); a bot's own error stays in the body's cause.
			if (r.Status == bots.StatusSkipped || r.Status == bots.StatusFailed || r.Held) && r.Reason != "" {
				acts[i] += " (" + r.Reason + ")"
			}
			warnings = append(warnings, r.Warnings...)
		}
		fmt.Fprintf(&b, "; actions: %s", strings.Join(acts, ", "))
		if len(warnings) > 0 {
			fmt.Fprintf(&b, "; warnings: %s", strings.Join(warnings, "; "))
		}
	} else if in.Decision != nil && in.Decision.Reason != "" {
		fmt.Fprintf(&b, "; %s", in.Decision.Reason)
	}
	if e := in.Error; e != nil {
		fmt.Fprintf(&b, "; %s failed: %s", orDefault(e.Step, "a step"), e.Error)
	}
	return ellipsize(clean(b.String()), 500)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ConsoleURL links to the execution in the Step Functions console of its partition and region; "" for
// anything that is not a Step Functions execution ARN (a local run id) or a partition without a known
// console.
func ConsoleURL(executionARN string) string {
	a, err := arn.Parse(executionARN)
	if err != nil || a.Service != "states" || !regionRE.MatchString(a.Region) ||
		!(strings.HasPrefix(a.Resource, "execution:") || strings.HasPrefix(a.Resource, "express:")) ||
		!arnSafeRE.MatchString(executionARN) {
		return ""
	}
	var host string
	switch a.Partition {
	case "aws":
		host = a.Region + ".console.aws.amazon.com"
	case "aws-cn":
		host = "console.amazonaws.cn"
	case "aws-us-gov":
		host = "console.amazonaws-us-gov.com"
	default:
		return ""
	}
	return "https://" + host + "/states/home?region=" + a.Region + "#/v2/executions/details/" + executionARN
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	// arnSafeRE: execution names are [A-Za-z0-9_-] (and a few more in practice); nothing that could
	// break out of a URL fragment.
	arnSafeRE = regexp.MustCompile(`^[A-Za-z0-9:/_.+=@-]+$`)
)
