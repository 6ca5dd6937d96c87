package mapping

import (
	"encoding/json"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
)

// parseCloudBots reads CloudBots' GD_ACTIONS: {"<exact finding type>": "<tag> | <tag> …"}. Each tag
// "AUTO: bot p1 p2" runs bot with positional params, in order; any other tag ("NOTIFY", or any word, as
// CloudBots ignored them) only notifies. A value with no AUTO tag is NOTIFY; with one or more, the AUTO
// tags run and the other tags change nothing (every finding is notified anyway).
func parseCloudBots(doc []byte, keys []string, ps *problems) []*rule {
	var values map[string]json.RawMessage
	if err := json.Unmarshal(doc, &values); err != nil { // scanDocument already proved it is an object
		ps.add("", "%s", jsonMessage(err))
		return nil
	}
	var rules []*rule
	seen := map[string]bool{}
	for i, key := range keys {
		if seen[key] {
			continue // reported by scanDocument
		}
		seen[key] = true
		var value string
		if err := json.Unmarshal(values[key], &value); err != nil {
			ps.add(key, "value must be a string such as \"AUTO: ec2_stop_instance\" or \"NOTIFY\", got %s", rawKind(values[key]))
			continue
		}
		r := &rule{index: i, path: key, patterns: []string{key}, mode: ModeNotify}
		for _, tag := range strings.Split(value, "|") {
			tag = strings.TrimSpace(tag)
			if !strings.HasPrefix(tag, "AUTO:") {
				if len(tag) >= 5 && strings.EqualFold(tag[:5], "AUTO:") {
					// CloudBots matched "AUTO:" case-sensitively, so "auto:" silently meant notify only:
					// almost certainly not what the author meant.
					ps.add(key, "tag %q: write AUTO: in upper case (in lower case it would silently only notify)", tag)
				}
				continue
			}
			fields := strings.Fields(tag[len("AUTO:"):])
			if len(fields) == 0 {
				ps.add(key, "tag %q names no bot (want \"AUTO: <bot> [params…]\")", tag)
				continue
			}
			b, ok := bots.Lookup(fields[0])
			if !ok {
				ps.add(key, "tag %q: %s", tag, unknownBot(fields[0]))
				continue
			}
			params, err := b.ParsePositional(fields[1:])
			if err == nil {
				err = mappable(b, params)
			}
			if err != nil {
				ps.add(key, "tag %q: %v", tag, err)
				continue
			}
			r.actions = append(r.actions, newAction(key, b, params, Continue))
			r.mode = ModeAuto
		}
		rules = append(rules, r)
	}
	return rules
}

// rawKind names the JSON type of a raw value for messages.
func rawKind(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON"
	}
	return bots.JSONKind(v)
}
