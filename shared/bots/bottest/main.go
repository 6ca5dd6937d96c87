package bottest

import (
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/exempt"
	"github.com/guardbots/guardbots/shared/finding"
)

// Main is a bot family's TestMain: it runs the package's tests, then checks the declarations of the
// family's bots (the catalogued bots implemented in the calling package) against what their tests
// actually called, recorded by NewRecorder: an operation called but not declared, a declared operation
// never exercised, an IAM action with a wildcard, a catalogued bot the package does not implement, a
// declaration that differs from its catalogue entry (or has none), a read the runner makes on the bot's
// targets that the package does not link, or a bot whose contract (RegisterContract, RunContract) is
// missing or did not run fails the run. The check needs the whole
// suite, so it is skipped when -run selects a subset.
func Main(m *testing.M) {
	pc, _, _, _ := runtime.Caller(1)
	dir, base := path.Split(runtime.FuncForPC(pc).Name()) // ".../shared/bots/", "ec2bots.TestMain"
	pkg, _, _ := strings.Cut(base, ".")
	family := strings.TrimSuffix(dir+pkg, "_test")
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && (f == nil || f.Value.String() == "") {
		if problems := Problems(family); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "--- FAIL: permissions check of "+family+"\n    "+strings.Join(problems, "\n    "))
			code = 1
		}
	}
	os.Exit(code)
}

// Problems lists what is wrong with the declarations of the bots implemented in package family, given
// the operations their tests exercised so far.
func Problems(family string) []string {
	exercised.Lock()
	defer exercised.Unlock()
	var problems []string
	for _, b := range bots.Registered() {
		if b.Package != family {
			continue
		}
		if b.Run == nil {
			problems = append(problems, fmt.Sprintf("%s is catalogued in %s but not registered there: run go generate ./...", b.Name, family))
		} else if err := bots.CheckCatalogued(b.Name); err != nil {
			problems = append(problems, err.Error())
		}
		called := exercised.ops[b.Name]
		for op := range called {
			if !slices.Contains(b.Operations, op) {
				problems = append(problems, fmt.Sprintf("%s calls %s but does not declare it", b.Name, op))
			}
		}
		for _, op := range b.Operations {
			// The runner's reads on the bot's targets, added by Register, are exercised by shared/exempt's
			// tests (which check each reader calls exactly its operation), not by each bot's. Only those
			// added ones are left out: a bot's own operations are still checked.
			if !called[op] && !slices.Contains(b.ExemptionOperations, op) {
				problems = append(problems, fmt.Sprintf("%s declares %s but no test exercised it", b.Name, op))
			}
		}
		for _, a := range b.IAMActions() {
			if strings.ContainsAny(a, "*?") {
				problems = append(problems, fmt.Sprintf("%s needs wildcard IAM action %s", b.Name, a))
			}
		}
		for _, op := range b.RunnerOperations() {
			if !exempt.ReaderLinked(op) && !slices.ContainsFunc(b.Related, func(r finding.Relation) bool {
				spec, _ := finding.RelationOf(r)
				return spec.Lookup == op && bots.LookupLinked(r)
			}) {
				problems = append(problems, fmt.Sprintf("%s: the runner reads %s before it runs, but %s links no implementation of it (a shared/exempt/… package)", b.Name, op, family))
			}
		}
	}
	problems = append(problems, contractProblems(family)...)
	slices.Sort(problems)
	return problems
}
