package notify

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// The chat form: a custom notification of Amazon Q Developer in chat applications (formerly AWS
// Chatbot), published to the chat topic that a Slack or Microsoft Teams channel configuration
// subscribes (infra/chat.go). Its shape is ChatSchema (chat.schema.json), written from the service's
// documented event schema. Each finding's messages share one thread (metadata.threadId), and the buttons
// are custom actions the deployment attaches by the variables in metadata.additionalContext.
//
// The description is client-markdown, which the chat client renders: every value an event, an account's
// tags or a bot's output chose goes in as chatCode — one bounded line in an inline code span, with the
// characters that could end the span, open a link or entity (< >), mention someone (@channel) or
// make a URL clickable (://) replaced — so no value can format text, notify a channel or plant a link.
// Titles, keywords and the summary hold only values guardbots chose or checked against a strict form.

// The custom notification's fixed members.
const (
	ChatVersion  = "1.0"
	ChatSource   = "custom"
	ChatTextType = "client-markdown"
)

// ChatSchema is the JSON Schema (draft 2020-12) of a chat message.
//
//go:embed chat.schema.json
var ChatSchema []byte

// Keys of metadata.additionalContext that the custom actions read as variables
// (event.metadata.additionalContext.<key>). Only guardbots' own values, each of a strict form, go there.
const (
	// ChatKeyKind says which buttons the message takes: ChatKindApproval or ChatKindRelease.
	ChatKeyKind = "guardbotsKind"
	// ChatKeyTaskToken is the approval request's task token (only when it fits MaxChatVariable).
	ChatKeyTaskToken = "taskToken"
	// ChatKeyFindingID, ChatKeyAccount and ChatKeyRegion name the finding a release request is for.
	ChatKeyFindingID = "findingId"
	ChatKeyAccount   = "accountId"
	ChatKeyRegion    = "findingRegion"
)

// Values of ChatKeyKind.
const (
	ChatKindApproval = "approval-request"
	ChatKindRelease  = "release-offer"
)

// MaxChatVariable is the most characters guardbots puts in a value a button reads. The service's API
// reference bounds a custom action's variable at 1024 characters (CustomActionAttachment.Variables,
// value length 0–1024); it does not say how long the value read from a notification may be, so
// guardbots keeps to the same bound. A Step Functions task token may be up to 2048 characters.
const MaxChatVariable = 1024

// Bounds guardbots chooses (the service documents none for these fields): short enough for a channel.
const (
	chatTitleMax       = 250
	chatDescriptionMax = 3500
	chatValueMax       = 200
	chatActionsMax     = 10
	chatChangesMax     = 5
)

// ChatMessage is a custom notification.
type ChatMessage struct {
	Version  string        `json:"version"`
	Source   string        `json:"source"`
	ID       string        `json:"id,omitempty"`
	Content  ChatContent   `json:"content"`
	Metadata *ChatMetadata `json:"metadata,omitempty"`
}

// ChatContent is what the channel shows.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata threads the message and carries the buttons' variables.
type ChatMetadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// chatOutcome is the chat form of the message Build makes for in.
func chatOutcome(in Input, outcome string) ([]byte, error) {
	f := in.Finding
	verified := findingFrom(in) == "guardduty"
	var d chatDoc

	d.heading("What was found")
	if f == nil {
		d.line("No finding: the input was rejected before a finding could be read from it.")
	} else {
		if !verified {
			d.line("_As the event says: guardbots did not read this finding back from GuardDuty, so every value is the sender's claim._")
		}
		d.line("%s %s finding %s", chatCode(string(f.SeverityLabel)), chatCode(f.Type), chatCode(f.ID))
		if res := resourceID(f); res != "" {
			d.line("Resource: %s %s", chatCode(string(f.ResourceKind)), chatCode(res))
		}
		d.line("Account: %s in %s", chatCode(accountLine(in)), chatCode(f.Region))
	}

	done, notDone := splitResults(in.Results)
	d.heading("What was done")
	if len(done) == 0 {
		d.line("Nothing was changed.")
	}
	d.results(done)
	if dec := in.Decision; dec != nil {
		d.line("Decision: %s (%s), rule %s", chatCode(string(dec.Outcome)), chatCode(dec.Reason), chatCode(dec.Key))
	}
	if len(notDone) > 0 || in.Error != nil || len(in.Undelivered) > 0 {
		d.heading("What was NOT done")
		d.results(notDone)
		for _, u := range in.Undelivered {
			d.line("Not delivered: %s", chatCode(u))
		}
		if e := in.Error; e != nil {
			d.line("%s failed: %s %s", chatCode(orDefault(e.Step, "a step")), chatCode(e.Error), chatCode(e.Cause))
		}
	}

	m := ChatMessage{
		Version: ChatVersion, Source: ChatSource,
		Content: ChatContent{TextType: ChatTextType, Title: chatTitle(in, outcome), Description: d.String(),
			NextSteps: chatNextSteps(in, outcome), Keywords: chatKeywords(outcome, f, botNames(in))},
		Metadata: &ChatMetadata{EventType: "guardbots." + outcome},
	}
	m.Metadata.Summary = m.Content.Title
	if f != nil {
		m.Metadata.ThreadID = ChatThread(f.ID, verified)
	}
	if ConsoleURL(in.Execution.ID) != "" {
		m.Metadata.RelatedResources = []string{in.Execution.ID}
	}
	if ctx := releaseContext(in); ctx != nil {
		m.Metadata.AdditionalContext = ctx
		m.Content.NextSteps = append(m.Content.NextSteps,
			"To undo the containment, press Release: it starts a release request, which guardbots verifies against GuardDuty and then asks the approver to approve before anything changes.")
	}
	return json.Marshal(m)
}

// releaseContext is the release offer's variables: only for a finding GuardDuty vouched for on which a
// containment that can be undone changed something, and only with values of a strict form.
func releaseContext(in Input) map[string]string {
	f := in.Finding
	if f == nil || findingFrom(in) != "guardduty" || !chatIDRE.MatchString(f.ID) || len(f.ID) > MaxChatVariable ||
		!accountIDRE.MatchString(f.AccountID) || !regionRE.MatchString(f.Region) {
		return nil
	}
	for _, r := range in.Results {
		if _, ok := bots.UndoBot(r.Bot); ok && r.Status == bots.StatusRemediated && !r.DryRun {
			return map[string]string{ChatKeyKind: ChatKindRelease, ChatKeyFindingID: f.ID, ChatKeyAccount: f.AccountID, ChatKeyRegion: f.Region}
		}
	}
	return nil
}

// chatTitle holds only what guardbots chose or checked: the outcome, a severity label, a 12-digit
// account id and the names of registered bots.
func chatTitle(in Input, outcome string) string {
	var b strings.Builder
	b.WriteString("guardbots: " + outcome)
	if f := in.Finding; f != nil {
		if sev := severityWord(f.SeverityLabel); sev != "" {
			b.WriteString(" - " + sev + " finding")
		} else {
			b.WriteString(" - finding")
		}
		if accountIDRE.MatchString(f.AccountID) {
			b.WriteString(" in account " + f.AccountID)
		}
	}
	if names := registeredNames(botNames(in)); len(names) > 0 {
		b.WriteString(" (" + strings.Join(names, ", ") + ")")
	}
	return ellipsize(b.String(), chatTitleMax)
}

// chatNextSteps says what a person can do next, by outcome.
func chatNextSteps(in Input, outcome string) []string {
	var steps []string
	switch outcome {
	case OutcomeReleased:
		steps = append(steps, "The containment was undone. GuardDuty's next update of the finding is matched again: archive or suppress the finding in GuardDuty if it was a false positive.")
	case OutcomeFailed, OutcomePartial:
		if isRelease(in) {
			steps = append(steps, "The release did not complete: read the failed action's error and cause in the execution. What is listed as not done is still contained: once the cause is fixed, press Release on the containment's message again.")
			break
		}
		steps = append(steps, "The finding is not (fully) contained: read the failed step's error and cause in the execution, fix the cause, and contain it by hand or replay the finding.")
	case OutcomeHeld:
		steps = append(steps, "An action was held by the blast-radius limit: the approval request for it follows in this thread.")
	case OutcomeDryRun:
		steps = append(steps, "Dry run: nothing was changed. The actions list what each bot would have done.")
	case OutcomeRejected:
		steps = append(steps, "The input was not a finding guardbots could act on: check who started the execution and with what.")
	case OutcomeNotifyOnly, OutcomeSkipped:
		steps = append(steps, "Nothing was changed: triage the finding in GuardDuty.")
	}
	if u := ConsoleURL(in.Execution.ID); u != "" {
		steps = append(steps, "Open the execution: "+u)
	}
	if q := AuditQuery(in); q != "" {
		steps = append(steps, "Audit trail of this finding: `"+q+"`")
	}
	return steps
}

func chatKeywords(outcome string, f *finding.Finding, names []string) []string {
	kw := []string{"guardbots", outcome}
	if f != nil {
		if sev := severityWord(f.SeverityLabel); sev != "" {
			kw = append(kw, sev)
		}
	}
	return append(kw, registeredNames(names)...)
}

// ChatThread is the thread of a finding's messages. Only a finding GuardDuty vouched for joins the
// finding's thread: a sender's claim of the same id goes to a thread of its own, so a forged event cannot
// post into the thread of a real finding. An id that is long or not of the usual form is hashed.
func ChatThread(findingID string, verified bool) string {
	prefix := "guardbots-"
	if !verified {
		prefix = "guardbots-unverified-"
	}
	if chatIDRE.MatchString(findingID) && len(findingID) <= 128 {
		return prefix + findingID
	}
	sum := sha256.Sum256([]byte(findingID))
	return prefix + "sha256-" + hex.EncodeToString(sum[:16])
}

// approvalChat is the chat form of an approval request. The buttons answer with the task token; a token
// longer than a button can carry gets no buttons and the printed commands, and the message says why.
func approvalChat(r ApprovalRequest, b ApprovalBody, approveCmd, denyCmd string) ([]byte, error) {
	f := r.Finding
	bot := "an unregistered bot"
	if _, ok := bots.Lookup(r.Action.Bot); ok {
		bot = r.Action.Bot
	}
	var d chatDoc
	d.line("guardbots wants to run %s on %s in %s because of GuardDuty finding %s (%s %s).",
		chatCode(r.Action.Bot), chatCode(orDefault(resourceID(f), "the finding's resource")), chatCode(f.AccountID+"/"+f.Region),
		chatCode(f.ID), chatCode(string(f.SeverityLabel)), chatCode(f.Type))
	if r.Action.Held != "" {
		d.line("Why you are asked: %s. Approving lets this one action past the limit; it is still checked for exemption and duplicates.", chatCode(r.Action.Held))
	}
	d.line("If nobody answers by %s, nothing is done (approval timed out).", chatCode(b.Deadline))
	if b.DryRun {
		d.line("DRY RUN: approving only reports what the bot would change.")
	}
	m := ChatMessage{
		Version: ChatVersion, Source: ChatSource,
		Content: ChatContent{TextType: ChatTextType, Title: ellipsize("guardbots: approval needed - "+bot, chatTitleMax),
			Keywords: chatKeywords(OutcomeApprovalRequested, f, []string{r.Action.Bot})},
		Metadata: &ChatMetadata{ThreadID: ChatThread(f.ID, true), EventType: "guardbots." + OutcomeApprovalRequested},
	}
	m.Metadata.Summary = m.Content.Title
	if len(r.TaskToken) <= MaxChatVariable {
		d.line("Approve or Deny with the buttons: each calls Step Functions under your own chat role, and CloudTrail records you as the caller (the approver in the execution reads \"chat\").")
		m.Metadata.AdditionalContext = map[string]string{ChatKeyKind: ChatKindApproval, ChatKeyTaskToken: r.TaskToken}
	} else {
		d.line("No buttons: this request's task token is %d characters, more than the %d a chat button can carry. Run one of the commands below with the approver role's credentials.",
			len(r.TaskToken), MaxChatVariable)
		m.Content.NextSteps = []string{"To APPROVE (replace YOUR-NAME): `" + approveCmd + "`", "To DENY: `" + denyCmd + "`"}
	}
	if u := b.Execution.ConsoleURL; u != "" {
		m.Content.NextSteps = append(m.Content.NextSteps, "Open the execution: "+u)
		m.Metadata.RelatedResources = []string{b.Execution.ARN}
	}
	m.Content.Description = d.String()
	return json.Marshal(m)
}

// chatDoc builds a client-markdown description, bounded: the first line that would pass the bound
// ends it, with a note.
type chatDoc struct {
	strings.Builder
	full bool
}

func (d *chatDoc) line(format string, args ...any) {
	if d.full {
		return
	}
	s := fmt.Sprintf(format, args...)
	if d.Len()+len(s)+1 > chatDescriptionMax {
		d.full = true
		d.WriteString("… (more in the execution)\n")
		return
	}
	d.WriteString(s)
	d.WriteByte('\n')
}

func (d *chatDoc) heading(h string) {
	if d.Len() > 0 {
		d.line("")
	}
	d.line("*%s*", h)
}

func (d *chatDoc) results(rs []bots.Result) {
	for i, r := range rs {
		if i == chatActionsMax {
			d.line("… and %d more actions (see the execution)", len(rs)-i)
			return
		}
		status := string(r.Status)
		if r.Held {
			status = "held, not run"
		}
		d.line("• %s %s", chatCode(r.Bot), chatCode(status))
		for j, c := range r.Changes {
			if j == chatChangesMax {
				d.line("    … and %d more changes", len(r.Changes)-j)
				break
			}
			d.line("    %s", chatCode(c))
		}
		for _, v := range []struct{ name, value string }{{"reason", r.Reason}, {"error", r.Error}, {"cause", r.Cause}} {
			if v.value != "" {
				d.line("    %s: %s", v.name, chatCode(v.value))
			}
		}
		for _, w := range r.Warnings {
			d.line("    warning: %s", chatCode(w))
		}
	}
}

// chatCode is an attacker's value made inert in client-markdown: one bounded printable line (textValue)
// in an inline code span, which the chat client shows as typed, without the characters that could end
// the span (`), open a Slack link or entity (< > &), mention a person or channel (@) or make a link
// clickable (://, "](" of a markdown link), each replaced by a look-alike that does none of these.
func chatCode(s string) string {
	v := chatInert.Replace(textValueN(s, chatValueMax))
	if v == "" {
		return "-"
	}
	return "`" + v + "`"
}

var chatInert = strings.NewReplacer(
	"`", "'",
	"<", "\u2039", // ‹
	">", "\u203a", // ›
	"&", "\uff06", // ＆
	"@", "\uff20", // ＠
	"://", "[:]//", // a defanged URL, as security tools write indicators
	"](", "] (", // no markdown link, even where a client ignored the code span
)

// severityWord is a GuardDuty severity label, or "" for anything else.
func severityWord(l finding.SeverityLabel) string {
	switch s := string(l); s {
	case "LOW", "MEDIUM", "HIGH", "CRITICAL":
		return s
	}
	return ""
}

// registeredNames keeps the registered bot names: anything else is a value the input chose.
func registeredNames(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := bots.Lookup(n); ok {
			out = append(out, n)
		}
	}
	return out
}

var (
	// chatIDRE: a finding id that can be a thread id and a button variable: GuardDuty's 32 hex
	// characters, or a Security Hub ARN; no quote, space or markup.
	chatIDRE    = regexp.MustCompile(`^[A-Za-z0-9:/._-]+$`)
	accountIDRE = regexp.MustCompile(`^\d{12}$`)
)
