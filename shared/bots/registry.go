// Package bots is the bot registry — the single source of truth for what each remediation does, the
// parameters it takes, how disruptive it is and exactly which AWS operations it calls. The bots
// themselves live in one package per AWS service family (ec2bots, iambots, …), one file each, so a bot's
// Lambda links only its family's SDK clients; this package imports no AWS service package.
//
// Every bot's declaration is also in catalogue.json, generated from the implementations by
// go generate ./...: the mapping validator, the state machine's branches, IAM policies and the README
// catalogue are derived from Registered(), which answers from it without linking any implementation.
package bots

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/guardbots/guardbots/shared/finding"
)

// Impact says how much a bot changes; it decides what may run unattended.
type Impact string

const (
	ImpactNone        Impact = "none"        // changes nothing (notify_only)
	ImpactEvidence    Impact = "evidence"    // preserves evidence, does not interrupt the workload
	ImpactDisruptive  Impact = "disruptive"  // interrupts the workload; reversible
	ImpactDestructive Impact = "destructive" // not reversible; never mapped by default
)

// Bot is one remediation.
type Bot struct {
	// Name is the bot's name in mappings, e.g. "ec2_stop_instance" (CloudBots' names where one exists).
	Name string
	// Summary is one line for the catalogue.
	Summary string
	// Resources are the resource kinds of the findings the bot acts on; a finding of another kind is
	// skipped.
	Resources []finding.ResourceKind
	// Targets are the kinds of target (finding.TargetSpec) the bot acts on: the runner resolves the
	// finding's targets and skips, before any rail, a finding whose target is of another kind.
	Targets []finding.TargetKind
	// Related are the targets the bot also acts on that the finding leads to (finding.Relations): the
	// runner finds them live before any rail, the exemption rail reads them too, and the catalogue
	// shows them.
	Related []finding.Relation
	Params  []Param
	Impact  Impact
	// Operations are the AWS API operations the bot calls, as "service:Operation" in the SDK's names
	// (e.g. "ec2:StopInstances"). IAMActions maps them to the IAM actions they need.
	Operations []string
	// Conditions narrow the grant of some of those IAM actions: the bot's roles allow such an action
	// only where its condition holds (iam_quarantine_user may attach the AWSDenyAll policy and no
	// other). An action without one is allowed on any resource of the account.
	Conditions []Condition
	// ExemptionOperations are set by Register, never by a bot file: the reads the runner makes on the
	// bot's targets before it runs (RunnerOperations: related-target lookups and exemption tag reads)
	// that the bot does not call itself. Register appends them to Operations, so the roles grant them;
	// the permissions test leaves them to shared/exempt's tests, which exercise each.
	ExemptionOperations []string
	// Package is set by Register, never by a bot file: the import path of the package implementing Run,
	// which a bot's Lambda main imports to link it.
	Package string
	// Run performs the remediation. It must read the live resource first, be idempotent, honour
	// req.DryRun and return an error (never a Result) when it could not do its job. Lookup leaves it nil
	// when the implementation is not linked into the binary.
	Run func(ctx context.Context, req Request) (Result, error)
}

// Condition is an IAM condition on one of a bot's IAM actions, as a policy writes it:
// {"<Operator>": {"<Key>": [<Values>…]}}.
type Condition struct {
	Action   string   `json:"action"`
	Operator string   `json:"operator"`
	Key      string   `json:"key"`
	Values   []string `json:"values"`
}

// ConditionOn is the condition on action, if the bot declares one.
func (b Bot) ConditionOn(action string) (Condition, bool) {
	for _, c := range b.Conditions {
		if c.Action == action {
			return c, true
		}
	}
	return Condition{}, false
}

// Request is what a bot is asked to do.
type Request struct {
	Finding *finding.Finding
	Params  Params
	DryRun  bool
	// AWS is configured for the finding's account and region (the member role's credentials when the
	// account is not the orchestrator's own).
	AWS aws.Config
	// Execution is the Step Functions execution ARN (or a local run id), for tags and audit.
	Execution string
	// State is the orchestrator's state table, for bots that must remember how to undo their work.
	State StateStore
	// Targets are the finding's resources of the kinds the bot acts on, and Related the related targets
	// it declares, resolved by the runner before any rail (Bot.Resolve): the bot acts on exactly these
	// (Begin), never on identifiers it takes from the finding.
	Targets, Related []finding.Target
}

var (
	mu sync.RWMutex
	// implemented are the bots whose implementation is linked into this binary.
	implemented = map[string]Bot{}
	// nameRE and maxName are a bot's name (^[a-z][a-z0-9_]{1,62}$ without the counted repetition, which
	// regexp compiles into an instruction per count at every process's start).
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]+$`)
)

const maxName = 63

// Register adds a bot's implementation; each bot file calls it from init. It panics on a malformed
// declaration. One that differs from the bot's catalogue entry (or has none) is registered, so the
// generator can link it and write the catalogue, but CheckCatalogued reports it: the bot's Lambda
// refuses to start and its family's tests fail until the catalogue is regenerated, so no bot runs
// whose IAM policy, state machine branch or mapping validation was generated from another declaration.
func Register(b Bot) {
	if err := b.validate(); err != nil {
		panic(fmt.Sprintf("bots: register %q: %v", b.Name, err))
	}
	b.addRunnerOperations()
	b.Package = packageOf(b.Run)
	b.Run = skipsAsResults(b.Name, b.Run)
	mu.Lock()
	defer mu.Unlock()
	if _, dup := implemented[b.Name]; dup {
		panic(fmt.Sprintf("bots: %q registered twice", b.Name))
	}
	implemented[b.Name] = b
}

// ExemptionTag exempts a resource from every bot that changes something: with any value (even empty),
// on any target whose kind has a tag read (finding.TargetSpec), read live.
const ExemptionTag = "guardbots:exempt"

// ChecksExemption reports whether the runner checks the exemption tag before running b: every bot that
// changes something (impact other than none).
func (b Bot) ChecksExemption() bool { return b.Impact != ImpactNone }

// RunnerOperations are the reads the runner makes on b's targets before b runs: each relation's lookup,
// and, for a bot that changes something, the exemption tag read of every kind of target it may be
// handed (its own kinds and its relations').
func (b Bot) RunnerOperations() []string {
	var ops []string
	add := func(op string) {
		if op != "" && !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	kinds := slices.Clone(b.Targets)
	for _, r := range b.Related {
		spec, _ := finding.RelationOf(r)
		add(spec.Lookup)
		kinds = append(kinds, spec.To)
	}
	if b.ChecksExemption() {
		for _, k := range kinds {
			add(finding.Spec(k).TagRead)
		}
	}
	return ops
}

func (b *Bot) addRunnerOperations() {
	b.Operations = slices.Clone(b.Operations)
	for _, op := range b.RunnerOperations() {
		if !slices.Contains(b.Operations, op) {
			b.Operations = append(b.Operations, op)
			b.ExemptionOperations = append(b.ExemptionOperations, op)
		}
	}
}

// Lookup returns the bot with that name: its declaration, with Run when its implementation is linked
// into this binary (Register checked the two agree) and a nil Run otherwise.
func Lookup(name string) (Bot, bool) {
	mu.RLock()
	b, ok := implemented[name]
	mu.RUnlock()
	if ok {
		return b, true
	}
	b, ok = catalogued()[name]
	return b, ok
}

// Registered returns every bot, sorted by name: the catalogue's, and those registered in this binary
// (tests' own test_ bots, which are never catalogued). Run is set only for the linked ones.
func Registered() []Bot {
	all := maps.Clone(catalogued())
	mu.RLock()
	maps.Copy(all, implemented)
	mu.RUnlock()
	return sortedBots(all)
}

// Implemented returns the bots whose implementation is linked into this binary, sorted by name: what
// the catalogue is generated from.
func Implemented() []Bot {
	mu.RLock()
	defer mu.RUnlock()
	return sortedBots(implemented)
}

func sortedBots(m map[string]Bot) []Bot {
	out := make([]Bot, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every bot name, sorted.
func Names() []string {
	bs := Registered()
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

// Handles reports whether the bot acts on resources of kind k.
func (b Bot) Handles(k finding.ResourceKind) bool { return slices.Contains(b.Resources, k) }

// IAMActions returns the IAM actions the bot's operations need, sorted and deduplicated.
func (b Bot) IAMActions() []string {
	var out []string
	for _, op := range b.Operations {
		out = append(out, operationActions[op]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (b Bot) validate() error {
	if !nameRE.MatchString(b.Name) || len(b.Name) > maxName {
		return fmt.Errorf("name must match %s and be at most %d characters", nameRE, maxName)
	}
	if b.Summary == "" {
		return fmt.Errorf("summary is empty")
	}
	switch b.Impact {
	case ImpactNone, ImpactEvidence, ImpactDisruptive, ImpactDestructive:
	default:
		return fmt.Errorf("impact %q is not none, evidence, disruptive or destructive", b.Impact)
	}
	if len(b.Resources) == 0 {
		return fmt.Errorf("no resource kinds")
	}
	// Tests' own bots (never catalogued, never deployed) may leave their targets out; the runner then
	// refuses to run them, as it refuses any bot that would change something it cannot name.
	if b.ChecksExemption() && len(b.Targets) == 0 && !strings.HasPrefix(b.Name, TestBotPrefix) {
		return fmt.Errorf("changes something but declares no kind of target to act on")
	}
	for _, k := range b.Targets {
		if !finding.KnownTarget(k) {
			return fmt.Errorf("target kind %q is not in the target table (shared/finding)", k)
		}
	}
	for _, r := range b.Related {
		spec, ok := finding.RelationOf(r)
		if !ok {
			return fmt.Errorf("relation %q is not in the target table (shared/finding)", r)
		}
		if !slices.Contains(b.Targets, spec.From) {
			return fmt.Errorf("relation %s starts from %s targets, which the bot does not act on", r, spec.From)
		}
	}
	if b.Run == nil {
		return fmt.Errorf("no Run function")
	}
	for _, op := range b.Operations {
		if len(operationActions[op]) == 0 {
			return fmt.Errorf("operation %q has no entry in the operation → IAM action table", op)
		}
	}
	conditioned := map[string]bool{}
	for _, c := range b.Conditions {
		switch {
		case !slices.Contains(b.IAMActions(), c.Action):
			return fmt.Errorf("condition on %q, which is none of the bot's IAM actions", c.Action)
		case conditioned[c.Action]:
			return fmt.Errorf("two conditions on %q", c.Action)
		case c.Operator == "" || c.Key == "" || len(c.Values) == 0:
			return fmt.Errorf("condition on %q needs an operator, a key and values", c.Action)
		}
		conditioned[c.Action] = true
	}
	seen := map[string]bool{}
	for _, p := range b.Params {
		if err := p.validate(); err != nil {
			return fmt.Errorf("param %q: %w", p.Name, err)
		}
		if seen[p.Name] {
			return fmt.Errorf("param %q declared twice", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}
