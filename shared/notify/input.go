// Package notify builds the one SNS message each execution sends — a subject a person can triage from
// and a JSON body with everything else — and publishes it.
package notify

import (
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

// Input is the notify step's input: the workflow state at the end of an execution, on every path.
type Input struct {
	// Finding is absent when parse or transform rejected the event.
	Finding  *finding.Finding  `json:"finding,omitempty"`
	Decision *mapping.Decision `json:"decision,omitempty"`
	// Results holds one entry per action that ran (or failed), in order.
	Results []bots.Result `json:"results,omitempty"`
	// Error is set by a Catch: the step that failed, its error name and cause.
	Error     *StepError `json:"error,omitempty"`
	Execution Execution  `json:"execution"`
	// Closure is set by the notify step itself (not the state machine) when it closed the loop on the
	// finding before publishing.
	Closure *Closure `json:"closure,omitempty"`
	// AuditTable is the deployment's audit table, for the audit query in the mail: set by the notify
	// step from its configuration, never read from the execution's input.
	AuditTable string `json:"-"`
	// Undelivered is set by the notify step when a form of the message sent before the SNS topics (the
	// EventBridge event) failed: the notification says so.
	Undelivered []string `json:"-"`
}

// StepError is a caught state error (Step Functions' {Error, Cause}) and the step it came from.
type StepError struct {
	Step  string `json:"step,omitempty"`
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Execution identifies the Step Functions execution (from the context object).
type Execution struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	StartTime string `json:"startTime,omitempty"`
}

// Closure is what the notify step recorded on the finding itself (GUARDBOTS_CLOSE_FINDINGS): GuardDuty
// feedback and archive, or the Security Hub workflow status.
type Closure struct {
	// Done lists what was recorded, e.g. "GuardDuty feedback USEFUL", "Security Hub workflow RESOLVED".
	Done []string `json:"done,omitempty"`
	// Error says what could not be recorded; the notification still goes out.
	Error string `json:"error,omitempty"`
}
