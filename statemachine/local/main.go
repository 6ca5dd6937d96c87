// Command local runs the guardbots workflow on this machine, without AWS.
//
//	go run ./statemachine/local explain --event FILE [--mapping FILE] [--org FILE] [--allow-samples]
//	go run ./statemachine/local bots [--json]
//	go run ./statemachine/local demo [--event FILE] [--dry-run] [--allow-samples]
//	go run ./statemachine/local replay --event FILE [--dry-run] [--allow-samples]
//	go run ./statemachine/local cost [--findings N,…] [--shape S|all] [--memory MB] [--measure RUNS]
//	go run ./statemachine/local health [--accounts A,B] [--region R]   (calls AWS: the security account)
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/guardbots/guardbots/shared/deployment"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  local explain --event FILE [--mapping FILE] [--org FILE] [--owner-tag KEY] [--allow-samples]
      parse → transform → match one event in-process (no AWS); prints one JSON object: the decision,
      the rule and scope that made it and why; --org is the organization (accounts, OU paths, tags).
      exit 0: remediate, notify or skip; 2: the event is rejected; 1: bad mapping or usage.
  local bots [--json]
      the bot registry: name, resource kinds, parameters, impact, IAM actions.
  local demo [--event FILE] [--dry-run] [--allow-samples] [--build-dir DIR]
      the workflow end to end on this machine: real bootstraps behind kumo, the committed ASL run by
      aws-local-stepfunctions, on the demo findings; exit 1 if an expected outcome did not happen.
  local replay --event FILE [--dry-run] [--allow-samples] [--build-dir DIR]
      one event of yours through the same local stack.
  local perf [--starts N] [--invocations N]
      every bootstrap's cold start, warm latency, peak memory and zipped artifact size.
  local cost [--findings N,…] [--shape S|all] [--memory MB] [--api-ms MS] [--init-ms MS] [--cold F] [--traced F]
      the monthly AWS cost of N findings a month on Standard and on Express, item by item, at list prices.
  local health [--accounts ID,…] [--region REGION] [--timeout D]
      runs the deployed member-role health check with your credentials (security account, home region:
      states:StartExecution and DescribeExecution on guardbots-member-health) and prints its report;
      the only subcommand that calls AWS. exit 0: every role ok; 1: some are not; 2: the check failed.
  local cost --measure RUNS
      runs every shape on the local stack (API calls counted) and prints the counts the model uses.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch args[0] {
	case "explain":
		return explain(args[1:], stdout, stderr)
	case "bots":
		return listBots(args[1:], stdout, stderr)
	case "demo", "replay":
		return runDemo(args[0], args[1:], stdout, stderr)
	case "perf":
		return perfCmd(args[1:], stdout, stderr)
	case "cost":
		return costCmd(args[1:], stdout, stderr)
	case "health":
		return healthCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return 1
}

// moduleRoot is the repository root.
var moduleRoot = deployment.ModuleRoot
