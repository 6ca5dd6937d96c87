package steps

import (
	"bytes"
	"encoding/json"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/mapping"
)

// The scheduled clean-up of expired IAM denies (iam_deny_session, iam_deny_source_ip) is an execution of
// the same workflow, started by the deployment's schedule with ScheduleRequest as its input. The input
// only asks: parse recognizes it, transform and match pass it on, and match's decision routes it to
// the verify step, which plans the clean-up from the state table's deny records — never from the input
// — and signs, per principal whose deny expired, the deny bot's pruneOnly action, each with a finding
// of its own (Source "schedule"). The bots check those signatures like any other and remove only denies
// whose own statement says they expired: whoever can start an execution can only make that happen
// sooner, and no new principal holds IAM write.
const (
	// TaskExpireDenies is the one task a schedule asks the workflow for.
	TaskExpireDenies = "expire-denies"
	// SourceSchedule is parse's source for the schedule's request, and the source of the findings
	// verify makes for its clean-up actions.
	SourceSchedule guardduty.Source = "schedule"
	// OutcomeExpireDenies is match's decision on the schedule's request: the state machine's Decide
	// sends it to the clean-up.
	OutcomeExpireDenies = mapping.ExpireDenies
	// CleanupKey is the mapping key the clean-up's actions are signed and audited under.
	CleanupKey = "scheduled clean-up of expired IAM denies"
)

// ScheduleRequest is the input the deployment's schedule starts the workflow with.
var ScheduleRequest = []byte(`{"guardbots":"` + TaskExpireDenies + `"}`)

// scheduled reports whether raw is the schedule's request: a JSON object whose only member is
// "guardbots": "expire-denies" (white space aside). Anything else is an event for parse to judge.
func scheduled(raw []byte) bool {
	if !bytes.Contains(raw, []byte(TaskExpireDenies)) {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return false
	}
	var task string
	return json.Unmarshal(m["guardbots"], &task) == nil && task == TaskExpireDenies
}

// CleanupItem is one action of the scheduled clean-up: a deny bot's pruneOnly action on one principal,
// with the finding verify made for it and signed it for (the Map gives the bot exactly these).
type CleanupItem struct {
	Finding    *finding.Finding `json:"finding"`
	Action     mapping.Action   `json:"action"`
	Index      int              `json:"index"`
	MappingKey string           `json:"mappingKey"`
}
