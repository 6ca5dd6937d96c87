package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/guardbots/guardbots/shared/bots"
)

// The rich form (see README.md):
//
//	{
//	  "version": 1,
//	  "defaults": {"minSeverity": 4, "onError": "continue", "mode": "AUTO"},
//	  "rules": [
//	    {"match": "UnauthorizedAccess:EC2/*", "minSeverity": 7, "mode": "AUTO", "note": "…",
//	     "actions": [{"bot": "ec2_create_snapshot"},
//	                 {"bot": "ec2_stop_instance", "params": {…}, "onError": "stop"}]},
//	    {"match": ["Recon:EC2/*", "Discovery:S3/*"], "mode": "NOTIFY"}
//	  ]
//	}
//
// Unknown fields are errors, so a misspelt "minSeverty" cannot silently lower a floor.
type richDoc struct {
	Version  *int              `json:"version"`
	Defaults *richDefaults     `json:"defaults"`
	Rules    []json.RawMessage `json:"rules"`
}

type richDefaults struct {
	MinSeverity *float64 `json:"minSeverity"`
	OnError     *string  `json:"onError"`
	Mode        *string  `json:"mode"`
}

type richRule struct {
	Match       patternList       `json:"match"`
	MinSeverity *float64          `json:"minSeverity"`
	Mode        *string           `json:"mode"`
	Note        string            `json:"note"`
	Actions     []json.RawMessage `json:"actions"`
}

type richAction struct {
	Bot     string         `json:"bot"`
	Params  map[string]any `json:"params"`
	OnError *string        `json:"onError"`
}

// patternList is "match": one pattern or a list of them.
type patternList []string

func (p *patternList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = patternList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("match must be a finding-type pattern or a list of them, got %s", rawKind(b))
	}
	*p = many
	return nil
}

// decodeStrict decodes one object, rejecting unknown fields; numbers in params stay json.Number so
// bots.ParseParams sees integers exactly.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", jsonMessage(err))
	}
	return nil
}

func parseRich(doc []byte, ps *problems) []*rule {
	var d richDoc
	if err := decodeStrict(doc, &d); err != nil {
		ps.add("", "%v", err)
		return nil
	}
	switch {
	case d.Version == nil:
		ps.add("version", "missing: the rich form needs \"version\": 1")
	case *d.Version != 1:
		ps.add("version", "unsupported version %d (this release reads version 1)", *d.Version)
	}

	defSeverity, defOnError, defMode := 0.0, Continue, ModeAuto
	if d.Defaults != nil {
		if d.Defaults.MinSeverity != nil {
			if s, ok := checkSeverity(ps, "defaults.minSeverity", *d.Defaults.MinSeverity); ok {
				defSeverity = s
			}
		}
		if d.Defaults.OnError != nil {
			if o, ok := checkOnError(ps, "defaults.onError", *d.Defaults.OnError); ok {
				defOnError = o
			}
		}
		if d.Defaults.Mode != nil {
			if m, ok := checkMode(ps, "defaults.mode", *d.Defaults.Mode); ok {
				defMode = m
			}
		}
	}
	if d.Rules == nil {
		ps.add("rules", "missing: list the rules, e.g. \"rules\": [{\"match\": \"Recon:EC2/*\", \"mode\": \"NOTIFY\"}]")
	}

	var rules []*rule
	for i, raw := range d.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		var rr richRule
		if err := decodeStrict(raw, &rr); err != nil {
			ps.add(path, "%v", err)
			continue
		}
		r := &rule{index: i, path: path, patterns: rr.Match, minSeverity: defSeverity, mode: defMode, note: rr.Note}
		if len(rr.Match) == 0 {
			ps.add(path+".match", "missing: every rule needs a finding-type pattern such as \"Backdoor:EC2/*\"")
		}
		if rr.MinSeverity != nil {
			if s, ok := checkSeverity(ps, path+".minSeverity", *rr.MinSeverity); ok {
				r.minSeverity = s
			}
		}
		modeOK := true
		if rr.Mode != nil {
			r.mode, modeOK = checkMode(ps, path+".mode", *rr.Mode)
		}
		if modeOK && len(rr.Actions) == 0 && (r.mode == ModeAuto || r.mode == ModeDryRun) {
			ps.add(path+".actions", "empty in %s mode: add actions, or set \"mode\": \"NOTIFY\"", r.mode)
		}
		// Actions of a NOTIFY rule are validated too, so switching it back to AUTO cannot surprise.
		for j, rawAction := range rr.Actions {
			apath := fmt.Sprintf("%s.actions[%d]", path, j)
			var ra richAction
			if err := decodeStrict(rawAction, &ra); err != nil {
				ps.add(apath, "%v", err)
				continue
			}
			if ra.Bot == "" {
				ps.add(apath, "missing \"bot\"")
				continue
			}
			b, ok := bots.Lookup(ra.Bot)
			if !ok {
				ps.add(apath, "%s", unknownBot(ra.Bot))
				continue
			}
			params, err := b.ParseParams(ra.Params)
			if err != nil {
				ps.add(apath, "%v", err)
				continue
			}
			onError := defOnError
			if ra.OnError != nil {
				o, ok := checkOnError(ps, apath+".onError", *ra.OnError)
				if !ok {
					continue
				}
				onError = o
			}
			r.actions = append(r.actions, newAction(b, params, onError))
		}
		rules = append(rules, r)
	}
	return rules
}

func checkSeverity(ps *problems, key string, s float64) (float64, bool) {
	if s < 0 || s > 10 {
		ps.add(key, "%v is outside 0–10 (GuardDuty severities run from 1 to 10)", s)
		return 0, false
	}
	return s, true
}

func checkOnError(ps *problems, key, s string) (OnError, bool) {
	switch OnError(s) {
	case Continue, Stop:
		return OnError(s), true
	}
	ps.add(key, "%q is not continue or stop", s)
	return "", false
}

func checkMode(ps *problems, key, s string) (Mode, bool) {
	switch Mode(s) {
	case ModeAuto, ModeNotify, ModeDryRun:
		return Mode(s), true
	case ModeApprove:
		ps.add(key, "mode APPROVE is reserved: human approval before acting is not available yet; use DRYRUN to see what the bots would do, or NOTIFY")
		return "", false
	}
	ps.add(key, "%q is not AUTO, NOTIFY or DRYRUN (modes are upper case)", s)
	return "", false
}
