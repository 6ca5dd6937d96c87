package mapping

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/org"
)

// A rule's scopes set its mode in parts of the organization: the first scope whose where holds decides
// the mode of the rule's actions; when none holds, the rule's own mode does.
//
//	{"match": "UnauthorizedAccess:EC2/*", "mode": "NOTIFY",
//	 "scopes": [{"where": {"ous": ["ou-ab12-prod0000"]}, "mode": "APPROVE"},
//	            {"where": {"accountTags": {"environment": ["sandbox", "dev"]}}, "mode": "AUTO"}],
//	 "actions": [...]}
type richScope struct {
	Where *richWhere `json:"where"`
	Mode  *string    `json:"mode"`
	Note  string     `json:"note"`
}

// scope is a compiled scope.
type scope struct {
	path  string
	where *where
	mode  Mode
	note  string
}

// ScopeView is a read-only view of a scope, for explain and Rules.
type ScopeView struct {
	Where string `json:"where"`
	Mode  Mode   `json:"mode"`
	Note  string `json:"note,omitempty"`
}

func compileScopes(ps *problems, rulePath string, raws []json.RawMessage) []scope {
	if raws == nil {
		return nil
	}
	if len(raws) == 0 {
		ps.add(rulePath+".scopes", "empty: list at least one scope, or leave scopes out")
		return nil
	}
	var out []scope
	for i, raw := range raws {
		path := fmt.Sprintf("%s.scopes[%d]", rulePath, i)
		var rs richScope
		if err := decodeStrict(raw, &rs); err != nil {
			ps.add(path, "%v", err)
			continue
		}
		sc := scope{path: path, note: rs.Note}
		ok := true
		if rs.Where == nil {
			ps.add(path+".where", "missing: a scope applies where its where holds, e.g. {\"ous\": [\"ou-…\"]}")
			ok = false
		} else if sc.where = compileWhere(ps, path+".where", rs.Where); sc.where == nil {
			ok = false
		}
		if rs.Mode == nil {
			ps.add(path+".mode", "missing: a scope sets the rule's mode (AUTO, NOTIFY, DRYRUN or APPROVE)")
			ok = false
		} else if sc.mode, ok = checkMode(ps, path+".mode", *rs.Mode); !ok {
			ok = false
		}
		if ok {
			out = append(out, sc)
		}
	}
	return out
}

// actingMode is a mode the rule can take that runs its actions ("" when it only ever notifies): such a
// rule needs actions, whichever scope makes it act.
func (r *rule) actingMode() Mode {
	acting := func(m Mode) bool { return m == ModeAuto || m == ModeDryRun || m == ModeApprove }
	if acting(r.mode) {
		return r.mode
	}
	for _, sc := range r.scopes {
		if acting(sc.mode) {
			return sc.mode
		}
	}
	return ""
}

// modeFor is the rule's mode for f: the first scope whose where holds, else the rule's own. why says
// which scope held (or that none did), for the decision's explanation.
func (r *rule) modeFor(acct *accountView, f *finding.Finding) (Mode, *scope, []string, error) {
	var why []string
	for i := range r.scopes {
		sc := &r.scopes[i]
		ok, reason, err := sc.where.holds(acct, f)
		if err != nil {
			return "", nil, why, err
		}
		if ok {
			return sc.mode, sc, append(why, fmt.Sprintf("%s (where %s) holds: %s; mode %s", sc.path, sc.where, reason, sc.mode)), nil
		}
		why = append(why, fmt.Sprintf("%s (where %s) does not hold: %s", sc.path, sc.where, reason))
	}
	if len(r.scopes) > 0 {
		why = append(why, fmt.Sprintf("no scope of %s holds: the rule's own mode %s", r.path, r.mode))
	}
	return r.mode, nil, why, nil
}

// checkProtectedOUs validates defaults.protectedOUs (or the deployment's list).
func checkProtectedOUs(ps *problems, key string, ous []string) []string {
	if ous == nil {
		return nil
	}
	var out []string
	for i, ou := range ous {
		if !org.IsOU(ou) && !org.IsRoot(ou) {
			ps.add(fmt.Sprintf("%s[%d]", key, i), "%q is not an OU id (ou-…) or a root id (r-…)", clip(ou))
			continue
		}
		out = append(out, ou)
	}
	return out
}

// ParseOUList reads deployment.EnvProtectedOUs' value: OU or root ids separated by commas.
func ParseOUList(s string) ([]string, error) {
	var out []string
	for ou := range strings.SplitSeq(s, ",") {
		ou = strings.TrimSpace(ou)
		if ou == "" {
			continue
		}
		if !org.IsOU(ou) && !org.IsRoot(ou) {
			return nil, fmt.Errorf("%q is not an OU id (ou-…) or a root id (r-…)", clip(ou))
		}
		out = append(out, ou)
	}
	return out, nil
}

// NeedsOrganization says whether deciding with m may need the organization: a rule's or a scope's where
// reads OUs or account tags, or OUs are protected. The CDK app refuses such a mapping when organization
// lookups are off.
func (m *Mapping) NeedsOrganization() []string {
	var out []string
	if len(m.protectedOUs) > 0 {
		out = append(out, "defaults.protectedOUs")
	}
	for _, r := range m.rules {
		if r.where.needsOrg() {
			out = append(out, r.where.path)
		}
		for _, sc := range r.scopes {
			if sc.where.needsOrg() {
				out = append(out, sc.where.path)
			}
		}
	}
	return out
}
