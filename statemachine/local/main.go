// Command local runs the guardbots workflow on this machine, without AWS.
//
//	go run ./statemachine/local explain --event FILE [--mapping FILE] [--allow-samples]
//	go run ./statemachine/local bots [--json]
//	go run ./statemachine/local demo [--event FILE] [--dry-run] [--allow-samples]
//	go run ./statemachine/local replay --event FILE [--dry-run] [--allow-samples]
//	go run ./statemachine/local cost [--findings N,…] [--shape S|all] [--memory MB] [--measure RUNS]
package main

//go:generate go run -tags gencatalogue . gen-bot-catalogue
//go:generate go run . gen-functions
//go:generate go run . gen-catalogue
//go:generate go run . gen-cost

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  local explain --event FILE [--mapping FILE] [--allow-samples]
      parse → transform → match one event in-process (no AWS); prints one JSON object.
      exit 0: remediate, notify or skip; 2: the event is rejected; 1: bad mapping or usage.
  local bots [--json]
      the bot registry: name, resource kinds, parameters, impact, IAM actions.
  local demo [--event FILE] [--dry-run] [--allow-samples] [--build-dir DIR]
      the workflow end to end on this machine: real bootstraps behind kumo, the committed ASL run by
      aws-local-stepfunctions, on the demo findings; exit 1 if an expected outcome did not happen.
  local replay --event FILE [--dry-run] [--allow-samples] [--build-dir DIR]
      one event of yours through the same local stack.
  local gen-functions
      writes functions/bots/<bot>/main.go for every registered bot (go generate ./...).
  local perf [--starts N] [--invocations N]
      every bootstrap's cold start, warm latency, peak memory and zipped artifact size.
  local gen-catalogue
      rewrites the bot catalogue in README.md from the registry (go generate ./...).
  local cost [--findings N,…] [--shape S|all] [--memory MB] [--api-ms MS] [--init-ms MS] [--cold F] [--traced F]
      the monthly AWS cost of N findings a month on Standard and on Express, item by item, at list prices.
  local cost --measure RUNS
      runs every shape on the local stack (API calls counted) and prints the counts the model uses.
  local gen-cost
      rewrites the cost tables in README.md from the model (go generate ./...).
  local gen-bot-catalogue
      writes shared/bots/catalogue.json, every bot's declaration, from the implementations; build it
      with -tags gencatalogue when a declaration changed (go generate ./... does).
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
	case "gen-functions":
		return genFunctions(args[1:], stdout, stderr)
	case "perf":
		return perfCmd(args[1:], stdout, stderr)
	case "gen-catalogue":
		return genCatalogue(args[1:], stdout, stderr)
	case "cost":
		return costCmd(args[1:], stdout, stderr)
	case "gen-cost":
		return genCost(args[1:], stdout, stderr)
	case "gen-bot-catalogue":
		return genBotCatalogue(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
	return 1
}
