package notify

import (
	_ "embed"
	"encoding/json"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
)

// The event form: every outcome is also an EventBridge event on the default bus, for tools — an API
// destination for a ticketing system, a Security Hub or Security Incident Response case, another
// account's bus — routed with ordinary rules on source "guardbots". Its detail is documented and
// versioned by EventSchema (event.schema.json): a consumer matches on detail.version, and a change that
// is not backwards compatible gets a new version. An approval request is not an outcome and has no
// event: the detail never carries a task token.

// The event's envelope.
const (
	EventSource     = "guardbots"
	EventDetailType = "Guardbots Outcome"
	// EventVersion is detail.version.
	EventVersion = "1"
)

// EventSchema is the JSON Schema (draft 2020-12) of the event's detail.
//
//go:embed event.schema.json
var EventSchema []byte

// Bounds that keep the detail far below PutEvents' 256 KiB per entry.
const (
	eventActionsMax = 20
	eventChangesMax = 10
	eventTextMax    = 1024
	eventChangeMax  = 256
)

// EventDetail is the detail of the guardbots event.
type EventDetail struct {
	Version string `json:"version"`
	Outcome string `json:"outcome"`
	Summary string `json:"summary"`
	// Finding is absent when the event was rejected before a finding could be read from it.
	Finding  *EventFinding  `json:"finding,omitempty"`
	Account  *EventAccount  `json:"account,omitempty"`
	Decision *EventDecision `json:"decision,omitempty"`
	Actions  []EventAction  `json:"actions"`
	// ActionsOmitted counts actions beyond the first eventActionsMax (the execution has them all).
	ActionsOmitted int            `json:"actionsOmitted,omitempty"`
	Error          *StepError     `json:"error,omitempty"`
	Execution      ExecutionLink  `json:"execution"`
	TimeToContain  *TimeToContain `json:"timeToContain,omitempty"`
}

// EventFinding identifies the finding. From says whose word it is: "guardduty" (read back by verify)
// or "event" (the sender's claim).
type EventFinding struct {
	ID            string  `json:"id"`
	Arn           string  `json:"arn,omitempty"`
	Type          string  `json:"type"`
	Title         string  `json:"title,omitempty"`
	Severity      float64 `json:"severity"`
	SeverityLabel string  `json:"severityLabel,omitempty"`
	AccountID     string  `json:"accountId"`
	Region        string  `json:"region"`
	Partition     string  `json:"partition,omitempty"`
	ResourceKind  string  `json:"resourceKind,omitempty"`
	ResourceID    string  `json:"resourceId,omitempty"`
	CreatedAt     string  `json:"createdAt,omitempty"`
	UpdatedAt     string  `json:"updatedAt,omitempty"`
	From          string  `json:"from"`
}

// EventAccount is the finding's account as the organization describes it.
type EventAccount struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Owner  string   `json:"owner,omitempty"`
	OUPath []string `json:"ouPath,omitempty"`
}

// EventDecision is what the mapping decided.
type EventDecision struct {
	Decision   string `json:"decision"`
	Reason     string `json:"reason,omitempty"`
	MappingKey string `json:"mappingKey,omitempty"`
	Verified   bool   `json:"verified"`
}

// EventAction is one action's outcome.
type EventAction struct {
	Bot     string   `json:"bot"`
	Status  string   `json:"status"`
	Held    bool     `json:"held,omitempty"`
	DryRun  bool     `json:"dryRun,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	Account string   `json:"account,omitempty"`
	Region  string   `json:"region,omitempty"`
	Changes []string `json:"changes,omitempty"`
	Error   string   `json:"error,omitempty"`
	Cause   string   `json:"cause,omitempty"`
	DoneAt  string   `json:"doneAt,omitempty"`
}

// TimeToContain runs to the last containment action (a remediated, not dry-run, action): from the
// finding's updatedAt (when GuardDuty last saw the activity) and from the event's arrival (the
// execution's start, which the EventBridge rule triggers). A bound is absent when its start time is
// missing, unreadable or after the containment.
type TimeToContain struct {
	ContainedAt             string   `json:"containedAt"`
	FromFindingUpdatedSecs  *float64 `json:"fromFindingUpdatedSeconds,omitempty"`
	FromEventArrivalSeconds *float64 `json:"fromEventArrivalSeconds,omitempty"`
}

// Containment is in's time to contain, nil when no action contained anything (or no contained action
// says when it finished), and for a release request, which ends a containment.
func Containment(in Input) *TimeToContain {
	if isRelease(in) {
		// The undo bots' changes end a containment: counting them would put releases in the headline.
		return nil
	}
	var last time.Time
	for _, r := range in.Results {
		if r.Status != bots.StatusRemediated || r.DryRun {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, r.DoneAt); err == nil && t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return nil
	}
	c := &TimeToContain{ContainedAt: last.UTC().Format(time.RFC3339Nano)}
	since := func(s string) *float64 {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || t.After(last) {
			return nil
		}
		d := last.Sub(t).Seconds()
		return &d
	}
	if in.Finding != nil {
		c.FromFindingUpdatedSecs = since(in.Finding.UpdatedAt)
	}
	c.FromEventArrivalSeconds = since(in.Execution.StartTime)
	return c
}

// Event is the detail of in's event (outcome as OutcomeOf says).
func Event(in Input, outcome string) EventDetail {
	d := EventDetail{
		Version:       EventVersion,
		Outcome:       outcome,
		Summary:       summary(in, outcome),
		Actions:       []EventAction{},
		Execution:     ExecutionLink{ARN: in.Execution.ID, Name: in.Execution.Name, StartTime: in.Execution.StartTime, ConsoleURL: ConsoleURL(in.Execution.ID)},
		TimeToContain: Containment(in),
	}
	if f := in.Finding; f != nil {
		d.Finding = &EventFinding{
			ID: cut(f.ID), Arn: cut(f.Arn), Type: cut(f.Type), Title: cut(f.Title), Severity: f.Severity,
			SeverityLabel: cut(string(f.SeverityLabel)), AccountID: cut(f.AccountID), Region: cut(f.Region),
			Partition: cut(f.Partition), ResourceKind: cut(string(f.ResourceKind)), ResourceID: cut(resourceID(f)),
			CreatedAt: cut(f.CreatedAt), UpdatedAt: cut(f.UpdatedAt), From: findingFrom(in),
		}
	}
	if a := accountOf(in); a != nil {
		d.Account = &EventAccount{ID: cut(a.ID), Name: cut(a.Name), Owner: cut(a.Owner), OUPath: a.OUPath}
	}
	if dec := in.Decision; dec != nil {
		d.Decision = &EventDecision{Decision: cut(string(dec.Outcome)), Reason: cut(dec.Reason), MappingKey: cut(dec.Key), Verified: dec.Verified}
	}
	for i, r := range in.Results {
		if i == eventActionsMax {
			d.ActionsOmitted = len(in.Results) - i
			break
		}
		a := EventAction{Bot: cut(r.Bot), Status: cut(string(r.Status)), Held: r.Held, DryRun: r.DryRun, Reason: cut(r.Reason),
			Account: cut(r.Account), Region: cut(r.Region), Error: cut(r.Error), Cause: cut(r.Cause), DoneAt: cut(r.DoneAt)}
		for j, c := range r.Changes {
			if j == eventChangesMax {
				break
			}
			a.Changes = append(a.Changes, truncateUTF8(c, eventChangeMax))
		}
		d.Actions = append(d.Actions, a)
	}
	if e := in.Error; e != nil {
		d.Error = &StepError{Step: cut(e.Step), Error: cut(e.Error), Cause: cut(e.Cause)}
	}
	return d
}

// eventJSON encodes in's event detail.
func eventJSON(in Input, outcome string) ([]byte, error) { return json.Marshal(Event(in, outcome)) }

func cut(s string) string { return truncateUTF8(s, eventTextMax) }
