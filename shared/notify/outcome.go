package notify

import (
	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

// Outcomes: what the execution achieved, in one word, for the subject and for subscription filter
// policies. Exactly one per message; Build picks the first that applies, in this order:
const (
	// OutcomeRejected: parse, transform or match rejected the input (error Guardbots.Rejected, nothing ran).
	OutcomeRejected = "rejected"
	// OutcomePartial: at least one action remediated and another (or a later step) failed.
	OutcomePartial = "partially-remediated"
	// OutcomeFailed: a step or an action failed and nothing was remediated.
	OutcomeFailed = "failed"
	// OutcomeHeld: the blast-radius limit held an action back (not run) and it was not approved.
	OutcomeHeld = "held"
	// OutcomeReleased: a release request (the chat's Release button) undid guardbots' containment of the
	// finding: at least one undo action changed a resource or found it already undone, none failed.
	// Not a containment: nothing is recorded on the finding and there is no time to contain.
	OutcomeReleased = "released"
	// OutcomeRemediated: at least one action changed a resource, none failed.
	OutcomeRemediated = "remediated"
	// OutcomeDryRun: actions ran in dry-run and report what they would have done.
	OutcomeDryRun = "dry-run"
	// OutcomeAlreadyDone: the resource was already remediated; nothing changed.
	OutcomeAlreadyDone = "already-done"
	// OutcomeNotifyOnly: the mapping says to tell people, not act.
	OutcomeNotifyOnly = "notify-only"
	// OutcomeSkipped: nothing to do (no mapping entry, sample or archived finding, resource gone, …).
	OutcomeSkipped = "skipped"
)

// Outcomes lists every outcome, for tests and filter-policy documentation.
var Outcomes = []string{OutcomeRejected, OutcomePartial, OutcomeFailed, OutcomeHeld, OutcomeReleased, OutcomeRemediated, OutcomeDryRun, OutcomeAlreadyDone, OutcomeNotifyOnly, OutcomeSkipped}

// OutcomeOf derives the outcome from the input (see the order of the Outcome constants).
func OutcomeOf(in Input) string {
	count := map[bots.Status]int{}
	held := 0
	for _, r := range in.Results {
		count[r.Status]++
		if r.Held {
			held++
		}
	}
	failed := in.Error != nil || count[bots.StatusFailed] > 0
	switch {
	case in.Error != nil && in.Error.Error == string(faults.Rejected) && count[bots.StatusRemediated] == 0:
		return OutcomeRejected
	case failed && count[bots.StatusRemediated] > 0:
		return OutcomePartial
	case failed:
		return OutcomeFailed
	case held > 0:
		// Ahead of remediated: the subject must tell a person that something still waits for them.
		return OutcomeHeld
	case isRelease(in) && count[bots.StatusRemediated]+count[bots.StatusAlreadyDone] > 0:
		// An undo that found its containment already undone (s3_release_object when the source was never
		// deleted) released it too; "remediated" or "already-done" would close the finding as contained.
		return OutcomeReleased
	case count[bots.StatusRemediated] > 0:
		return OutcomeRemediated
	case count[bots.StatusDryRun] > 0:
		return OutcomeDryRun
	case count[bots.StatusAlreadyDone] > 0:
		return OutcomeAlreadyDone
	case count[bots.StatusNotified] > 0, in.Decision != nil && in.Decision.Outcome == mapping.NotifyOnly:
		return OutcomeNotifyOnly
	}
	return OutcomeSkipped
}

// isRelease reports whether in is the outcome of a release request: the verify step planned it from
// GuardDuty's copy of the finding the request named, under the release key its signatures cover.
func isRelease(in Input) bool {
	return steps.IsRelease(in.Finding) && in.Decision != nil && in.Decision.Key == steps.ReleaseKey
}
