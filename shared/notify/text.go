package notify

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/guardbots/guardbots/shared/bots"
)

// The mail form: plain text written for a person, published with String message structure to the mail
// topic (SNS sends no message attributes with a JSON-structured message, and email subscribers would
// read the JSON raw). Every value in it that an event, an account's tags or a bot's output chose is
// passed through textValue: one line, no control or bidi characters, bounded, so no value can forge a
// line of the mail ("What was done: remediated") or reorder what a person reads.

// Limits that keep the mail readable and far below SNS's 256 KiB.
const (
	textValueMax   = 300 // characters of one value
	textActionsMax = 50  // actions listed
	textChangesMax = 20  // changes listed per action
)

// Text is the mail form of the message Build makes for in (outcome as OutcomeOf says).
func Text(in Input, outcome string) string {
	var t textDoc
	t.line("guardbots: %s", textValue(outcome))
	t.line("%s", summary(in, outcome))

	t.section("What was found")
	if f := in.Finding; f != nil {
		if findingFrom(in) != "guardduty" {
			t.line("  NOTE: as the event says; guardbots did not read this finding back from GuardDuty, so every value below is the sender's claim.")
		}
		t.field("Finding type", f.Type)
		t.field("Severity", fmt.Sprintf("%s (%g)", f.SeverityLabel, f.Severity))
		t.field("Title", f.Title)
		t.field("Finding id", f.ID)
		t.field("Resource", strings.TrimSpace(string(f.ResourceKind)+" "+resourceID(f)))
		t.field("Account", accountLine(in))
		t.field("Region", f.Region)
		t.field("Updated at", f.UpdatedAt)
		if f.Count > 1 {
			t.field("Seen", fmt.Sprintf("%d times, first %s, last %s", f.Count, f.FirstSeen, f.LastSeen))
		}
	} else {
		t.line("  No finding: the event was rejected before a finding could be read from it.")
	}

	done, notDone := splitResults(in.Results)
	t.section("What was done")
	if len(done) == 0 {
		t.line("  Nothing was changed.")
	}
	t.results(done)
	if d := in.Decision; d != nil {
		t.field("Decision", fmt.Sprintf("%s (%s)", d.Outcome, d.Reason))
		t.field("Mapping rule", d.Key)
	}

	if len(notDone) > 0 || in.Error != nil || len(in.Undelivered) > 0 {
		t.section("What was NOT done")
		t.results(notDone)
		for _, u := range in.Undelivered {
			t.field("Not delivered", u)
		}
		if e := in.Error; e != nil {
			t.field("Failed step", orDefault(e.Step, "a step"))
			t.field("Error", e.Error)
			t.field("Cause", e.Cause)
		}
	}
	if c := in.Closure; c != nil {
		t.section("Recorded on the finding")
		for _, d := range c.Done {
			t.field("Done", d)
		}
		t.field("Not recorded", c.Error)
	}

	t.section("Where to look")
	if u := ConsoleURL(in.Execution.ID); u != "" {
		t.line("  Execution in the Step Functions console:")
		t.line("    %s", u)
	}
	t.field("Execution", in.Execution.ID)
	t.field("Started", in.Execution.StartTime)
	if q := AuditQuery(in); q != "" {
		t.line("  Audit trail of this finding (every action, by whom, before and after):")
		t.line("    %s", q)
	}
	t.line("")
	t.line("-- guardbots. Values from the finding, the account's tags and the bots are shown as received, on one line each; the JSON topic carries the full record.")
	return t.String()
}

// approvalText is the mail form of an approval request: its instructions, one per paragraph.
func approvalText(b ApprovalBody) string {
	var t textDoc
	t.line("guardbots: approval needed")
	t.line("%s", b.Summary)
	t.line("")
	for _, l := range b.Instructions {
		// One line each, like every value; long enough for a command with a 2048-character task token.
		indent := ""
		if strings.HasPrefix(l, "  ") {
			indent = "    "
		}
		t.line("%s%s", indent, textValueN(l, 4096))
	}
	t.section("Where to look")
	if b.Execution.ConsoleURL != "" {
		t.line("  %s", b.Execution.ConsoleURL)
	}
	t.field("Execution", b.Execution.ARN)
	t.field("Deadline", b.Deadline)
	return t.String()
}

// AuditQuery is the AWS CLI command that lists the audit trail of in's finding, "" when the deployment
// did not say which table, or the finding id or region is not one that can be pasted into a shell.
func AuditQuery(in Input) string {
	f := in.Finding
	if f == nil || len(f.ID) > 512 || !auditIDRE.MatchString(f.ID) || len(in.AuditTable) < 3 || len(in.AuditTable) > 255 || !tableRE.MatchString(in.AuditTable) {
		return ""
	}
	region := ""
	if a, err := arn.Parse(in.Execution.ID); err == nil && regionRE.MatchString(a.Region) {
		region = " --region " + a.Region
	}
	return fmt.Sprintf(`aws dynamodb query%s --table-name %s --key-condition-expression 'pk = :pk' --expression-attribute-values '{":pk":{"S":"finding#%s"}}'`,
		region, in.AuditTable, f.ID)
}

var (
	// auditIDRE: GuardDuty finding ids are 32 hex characters; Security Hub's are ARNs. Nothing that
	// could leave the single-quoted JSON of the command. Lengths are checked apart: a counted
	// repetition compiles to that many copies, a cost every cold start would pay.
	auditIDRE = regexp.MustCompile(`^[A-Za-z0-9:/._-]+$`)
	tableRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// splitResults separates what changed (or would have, in dry-run, or already was) from what did not.
func splitResults(rs []bots.Result) (done, notDone []bots.Result) {
	for _, r := range rs {
		switch {
		case r.Held, r.Status == bots.StatusFailed, r.Status == bots.StatusSkipped:
			notDone = append(notDone, r)
		default:
			done = append(done, r)
		}
	}
	return done, notDone
}

// accountLine is the account as the organization describes it.
func accountLine(in Input) string {
	a := accountOf(in)
	if a == nil {
		return ""
	}
	s := a.ID
	if a.Unavailable != "" {
		return s
	}
	var parts []string
	if a.Name != "" {
		parts = append(parts, a.Name)
	}
	if a.Owner != "" {
		parts = append(parts, "owner "+a.Owner)
	}
	if len(a.OUPath) > 0 {
		parts = append(parts, "OU "+strings.Join(a.OUPath, "/"))
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// textDoc builds the mail.
type textDoc struct{ strings.Builder }

func (t *textDoc) line(format string, args ...any) {
	fmt.Fprintf(t, format, args...)
	t.WriteByte('\n')
}

func (t *textDoc) section(title string) {
	t.line("")
	t.line("%s", title)
}

// field writes "  Name: value" with value made safe; an empty value writes nothing.
func (t *textDoc) field(name, value string) {
	if v := textValue(value); v != "" {
		t.line("  %s: %s", name, v)
	}
}

func (t *textDoc) results(rs []bots.Result) {
	for i, r := range rs {
		if i == textActionsMax {
			t.line("  ... and %d more actions (see the execution)", len(rs)-i)
			return
		}
		status := string(r.Status)
		if r.Held {
			status = "held, not run"
		}
		line := fmt.Sprintf("  - %s: %s", textValue(r.Bot), textValue(status))
		if where := strings.Trim(textValue(r.Account)+"/"+textValue(r.Region), "/"); where != "" {
			line += " in " + where
		}
		t.line("%s", line)
		if r.DryRun {
			t.line("      dry run: nothing was changed")
		}
		for j, c := range r.Changes {
			if j == textChangesMax {
				t.line("      ... and %d more changes", len(r.Changes)-j)
				break
			}
			t.line("      %s", textValue(c))
		}
		t.field("    Reason", r.Reason)
		t.field("    Error", r.Error)
		t.field("    Cause", r.Cause)
		t.field("    Member role", r.Role)
		for _, w := range r.Warnings {
			t.field("    WARNING", w)
		}
	}
}

// textValue makes a value safe for one line of the mail: valid UTF-8, any whitespace run one space,
// control, format (bidi overrides, zero-width), private-use and unprintable characters dropped, at most
// textValueMax characters.
func textValue(s string) string { return textValueN(s, textValueMax) }

// textValueN is textValue with at most max characters.
func textValueN(s string, max int) string {
	var b strings.Builder
	space, n := false, 0
	for _, r := range strings.ToValidUTF8(s, "") {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) {
			continue
		}
		if n == max {
			b.WriteString("...")
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}
