package mapping

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
)

// Mode says what a matching rule does.
type Mode string

const (
	// ModeAuto runs the rule's actions.
	ModeAuto Mode = "AUTO"
	// ModeNotify only notifies (a CloudBots value without an AUTO tag means the same).
	ModeNotify Mode = "NOTIFY"
	// ModeDryRun runs the rule's actions in dry-run: each bot reads the live resource and reports what
	// it would change.
	ModeDryRun Mode = "DRYRUN"
	// ModeApprove runs each action only after a person approves it: the state machine waits with a task
	// token (timeout: the rule's approvalTimeoutSeconds) and a timeout or a denial means no action.
	ModeApprove Mode = "APPROVE"
)

// Form is the syntax a mapping document was written in.
type Form string

const (
	// FormCloudBots is CloudBots' GD_ACTIONS: {"<exact finding type>": "AUTO: bot p1 | NOTIFY"}.
	FormCloudBots Form = "cloudbots"
	// FormRich is {"version": 1, "defaults": {…}, "rules": […]}.
	FormRich Form = "rich"
)

// Tier is the SSM Parameter Store tier, which bounds the document's size.
type Tier string

const (
	TierStandard Tier = "Standard" // 4096 bytes
	TierAdvanced Tier = "Advanced" // 8192 bytes
)

// Limit returns the largest value, in bytes, a parameter of the tier holds.
func (t Tier) Limit() int {
	if t == TierStandard {
		return 4096
	}
	return 8192
}

// ValidateSize reports whether doc fits in an SSM parameter of the tier.
func ValidateSize(doc []byte, tier Tier) error {
	switch tier {
	case TierStandard, TierAdvanced:
	default:
		return fmt.Errorf("unknown SSM parameter tier %q (want Standard or Advanced)", tier)
	}
	if len(doc) > tier.Limit() {
		hint := ""
		if tier == TierStandard && len(doc) <= TierAdvanced.Limit() {
			hint = " (use the Advanced tier, up to 8192 bytes, or shorten it with wildcard rules)"
		}
		return fmt.Errorf("the document is %d bytes, over the %d-byte limit of an SSM parameter in the %s tier%s",
			len(doc), tier.Limit(), tier, hint)
	}
	return nil
}

// ParseOption configures Parse.
type ParseOption func(*parseConfig)

type parseConfig struct {
	tier Tier
	// deployed, when set, are the bots the deployment runs: an action naming any other is a problem.
	deployed []string
}

// WithTier checks the document against the size limit of an SSM parameter of that tier. Without it,
// Parse checks the Advanced limit (8192 bytes): nothing larger can be stored.
func WithTier(t Tier) ParseOption { return func(c *parseConfig) { c.tier = t } }

// WithDeployedBots refuses a document that names a bot outside names, the bots the deployment runs
// (deployment.EnvEnabledBots): such a bot has no Lambda and no role, so a rule naming it could only
// fail, and it is enabled by a deploy (CDK context deployment.ContextEnabledBots), not by an edit of the
// mapping. Every rule counts, NOTIFY ones too, as their actions are validated in full anyway. Match, verify
// and synth parse with it; nil names (an empty list) enable no bot.
func WithDeployedBots(names []string) ParseOption {
	return func(c *parseConfig) { c.deployed = append([]string{}, names...) }
}

// Mapping is a validated, compiled mapping document. It is immutable and safe for concurrent use.
type Mapping struct {
	form Form
	// protected are accounts no action may change (defaults.protectedAccounts).
	protected map[string]bool
	// protectedOUs are OUs (and roots) no action may change an account in or under (defaults.protectedOUs).
	protectedOUs []string
	rules        []*rule          // document order
	exact        map[string]entry // exact finding type → rule
	wild         []entry          // wildcard patterns, most specific first
}

// entry is one pattern of one rule.
type entry struct {
	pat  pattern
	rule *rule
}

// rule is a compiled mapping entry: a CloudBots key, or a rich-form rule with one or more patterns.
type rule struct {
	index       int
	path        string // where it is in the document, for messages
	patterns    []string
	minSeverity float64
	mode        Mode
	// modeSet: the rule itself says its mode (rich form); an attack sequence's pairs run AUTO only then.
	modeSet bool
	note    string
	actions []compiledAction
	// approvalTimeout is how long an APPROVE rule's actions wait for a person, in seconds.
	approvalTimeout int
	// where limits the rule to part of the organization (nil: everywhere); scopes set its mode in parts
	// of it (where.go, scope.go).
	where  *where
	scopes []scope
}

type compiledAction struct {
	// path is where the action is in the document, for messages: a rich-form path
	// ("rules[3].actions[1]") or a CloudBots finding type.
	path   string
	bot    bots.Bot
	action Action
}

// Rule is a read-only view of one mapping entry, for explain and the catalogue.
type Rule struct {
	// Match lists the entry's finding-type patterns (one exact type in the CloudBots form).
	Match       []string `json:"match"`
	MinSeverity float64  `json:"minSeverity"`
	Mode        Mode     `json:"mode"`
	Note        string   `json:"note,omitempty"`
	Actions     []Action `json:"actions"`
	// Where is the rule's where, as text ("" when it applies everywhere); Scopes its scopes in order.
	Where  string      `json:"where,omitempty"`
	Scopes []ScopeView `json:"scopes,omitempty"`
}

// Parse validates a mapping document against the bot registry and compiles it. The document is either
// CloudBots' GD_ACTIONS object verbatim or the rich form (an object with "version" or "rules"); see the
// package README for both. The error is an *InvalidError listing every problem with its key.
func Parse(doc []byte, opts ...ParseOption) (*Mapping, error) {
	cfg := parseConfig{tier: TierAdvanced}
	for _, o := range opts {
		o(&cfg)
	}
	var ps problems
	if err := ValidateSize(doc, cfg.tier); err != nil {
		ps.add("", "%s", err.Error())
	}
	keys, dups, err := scanDocument(doc)
	if err != nil {
		ps.add("", "%s", err.Error())
		return nil, ps.err()
	}
	ps = append(ps, dups...)

	m := &Mapping{form: FormCloudBots}
	if isRich(keys) {
		m.form = FormRich
		m.rules, m.protected, m.protectedOUs = parseRich(doc, &ps)
	} else {
		m.rules = parseCloudBots(doc, keys, &ps)
	}
	m.index(&ps)
	m.checkActions(&ps, cfg)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// checkActions refuses what no mapping may ask for, whoever wrote it: a destructive bot in AUTO mode,
// and (with WithDeployedBots) a bot the deployment does not run. Both reject the whole document, as
// any other invalid entry does, rather than only the rule: a mapping that asks for either was written by
// mistake or by someone it must not obey, and acting on the rest of it would hide that until the rule
// mattered. The refusal is loud: synth fails, and in SSM every execution fails at match, naming the rule.
func (m *Mapping) checkActions(ps *problems, cfg parseConfig) {
	for _, r := range m.rules {
		for _, a := range r.actions {
			if r.mode == ModeAuto && a.bot.Impact == bots.ImpactDestructive {
				fix := `set "mode": "APPROVE" (a person approves each run), "DRYRUN" or "NOTIFY"`
				if m.form == FormCloudBots {
					fix = `the CloudBots form has only AUTO: write the rule in the rich form with "mode": "APPROVE", "DRYRUN" or "NOTIFY"`
				}
				ps.add(a.path, "bot %s is destructive (it cannot be undone): AUTO mode is refused for it; %s", a.bot.Name, fix)
			}
			if cfg.deployed != nil && !slices.Contains(cfg.deployed, a.bot.Name) {
				ps.add(a.path, "%s", notDeployed(a.bot.Name, cfg.deployed))
			}
		}
	}
}

// notDeployed explains a bot the deployment does not run.
func notDeployed(bot string, deployed []string) string {
	list := "none"
	if len(deployed) > 0 {
		list = strings.Join(deployed, ", ")
	}
	return fmt.Sprintf("bot %s is not deployed: this deployment runs %s (CDK context %s); enabling a bot needs a deploy with it in %s, which creates its Lambda and roles",
		bot, list, deployment.ContextEnabledBots, deployment.ContextEnabledBots)
}

func isRich(keys []string) bool {
	for _, k := range keys {
		switch k {
		case "version", "rules", "defaults":
			return true
		}
	}
	return false
}

// index compiles the patterns: exact types into a map, wildcards sorted by precedence, so Match is a
// map lookup and a short scan.
func (m *Mapping) index(ps *problems) {
	m.exact = map[string]entry{}
	owner := map[string]string{}
	for _, r := range m.rules {
		for i, raw := range r.patterns {
			key := r.path
			if m.form == FormRich {
				key = r.path + ".match"
				if len(r.patterns) > 1 {
					key = fmt.Sprintf("%s.match[%d]", r.path, i)
				}
			}
			p, err := compilePattern(raw)
			if err != nil {
				ps.add(key, "%s", err.Error())
				continue
			}
			if m.form == FormCloudBots && p.wild {
				ps.add(key, "CloudBots-form keys are exact finding types; '*' patterns need the rich form ({\"version\": 1, \"rules\": [...]})")
				continue
			}
			if prev, dup := owner[raw]; dup {
				ps.add(key, "pattern %q is already used by %s", raw, prev)
				continue
			}
			owner[raw] = r.path
			if p.wild {
				m.wild = append(m.wild, entry{pat: p, rule: r})
			} else {
				m.exact[raw] = entry{pat: p, rule: r}
			}
		}
	}
	// Stable sort keeps document order among equally specific patterns.
	sort.SliceStable(m.wild, func(i, j int) bool { return m.wild[i].pat.moreSpecific(&m.wild[j].pat) })
}

// ProtectedOUs lists defaults.protectedOUs, in document order.
func (m *Mapping) ProtectedOUs() []string { return slices.Clone(m.protectedOUs) }

// ProtectedAccounts lists defaults.protectedAccounts, sorted.
func (m *Mapping) ProtectedAccounts() []string {
	return slices.Sorted(maps.Keys(m.protected))
}

// Form reports the syntax the document was written in.
func (m *Mapping) Form() Form { return m.form }

// Rules returns the mapping's entries in document order.
func (m *Mapping) Rules() []Rule {
	out := make([]Rule, len(m.rules))
	for i, r := range m.rules {
		acts := make([]Action, len(r.actions))
		for j, a := range r.actions {
			acts[j] = cloneAction(a.action)
		}
		out[i] = Rule{Match: slices.Clone(r.patterns), MinSeverity: r.minSeverity, Mode: r.mode, Note: r.note, Actions: acts}
		if r.where != nil {
			out[i].Where = r.where.String()
		}
		for _, sc := range r.scopes {
			out[i].Scopes = append(out[i].Scopes, ScopeView{Where: sc.where.String(), Mode: sc.mode, Note: sc.note})
		}
	}
	return out
}

// Bots returns the distinct bots the mapping can run, sorted by name.
func (m *Mapping) Bots() []bots.Bot {
	seen := map[string]bots.Bot{}
	for _, r := range m.rules {
		for _, a := range r.actions {
			seen[a.bot.Name] = a.bot
		}
	}
	out := slices.Collect(maps.Values(seen))
	slices.SortFunc(out, func(a, b bots.Bot) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// cloneAction copies an action so callers cannot change the compiled mapping through it.
func cloneAction(a Action) Action {
	p := make(map[string]any, len(a.Params))
	for k, v := range a.Params {
		if ss, ok := v.([]string); ok {
			v = slices.Clone(ss)
		}
		p[k] = v
	}
	a.Params = p
	return a
}

// mappable rejects the parameters only guardbots itself sets: pruneOnly belongs to the scheduled clean-up
// of expired IAM denies, which verify plans from the state table (a bot refuses it on a finding's action).
func mappable(b bots.Bot, params bots.Params) error {
	if b.Prunes() && params.Bool(bots.PruneOnlyParam) {
		return fmt.Errorf("bot %s: parameter %q is set by the scheduled clean-up of expired denies, never by a mapping", b.Name, bots.PruneOnlyParam)
	}
	return nil
}

// newAction validates params against the bot and builds the action's JSON form.
func newAction(path string, b bots.Bot, params bots.Params, onError OnError) compiledAction {
	return compiledAction{path: path, bot: b, action: Action{Bot: b.Name, Params: params.JSON(), OnError: onError, Mode: string(ModeAuto)}}
}
