package bots

// Status is a bot's outcome. A failure is never a Status: it is an error, so the state fails and is
// retried or caught ("failed" appears in notifications only from the state machine's Catch).
type Status string

const (
	// StatusRemediated: the bot changed the resource.
	StatusRemediated Status = "remediated"
	// StatusAlreadyDone: the resource was already in the state the bot brings it to; nothing changed.
	StatusAlreadyDone Status = "already-done"
	// StatusSkipped: the bot did not act, for Reason (resource gone, wrong kind, exempt, …).
	StatusSkipped Status = "skipped"
	// StatusDryRun: the bot read the live resource and reports in Changes what it would have done.
	StatusDryRun Status = "dry-run"
	// StatusNotified: notify_only; the notification is the action.
	StatusNotified Status = "notified"
)

// Result is what a bot reports.
type Result struct {
	Bot    string `json:"bot"`
	Status Status `json:"status"`
	// Reason explains a skip or an already-done.
	Reason string `json:"reason,omitempty"`
	// Account and Region are where the bot acted (the finding's).
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// Role is the member role assumed, empty when the bot acted in its own account.
	Role string `json:"role,omitempty"`
	// Resources are the identifiers the bot read or changed.
	Resources []string `json:"resources,omitempty"`
	// Changes lists, one line each, what was done (or, on dry-run, what would be done).
	Changes []string `json:"changes,omitempty"`
	// Before and After describe the resource's state as read live before and after the action.
	Before map[string]string `json:"before,omitempty"`
	After  map[string]string `json:"after,omitempty"`
	DryRun bool              `json:"dryRun,omitempty"`
	// Held is set by the runner when the blast-radius limit stopped the action: it was NOT run (Status
	// skipped); the state machine then asks a person to approve it past the limit.
	Held bool `json:"held,omitempty"`
	// Warnings are set by the runner when a rail's bookkeeping failed after the action ran (the audit
	// record or the duplicate-suppression claim could not be written): the outcome stands, but a person
	// should know.
	Warnings []string `json:"warnings,omitempty"`
	// DoneAt is when the runner finished the action (RFC 3339, UTC): where time to contain ends.
	DoneAt string `json:"doneAt,omitempty"`
	// Error and Cause are set by the state machine when the bot failed (Status is then "failed").
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// StatusFailed is written by the state machine's Catch, never returned by a bot.
const StatusFailed Status = "failed"
