package bots

import "slices"

// undoneBy names, for each containment bot that records how to undo its work in the state table, the
// bot that undoes it. A person asks for the undo with a release request (the chat's Release button);
// the verify step plans it from this table and GuardDuty's copy of the finding, never from the request.
var undoneBy = map[string]string{
	"ec2_quarantine_instance": "ec2_release_quarantine",
	"ec2_block_remote_ip":     "ec2_unblock_remote_ip",
	"iam_deny_session":        "iam_undo_deny_session",
	"iam_deny_source_ip":      "iam_undo_deny_source_ip",
	"s3_quarantine_object":    "s3_release_object",
}

// UndoBot is the bot that undoes bot's work ("" and false when nothing does).
func UndoBot(bot string) (string, bool) {
	u, ok := undoneBy[bot]
	return u, ok
}

// UndoBots are every bot that undoes another, sorted.
func UndoBots() []string {
	var out []string
	for _, u := range undoneBy {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
