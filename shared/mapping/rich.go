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
	MinSeverity            *float64 `json:"minSeverity"`
	OnError                *string  `json:"onError"`
	Mode                   *string  `json:"mode"`
	ApprovalTimeoutSeconds *int     `json:"approvalTimeoutSeconds"`
	// ProtectedAccounts are never changed: a remediate decision there becomes a skip ("exempt").
	ProtectedAccounts []string `json:"protectedAccounts"`
	// ProtectedOUs are never changed either: every account in them or below them (where.go).
	ProtectedOUs []string `json:"protectedOUs"`
}

// Approval timeouts, in seconds. The floor leaves a person time to read the message; the ceiling keeps
// an execution (which waits for each APPROVE action in turn) inside the state machine's timeout.
const (
	DefaultApprovalTimeoutSeconds = 3600
	MinApprovalTimeoutSeconds     = 60
	MaxApprovalTimeoutSeconds     = 86400
)

type richRule struct {
	Match                  patternList       `json:"match"`
	MinSeverity            *float64          `json:"minSeverity"`
	Mode                   *string           `json:"mode"`
	ApprovalTimeoutSeconds *int              `json:"approvalTimeoutSeconds"`
	Note                   string            `json:"note"`
	Actions                []json.RawMessage `json:"actions"`
	// Where and Scopes place the rule in the organization (where.go, scope.go).
	Where  *richWhere        `json:"where"`
	Scopes []json.RawMessage `json:"scopes"`
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

func parseRich(doc []byte, ps *problems) ([]*rule, map[string]bool, []string) {
	var d richDoc
	if err := decodeStrict(doc, &d); err != nil {
		ps.add("", "%v", err)
		return nil, nil, nil
	}
	switch {
	case d.Version == nil:
		ps.add("version", "missing: the rich form needs \"version\": 1")
	case *d.Version != 1:
		ps.add("version", "unsupported version %d (this release reads version 1)", *d.Version)
	}

	defSeverity, defOnError, defMode, defTimeout := 0.0, Continue, ModeAuto, DefaultApprovalTimeoutSeconds
	var protected map[string]bool
	var protectedOUs []string
	if d.Defaults != nil {
		protectedOUs = checkProtectedOUs(ps, "defaults.protectedOUs", d.Defaults.ProtectedOUs)
		if d.Defaults.ApprovalTimeoutSeconds != nil {
			if t, ok := checkApprovalTimeout(ps, "defaults.approvalTimeoutSeconds", *d.Defaults.ApprovalTimeoutSeconds); ok {
				defTimeout = t
			}
		}
		if d.Defaults.ProtectedAccounts != nil {
			protected = map[string]bool{}
			for i, a := range d.Defaults.ProtectedAccounts {
				if !IsAccountID(a) {
					ps.add(fmt.Sprintf("defaults.protectedAccounts[%d]", i), "%q is not a 12-digit AWS account id", clip(a))
					continue
				}
				protected[a] = true
			}
		}
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
		r := &rule{index: i, path: path, patterns: rr.Match, minSeverity: defSeverity, mode: defMode, note: rr.Note, approvalTimeout: defTimeout}
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
			r.modeSet = true
		}
		if rr.ApprovalTimeoutSeconds != nil {
			if t, ok := checkApprovalTimeout(ps, path+".approvalTimeoutSeconds", *rr.ApprovalTimeoutSeconds); ok {
				r.approvalTimeout = t
			}
		}
		r.where = compileWhere(ps, path+".where", rr.Where)
		r.scopes = compileScopes(ps, path, rr.Scopes)
		if modeOK && len(rr.Actions) == 0 {
			if acting := r.actingMode(); acting != "" {
				ps.add(path+".actions", "empty in %s mode: add actions, or set \"mode\": \"NOTIFY\"", acting)
			}
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
			if err == nil {
				err = mappable(b, params)
			}
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
			r.actions = append(r.actions, newAction(apath, b, params, onError))
		}
		rules = append(rules, r)
	}
	return rules, protected, protectedOUs
}

func checkApprovalTimeout(ps *problems, key string, t int) (int, bool) {
	if t < MinApprovalTimeoutSeconds || t > MaxApprovalTimeoutSeconds {
		ps.add(key, "%d is outside %d–%d seconds", t, MinApprovalTimeoutSeconds, MaxApprovalTimeoutSeconds)
		return 0, false
	}
	return t, true
}

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// clip bounds a value quoted back in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
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
	case ModeAuto, ModeNotify, ModeDryRun, ModeApprove:
		return Mode(s), true
	}
	ps.add(key, "%q is not AUTO, NOTIFY, DRYRUN or APPROVE (modes are upper case)", s)
	return "", false
}
