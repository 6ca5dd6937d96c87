package bottest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// Contract is what a bot's tests supply so that the contract every bot keeps is tested over it, by
// RunContract from its family's tests (and Main fails for a bot without one):
//   - a dry run reads and changes nothing, and says it is a dry run;
//   - a second run after a successful one changes nothing more and says so (Again);
//   - a target that no longer exists is skipped, changing nothing;
//   - AccessDenied on the call that changes things is a failure (faults.Failed) naming the account and
//     the AWS error code, never a result;
//   - throttling is a throttled error (faults.Throttled), which the state machine retries;
//   - a bot that also acts on the instance of an instance-credential finding (finding.RelSessionInstance)
//     does to that instance what it does on an instance finding.
//
// A bot that calls no AWS API (notify_only) keeps the first two only.
type Contract struct {
	// World sets up a world in which the bot has work to do. stubs must come first among the bot's
	// client options, right after its recorder, so the contract's errors win.
	World func(t *testing.T, stubs ...func(*middleware.Stack) error) World
	// Again is the status of a second run: StatusAlreadyDone, or StatusSkipped for an undo bot whose
	// record the first run consumed.
	Again bots.Status
	// Deny is the call the bot changes things with, Throttle one it reads with ("service:Operation");
	// the contract makes them fail with the service's own error codes (faultCodes).
	Deny, Throttle string
	// NoGone says why the bot's target can never be missing, when World.Gone is nil.
	NoGone string
}

// faultCodes are each service's codes for "not authorized" and "slow down", as it returns them.
var faultCodes = map[string][2]string{
	"ec2":    {"UnauthorizedOperation", "RequestLimitExceeded"},
	"lambda": {"AccessDeniedException", "TooManyRequestsException"},
	"s3":     {"AccessDenied", "SlowDown"}, "s3control": {"AccessDenied", "SlowDown"},
}

// faultCode is op's service's code for denied (0) or throttled (1).
func faultCode(op string, which int) string {
	svc, _, _ := strings.Cut(op, ":")
	if c, ok := faultCodes[svc]; ok {
		return c[which]
	}
	return [2]string{"AccessDenied", "Throttling"}[which] // IAM, RDS, Auto Scaling, ELB
}

// World is one setup of a bot's world.
type World struct {
	// Request is a new request for the bot in this world.
	Request func(dryRun bool) bots.Request
	// Rec records the bot's calls.
	Rec *Recorder
	// State describes what the bot may change, read around the bot's own clients: a dry run, a second
	// run and a skip leave it as it was.
	State func(t *testing.T) string
	// Gone makes the bot's target not exist, in the world or in the request.
	Gone func(req *bots.Request)
}

var contracts = struct {
	sync.Mutex
	of  map[string]Contract
	ran map[string]bool
}{of: map[string]Contract{}, ran: map[string]bool{}}

// RegisterContract registers bot's contract; a bot's test file calls it from a package-level var.
func RegisterContract(bot string, c Contract) bool {
	contracts.Lock()
	defer contracts.Unlock()
	if _, dup := contracts.of[bot]; dup {
		panic("bottest: a contract for " + bot + " is registered twice")
	}
	contracts.of[bot] = c
	return true
}

// RunContract runs the contract of every bot registered in this test binary: a family's tests call it
// from one test (TestContract), beside bottest.Main.
func RunContract(t *testing.T) {
	contracts.Lock()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range contracts.of {
			if !yield(n) {
				return
			}
		}
	})
	contracts.Unlock()
	if len(names) == 0 {
		t.Fatal("no bot contract is registered in this package (bottest.RegisterContract)")
	}
	for _, name := range names {
		contracts.Lock()
		c := contracts.of[name]
		contracts.ran[name] = true
		contracts.Unlock()
		t.Run(name, func(t *testing.T) { c.run(t, name) })
	}
}

func (c Contract) run(t *testing.T, bot string) {
	b, ok := bots.Lookup(bot)
	if !ok || b.Run == nil {
		t.Fatalf("%s is not registered in this test binary", bot)
	}
	calls := len(b.Operations) > 0
	acted, planned := bots.StatusRemediated, bots.StatusDryRun
	if b.Impact == bots.ImpactNone {
		acted, planned = bots.StatusNotified, bots.StatusNotified
	}
	t.Run("DryRunChangesNothing", func(t *testing.T) {
		w := c.World(t)
		before := w.state(t)
		res, err := Run(t, bot, w.Request(true))
		if err != nil || !res.DryRun || res.Status != planned || len(res.Changes) == 0 && b.Impact != bots.ImpactNone {
			t.Fatalf("dry run = %+v, %v; want %s saying what it would do", res, err, planned)
		}
		w.unchanged(t, "the dry run", before, 0)
	})
	t.Run("SecondRunChangesNothingMore", func(t *testing.T) {
		w := c.World(t)
		if res, err := Run(t, bot, w.Request(false)); err != nil || res.Status != acted {
			t.Fatalf("first run = %+v, %v; want %s", res, err, acted)
		}
		before, n := w.state(t), len(w.Rec.Ops())
		res, err := Run(t, bot, w.Request(false))
		if err != nil || res.Status != c.Again || res.Reason == "" {
			t.Fatalf("second run = %+v, %v; want %s with a reason", res, err, c.Again)
		}
		w.unchanged(t, "the second run", before, n)
	})
	if !calls {
		return // nothing to miss, nothing AWS can refuse
	}
	t.Run("MissingTargetIsSkipped", func(t *testing.T) {
		w := c.World(t)
		if w.Gone == nil {
			if c.NoGone == "" {
				t.Fatal("the contract says neither how the target goes missing (World.Gone) nor why it cannot (NoGone)")
			}
			t.Skip(c.NoGone)
		}
		req := w.Request(false)
		w.Gone(&req)
		before := w.state(t)
		res, err := Run(t, bot, req)
		if err != nil || res.Status != bots.StatusSkipped || res.Reason == "" {
			t.Fatalf("result = %+v, %v; want skipped with a reason", res, err)
		}
		w.unchanged(t, "the skip", before, 0)
	})
	t.Run("AccessDeniedIsAFailure", func(t *testing.T) {
		code := faultCode(c.Deny, 0)
		w := c.World(t, StubError(c.Deny, code, "User is not authorized to perform: "+c.Deny))
		req := w.Request(false)
		res, err := Run(t, bot, req)
		if err == nil || faults.Classify(err) != faults.Failed {
			t.Fatalf("result %+v, error %v (%s); want a %s error", res, err, faults.Classify(err), faults.Failed)
		}
		for _, want := range []string{req.Finding.AccountID, code} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	})
	if slices.Contains(b.Related, finding.RelSessionInstance) {
		t.Run("ActsOnTheInstanceOfAnInstanceCredentialFinding", func(t *testing.T) {
			w := c.World(t)
			req := w.Request(false)
			if req.Finding.Instance == nil || req.Finding.Instance.ID == "" {
				t.Fatal("the world's finding names no instance")
			}
			req.Finding = CredentialFinding(req.Finding, req.Finding.Instance.ID)
			before := w.state(t)
			res, err := Run(t, bot, req)
			if err != nil || res.Status != acted {
				t.Fatalf("result = %+v, %v; want %s on the session's instance", res, err, acted)
			}
			if w.State != nil && w.state(t) == before {
				t.Error("the instance of the stolen credentials was left as it was")
			}
		})
	}
	t.Run("ThrottlingIsThrottled", func(t *testing.T) {
		w := c.World(t, StubError(c.Throttle, faultCode(c.Throttle, 1), "Rate exceeded"))
		if _, err := Run(t, bot, w.Request(false)); faults.Classify(err) != faults.Throttled {
			t.Fatalf("error %v (%s), want %s", err, faults.Classify(err), faults.Throttled)
		}
	})
}

func (w World) state(t *testing.T) string {
	if w.State == nil {
		return ""
	}
	return w.State(t)
}

// unchanged checks the world's state is before and the bot's calls since the first n were reads.
func (w World) unchanged(t *testing.T, what, before string, n int) {
	t.Helper()
	if after := w.state(t); after != before {
		t.Errorf("%s changed the world:\nbefore %s\n after %s", what, before, after)
	}
	if writes := Writes(w.Rec.Ops()[n:]); len(writes) > 0 {
		t.Errorf("%s called %v, which change things", what, writes)
	}
}

// Writes are the operations among ops that change things: all but Describe*, Get*, List* and Head*.
func Writes(ops []string) []string {
	var out []string
	for _, op := range ops {
		_, name, _ := strings.Cut(op, ":")
		if !strings.HasPrefix(name, "Describe") && !strings.HasPrefix(name, "Get") && !strings.HasPrefix(name, "List") && !strings.HasPrefix(name, "Head") {
			out = append(out, op)
		}
	}
	return out
}

// contractProblems lists the bots of family without a contract, or whose contract did not run.
func contractProblems(family string) []string {
	contracts.Lock()
	defer contracts.Unlock()
	var problems []string
	for _, b := range bots.Registered() {
		if b.Package != family {
			continue
		}
		if _, ok := contracts.of[b.Name]; !ok {
			problems = append(problems, fmt.Sprintf("%s has no contract: its tests must register one (bottest.RegisterContract)", b.Name))
		} else if !contracts.ran[b.Name] {
			problems = append(problems, fmt.Sprintf("the contract of %s did not run: the family's tests need func TestContract(t *testing.T) { bottest.RunContract(t) }", b.Name))
		}
	}
	return problems
}

// CredentialFinding is f made an instance-credential finding in the documented shape: the access key of
// an assumed-role session of the instance's role, the session named after the instance (as EC2 names
// it), and no instance details — the instance is reached only through the session.
func CredentialFinding(f *finding.Finding, instanceID string) *finding.Finding {
	c := *f
	c.Type = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
	c.TypeParts, _ = finding.ParseType(c.Type)
	c.ResourceKind, c.ResourceType, c.Instance = finding.KindAccessKey, "AccessKey", nil
	c.AccessKey = &finding.AccessKey{AccessKeyID: "ASIAEXAMPLEEXAMPLE00", UserName: "web-instance-role",
		UserType: finding.UserTypeAssumedRole, RawUserType: "AssumedRole", PrincipalID: "AROAEXAMPLEEXAMPLE0:" + instanceID}
	return &c
}
