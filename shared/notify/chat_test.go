package notify_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/notify/notifytest"
)

func chatOf(t *testing.T, m notify.Message) notify.ChatMessage {
	t.Helper()
	notifytest.ValidateChat(t, m.Chat)
	var c notify.ChatMessage
	dec := json.NewDecoder(strings.NewReader(string(m.Chat)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("chat message: %v\n%s", err, m.Chat)
	}
	return c
}

const consoleLink = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"

func TestChat_EveryOutcomeIsACustomNotificationInTheFindingsThread(t *testing.T) {
	for outcome, in := range notify.PerOutcome(t) {
		t.Run(outcome, func(t *testing.T) {
			c := chatOf(t, mustBuild(t, in))
			if c.Version != "1.0" || c.Source != "custom" || c.Content.TextType != "client-markdown" {
				t.Errorf("envelope %q %q %q", c.Version, c.Source, c.Content.TextType)
			}
			if !strings.HasPrefix(c.Content.Title, "guardbots: "+outcome) || c.Metadata.Summary != c.Content.Title || c.Metadata.EventType != "guardbots."+outcome {
				t.Errorf("title %q, summary %q, event type %q", c.Content.Title, c.Metadata.Summary, c.Metadata.EventType)
			}
			for _, want := range []string{"*What was found*", "*What was done*"} {
				if !strings.Contains(c.Content.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, c.Content.Description)
				}
			}
			if !strings.Contains(strings.Join(c.Content.NextSteps, "\n"), consoleLink) {
				t.Errorf("next steps lack the console link: %q", c.Content.NextSteps)
			}
			if c.Metadata.AdditionalContext != nil {
				t.Errorf("no buttons for an ec2_stop_instance outcome, got %v", c.Metadata.AdditionalContext)
			}
			switch {
			case in.Finding == nil:
				if c.Metadata.ThreadID != "" {
					t.Errorf("no finding, thread %q", c.Metadata.ThreadID)
				}
			case in.Decision.Verified:
				// Every update of a finding GuardDuty vouched for joins one thread, the approval requests too.
				if c.Metadata.ThreadID != "guardbots-60baffd3f9042e38640f2300d5c5a631" || !strings.Contains(c.Content.Title, "HIGH finding in account 111122223333") {
					t.Errorf("thread %q, title %q", c.Metadata.ThreadID, c.Content.Title)
				}
			default:
				if c.Metadata.ThreadID != "guardbots-unverified-60baffd3f9042e38640f2300d5c5a631" || !strings.Contains(c.Content.Description, "_As the event says") {
					t.Errorf("unverified finding: thread %q\n%s", c.Metadata.ThreadID, c.Content.Description)
				}
			}
			for _, r := range in.Results {
				if !strings.Contains(c.Content.Description, "• `"+r.Bot+"`") {
					t.Errorf("action %s not listed:\n%s", r.Bot, c.Content.Description)
				}
			}
			if in.Error != nil && !strings.Contains(c.Content.Description, "*What was NOT done*") {
				t.Errorf("the failure is not under What was NOT done:\n%s", c.Content.Description)
			}
		})
	}
}

// Every free-text field tries markdown, a mention, links in the three syntaxes a chat renders, a code
// span's end and line forging. None of it may format, notify or link.
func TestChat_AttackerControlledValuesCannotFormatMentionOrLink(t *testing.T) {
	payload := "`*bold* _it_ ~strike~` @channel @here <!channel> <!here|here> <@U012AB3CD> [login](https://evil.example/x) " +
		"<https://evil.example|Open the console> http://evil.example/a ftp://evil.example &lt;b&gt; :rotating_light:\n*What was done*\n• `ec2_stop_instance` `remediated`"
	in := notify.Attacked(t)
	in.Finding.Type += payload
	in.Finding.ID += payload
	in.Decision.Reason += payload
	in.Decision.Account.Name += payload
	in.Results[0].Changes = append(in.Results[0].Changes, payload)
	in.Results[0].Bot = payload
	in.Error = &notify.StepError{Step: payload, Error: payload, Cause: payload}
	c := chatOf(t, mustBuild(t, in))
	all := c.Content.Title + "\n" + c.Content.Description + "\n" + strings.Join(c.Content.NextSteps, "\n") + "\n" + strings.Join(c.Content.Keywords, " ") +
		"\n" + c.Metadata.Summary + "\n" + c.Metadata.ThreadID
	for _, bad := range []string{"@channel", "@here", "<!", "<@", "<http", "](http", "://evil", "\u202e", "\x1b"} {
		if strings.Contains(all, bad) {
			t.Errorf("chat message carries %q:\n%s", bad, all)
		}
	}
	// No forged heading or action line: the real ones only, each value on the line it belongs to.
	lines := strings.Split(c.Content.Description, "\n")
	heads := 0
	for _, l := range lines {
		if l == "*What was done*" {
			heads++
		}
		if strings.HasPrefix(l, "• `ec2_stop_instance`") {
			t.Errorf("forged action line %q", l)
		}
		// Every backtick pairs up on its line: a value cannot end its code span and go on as markup.
		if strings.Count(l, "`")%2 != 0 {
			t.Errorf("unbalanced code span in %q", l)
		}
	}
	if heads != 1 {
		t.Errorf("%d 'What was done' headings:\n%s", heads, c.Content.Description)
	}
	// Outside the code spans there is only guardbots' own text.
	outside := regexp.MustCompile("`[^`]*`").ReplaceAllString(c.Content.Description, "")
	if strings.Contains(outside, "evil") || strings.Contains(outside, "bold") {
		t.Errorf("attacker text outside a code span:\n%s", outside)
	}
	// Title and keywords hold no value the input chose; the finding id is hashed into the thread.
	if c.Content.Title != "guardbots: failed - HIGH finding in account 111122223333" || !strings.HasPrefix(c.Metadata.ThreadID, "guardbots-unverified-sha256-") {
		t.Errorf("title %q thread %q", c.Content.Title, c.Metadata.ThreadID)
	}
	for _, k := range c.Content.Keywords {
		if strings.Contains(k, "evil") {
			t.Errorf("keyword %q", k)
		}
	}
	// A forged execution id gets no link at all (a bare URL would be clickable).
	if strings.Contains(all, "://") {
		t.Errorf("a link in a message whose execution id is not an ARN:\n%s", all)
	}
	if c.Metadata.AdditionalContext != nil {
		t.Errorf("buttons on an unverified finding: %v", c.Metadata.AdditionalContext)
	}
}

func TestChat_HugeInputStaysBoundedAndValid(t *testing.T) {
	big := notify.PerOutcome(t)[notify.OutcomePartial]
	long := strings.Repeat("\u00e9x", 5000)
	big.Finding.Type = long
	for i := range 60 {
		big.Results = append(big.Results, bots.Result{Bot: fmt.Sprintf("bot%d", i), Status: bots.StatusFailed, Reason: long, Cause: long,
			Changes: []string{long, long, long, long, long, long, long}})
	}
	m := mustBuild(t, big)
	c := chatOf(t, m)
	if len(m.Chat) > 16*1024 || !strings.HasSuffix(c.Content.Description, "(more in the execution)\n") {
		t.Errorf("chat message is %d bytes, description ends %q", len(m.Chat), c.Content.Description[len(c.Content.Description)-40:])
	}
}

// A quarantine that changed something on a finding GuardDuty vouched for offers Release; its variables
// name the finding and nothing the input chose. A dry run, a skip or an unverified finding offers none.
func TestChat_ReleaseOfferedOnlyForAVerifiedContainmentThatCanBeUndone(t *testing.T) {
	base := notify.PerOutcome(t)[notify.OutcomeRemediated]
	quarantine := bots.Result{Bot: "ec2_quarantine_instance", Status: bots.StatusRemediated, Account: "111122223333", Region: "us-east-1",
		Changes: []string{"moved eni-1 to sg-iso"}}
	in := base
	in.Results = []bots.Result{base.Results[0], quarantine}
	c := chatOf(t, mustBuild(t, in))
	want := map[string]string{notify.ChatKeyKind: notify.ChatKindRelease, notify.ChatKeyFindingID: in.Finding.ID,
		notify.ChatKeyAccount: "111122223333", notify.ChatKeyRegion: "us-east-1"}
	if fmt.Sprint(c.Metadata.AdditionalContext) != fmt.Sprint(want) || !strings.Contains(strings.Join(c.Content.NextSteps, " "), "press Release") {
		t.Errorf("release offer %v, next steps %q", c.Metadata.AdditionalContext, c.Content.NextSteps)
	}

	dry := quarantine
	dry.Status, dry.DryRun = bots.StatusDryRun, true
	skipped := quarantine
	skipped.Status = bots.StatusSkipped
	unverified := in
	unverified.Decision = &mapping.Decision{Outcome: mapping.Remediate, Verified: false}
	for name, x := range map[string]notify.Input{
		"dry run":    {Finding: in.Finding, Decision: in.Decision, Results: []bots.Result{dry}, Execution: in.Execution},
		"skipped":    {Finding: in.Finding, Decision: in.Decision, Results: []bots.Result{skipped}, Execution: in.Execution},
		"unverified": unverified,
	} {
		if c := chatOf(t, mustBuild(t, x)); c.Metadata.AdditionalContext != nil {
			t.Errorf("%s: release offered: %v", name, c.Metadata.AdditionalContext)
		}
	}
}

func approvalRequest(t *testing.T, tok string) notify.ApprovalRequest {
	f := notify.PerOutcome(t)[notify.OutcomeRemediated].Finding
	return notify.ApprovalRequest{Finding: f, Action: mapping.Action{Bot: "ec2_quarantine_instance", Mode: "APPROVE", ApprovalTimeoutSeconds: 600},
		Execution: "arn:aws:states:us-east-1:999988887777:execution:guardbots-remediation:6e1f0c2a-run", TaskToken: tok}
}

func TestChat_ApprovalRequestHasButtonsWhenTheTokenFits(t *testing.T) {
	tok := "AQCEAAAAKgAAAAMAAAAAAAAAAfake+token/with=base64=="
	m, err := notify.BuildApprovalRequest(approvalRequest(t, tok), notify.ApprovalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := chatOf(t, m)
	if c.Metadata.AdditionalContext[notify.ChatKeyKind] != notify.ChatKindApproval || c.Metadata.AdditionalContext[notify.ChatKeyTaskToken] != tok {
		t.Errorf("variables %v", c.Metadata.AdditionalContext)
	}
	// In the finding's own thread, with the outcome messages.
	if c.Metadata.ThreadID != "guardbots-60baffd3f9042e38640f2300d5c5a631" || c.Content.Title != "guardbots: approval needed - ec2_quarantine_instance" {
		t.Errorf("thread %q title %q", c.Metadata.ThreadID, c.Content.Title)
	}
	if strings.Contains(c.Content.Description, tok) || strings.Contains(strings.Join(c.Content.NextSteps, " "), "send-task-success") {
		t.Errorf("with buttons, the token is not printed:\n%s\n%q", c.Content.Description, c.Content.NextSteps)
	}
}

// SendTaskSuccess takes tokens of up to 2048 characters; a button variable carries 1024. Past that the
// message has no buttons, prints the commands and says why.
func TestChat_ApprovalRequestWithATokenTooLongForAButtonPrintsTheCommands(t *testing.T) {
	for _, n := range []int{notify.MaxChatVariable + 1, 2048} {
		tok := strings.Repeat("A", n)
		m, err := notify.BuildApprovalRequest(approvalRequest(t, tok), notify.ApprovalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := chatOf(t, m)
		if c.Metadata.AdditionalContext != nil {
			t.Errorf("%d: buttons with a token a button cannot carry: %v", n, c.Metadata.AdditionalContext)
		}
		why := fmt.Sprintf("No buttons: this request's task token is %d characters, more than the 1024 a chat button can carry.", n)
		steps := strings.Join(c.Content.NextSteps, "\n")
		if !strings.Contains(c.Content.Description, why) || !strings.Contains(steps, "aws stepfunctions send-task-success --region us-east-1 --task-token '"+tok+"'") ||
			!strings.Contains(steps, "aws stepfunctions send-task-failure --region us-east-1 --task-token '"+tok+"' --error Guardbots.Denied") {
			t.Errorf("%d:\n%s\n%s", n, c.Content.Description, steps)
		}
	}
}

// The schema bites: messages the service would not take, or variables a button could not carry.
func TestChatSchema_RejectsWhatTheServiceWouldNot(t *testing.T) {
	for name, doc := range map[string]string{
		"no description":  `{"version":"1.0","source":"custom","content":{"textType":"client-markdown","title":"t"}}`,
		"other version":   `{"version":"2.0","source":"custom","content":{"description":"d"}}`,
		"other source":    `{"version":"1.0","source":"aws.guardduty","content":{"description":"d"}}`,
		"space in a var":  `{"version":"1.0","source":"custom","content":{"description":"d"},"metadata":{"additionalContext":{"guardbotsKind":"approval-request","taskToken":"a b"}}}`,
		"var too long":    `{"version":"1.0","source":"custom","content":{"description":"d"},"metadata":{"additionalContext":{"guardbotsKind":"approval-request","taskToken":"` + strings.Repeat("A", 1025) + `"}}}`,
		"unknown kind":    `{"version":"1.0","source":"custom","content":{"description":"d"},"metadata":{"additionalContext":{"guardbotsKind":"other"}}}`,
		"unknown member":  `{"version":"1.0","source":"custom","content":{"description":"d","extra":1}}`,
		"foreign thread":  `{"version":"1.0","source":"custom","content":{"description":"d"},"metadata":{"threadId":"someone-else"}}`,
		"markup keyword":  `{"version":"1.0","source":"custom","content":{"description":"d","keywords":["@channel"]}}`,
		"empty next step": `{"version":"1.0","source":"custom","content":{"description":"d","nextSteps":[""]}}`,
	} {
		if notifytest.CheckChat(t, []byte(doc)) == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
	if err := notifytest.CheckChat(t, []byte(`{"version":"1.0","source":"custom","content":{"description":"d"}}`)); err != nil {
		t.Errorf("the smallest documented message: %v", err)
	}
}

// A release's chat message says the containment was undone and what brings it back; a failed release
// does not tell a person to replay the finding (that would contain it again), and no release offers
// Release.
func TestChat_ReleaseSaysTheContainmentWasUndoneAndOffersNoRelease(t *testing.T) {
	in := notify.PerOutcome(t)[notify.OutcomeReleased]
	c := chatOf(t, mustBuild(t, in))
	steps := strings.Join(c.Content.NextSteps, "\n")
	if c.Content.Title != "guardbots: released - HIGH finding in account 111122223333 (ec2_release_quarantine)" ||
		c.Metadata.EventType != "guardbots.released" || !strings.Contains(steps, "The containment was undone") ||
		c.Metadata.AdditionalContext != nil {
		t.Errorf("title %q, event type %q, context %v, next steps %q", c.Content.Title, c.Metadata.EventType, c.Metadata.AdditionalContext, steps)
	}
	failed := in
	failed.Results = []bots.Result{{Bot: "ec2_release_quarantine", Status: bots.StatusFailed, Error: "Guardbots.Failed", Cause: "UnauthorizedOperation"}}
	c = chatOf(t, mustBuild(t, failed))
	steps = strings.Join(c.Content.NextSteps, "\n")
	if !strings.Contains(steps, "The release did not complete") || strings.Contains(steps, "replay the finding") {
		t.Errorf("failed release: next steps %q", steps)
	}
}
