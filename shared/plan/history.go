package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// The approval Task (steps.StateWaitForApproval) is a Lambda integration that waits for a task token:
// its TaskScheduled and TaskSucceeded events name it so.
const (
	approvalResourceType = "lambda"
	approvalResource     = "invoke.waitForTaskToken"
)

// maxHistoryPages bounds the read: a Standard execution's history holds at most 25,000 events, 1,000
// a page.
const maxHistoryPages = 30

// Evidence is where an execution's history shows an approval: the TaskSucceeded event of the approval
// Task in the action's Map iteration, with the answer the approver sent.
type Evidence struct {
	Execution string
	// EventID is the TaskSucceeded event's id; Iteration the Map iteration (the action's index).
	EventID   int64
	Iteration int
	At        time.Time
	// Approver is the name the approver typed: their claim. Who sent it, authenticated, is the caller of
	// the SendTaskSuccess call in CloudTrail (the execution's approver role session).
	Approver string
}

// String says what the evidence is, and where the authenticated identity is.
func (e Evidence) String() string {
	return fmt.Sprintf("approver %q as typed (a claim, not authenticated); the execution history shows the %q task of action %d "+
		"succeeding with that answer (event %d at %s); the authenticated sender is the caller of states:SendTaskSuccess "+
		"for execution %s in CloudTrail",
		e.Approver, steps.StateWaitForApproval, e.Iteration+1, e.EventID, e.At.UTC().Format(time.RFC3339), e.Execution)
}

// Approval looks for a's approval in its execution's own history, which only Step Functions writes: the
// approval Task of a's Map iteration, scheduled for a's bot with a's held reason (none for an APPROVE-mode
// approval), must have succeeded with exactly a's approval. Anything else is a faults.Rejected error.
// The history's events are read in memory only and never logged or put in an error: the TaskScheduled
// events carry task tokens.
func (v *Verifier) Approval(ctx context.Context, a Action) (Evidence, error) {
	ap := a.Action.Approval
	what := fmt.Sprintf("action %d (%s)", a.Index+1, a.Action.Bot)
	if ap == nil {
		return Evidence{}, faults.Rejectf("plan: %s carries no approval", what)
	}
	if !ap.Approved || strings.TrimSpace(ap.Approver) == "" {
		return Evidence{}, faults.Rejectf("plan: %s: the approval is not {\"approved\": true, \"approver\": \"<name>\"}", what)
	}
	if v.States == nil {
		return Evidence{}, fmt.Errorf("plan: the verifier has no Step Functions client")
	}
	h := history{events: map[int64]sfntypes.HistoryEvent{}}
	p := sfn.NewGetExecutionHistoryPaginator(v.States, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(a.Execution), IncludeExecutionData: aws.Bool(true), MaxResults: 1000,
	})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxHistoryPages {
			return Evidence{}, faults.Fail(fmt.Errorf("plan: the history of execution %s is longer than %d pages", a.Execution, maxHistoryPages))
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			// The SDK's error names the operation and the service's message, never the events.
			return Evidence{}, fmt.Errorf("plan: GetExecutionHistory %s: %w", a.Execution, err)
		}
		for _, e := range page.Events {
			h.add(e)
		}
	}
	if ev, ok := h.approval(a); ok {
		ev.Execution = a.Execution
		return ev, nil
	}
	held := ""
	if a.Action.Held != "" {
		held = " asked about its blast-radius hold"
	}
	return Evidence{}, faults.Rejectf("plan: the history of execution %s shows no %q task of %s%s succeeding with this approval: "+
		"only an answer Step Functions recorded for this action is honoured", a.Execution, steps.StateWaitForApproval, what, held)
}

// history is an execution's events by id.
type history struct {
	events map[int64]sfntypes.HistoryEvent
	// succeeded are the approval Tasks' TaskSucceeded events, in the order read.
	succeeded []int64
}

func (h *history) add(e sfntypes.HistoryEvent) {
	h.events[e.Id] = e
	if d := e.TaskSucceededEventDetails; e.Type == sfntypes.HistoryEventTypeTaskSucceeded && d != nil &&
		aws.ToString(d.ResourceType) == approvalResourceType && aws.ToString(d.Resource) == approvalResource {
		h.succeeded = append(h.succeeded, e.Id)
	}
}

// approval finds the latest approval Task of a's iteration that was scheduled for a and succeeded with
// a's approval.
func (h *history) approval(a Action) (Evidence, bool) {
	for i := len(h.succeeded) - 1; i >= 0; i-- {
		done := h.events[h.succeeded[i]]
		if !sameApproval(done.TaskSucceededEventDetails, a.Action.Approval) {
			continue
		}
		scheduled, entered, iteration, ok := h.trace(done)
		if !ok || iteration.Index != int32(a.Index) || aws.ToString(iteration.Name) != steps.StateRemediate ||
			aws.ToString(entered.Name) != steps.StateWaitForApproval || !scheduledFor(scheduled, a) {
			continue
		}
		at := time.Time{}
		if done.Timestamp != nil {
			at = *done.Timestamp
		}
		return Evidence{EventID: done.Id, Iteration: a.Index, At: at, Approver: a.Action.Approval.Approver}, true
	}
	return Evidence{}, false
}

// trace walks back from a TaskSucceeded event through previousEventId: the nearest TaskScheduled, then
// the nearest TaskStateEntered (the state the task belongs to), then the nearest MapIterationStarted (the
// iteration it ran in: Step Functions links the events of an iteration to each other, and its first one
// to the iteration's MapIterationStarted).
func (h *history) trace(done sfntypes.HistoryEvent) (*sfntypes.TaskScheduledEventDetails, *sfntypes.StateEnteredEventDetails, *sfntypes.MapIterationEventDetails, bool) {
	var scheduled *sfntypes.TaskScheduledEventDetails
	var entered *sfntypes.StateEnteredEventDetails
	e := done
	for range len(h.events) {
		prev, ok := h.events[e.PreviousEventId]
		if !ok || prev.Id >= e.Id {
			return nil, nil, nil, false
		}
		e = prev
		switch {
		case scheduled == nil:
			if e.Type == sfntypes.HistoryEventTypeTaskScheduled {
				scheduled = e.TaskScheduledEventDetails
				if scheduled == nil {
					return nil, nil, nil, false
				}
			}
		case entered == nil:
			if e.Type == sfntypes.HistoryEventTypeTaskStateEntered {
				entered = e.StateEnteredEventDetails
				if entered == nil {
					return nil, nil, nil, false
				}
			}
		case e.Type == sfntypes.HistoryEventTypeMapIterationStarted:
			return scheduled, entered, e.MapIterationStartedEventDetails, e.MapIterationStartedEventDetails != nil
		}
	}
	return nil, nil, nil, false
}

// sameApproval: the task's output is the approval the bot was given, field for field.
func sameApproval(d *sfntypes.TaskSucceededEventDetails, want *mapping.Approval) bool {
	if d == nil || d.Output == nil || (d.OutputDetails != nil && d.OutputDetails.Truncated) {
		return false
	}
	var got mapping.Approval
	if json.Unmarshal([]byte(*d.Output), &got) != nil {
		return false
	}
	return got == *want
}

// scheduledFor: the approval Task was scheduled for a — its Lambda payload names a's execution, index and
// bot, and a's held reason (none for an APPROVE-mode approval, which then must be an APPROVE action).
// Only these members of the parameters are decoded: the rest, the task token among them, is dropped.
func scheduledFor(d *sfntypes.TaskScheduledEventDetails, a Action) bool {
	if aws.ToString(d.ResourceType) != approvalResourceType || aws.ToString(d.Resource) != approvalResource || d.Parameters == nil {
		return false
	}
	var p struct {
		Payload struct {
			Execution string `json:"execution"`
			Index     *int   `json:"index"`
			Action    struct {
				Bot  string `json:"bot"`
				Mode string `json:"mode"`
				Held string `json:"held"`
			} `json:"action"`
		} `json:"Payload"`
	}
	if json.Unmarshal([]byte(*d.Parameters), &p) != nil {
		return false
	}
	pl := p.Payload
	if pl.Index == nil || *pl.Index != a.Index || pl.Execution != a.Execution || pl.Action.Bot != a.Action.Bot || pl.Action.Held != a.Action.Held {
		return false
	}
	return pl.Action.Held != "" || pl.Action.Mode == string(mapping.ModeApprove)
}
