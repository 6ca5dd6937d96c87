// Command gen writes every generated file of the repository, in dependency order (package generate):
// the bot catalogue, the bots' Lambda mains, the state machine and the README's tables. It is the one
// //go:generate entry (statemachine/definition.go), so one `go generate ./...` after adding or changing
// a bot leaves everything current.
package main

import (
	"fmt"
	"os"

	_ "github.com/guardbots/guardbots/shared/bots/all" // the catalogue is generated from every implementation
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/statemachine/internal/generate"
)

func main() {
	root, err := deployment.ModuleRoot()
	if err == nil {
		err = generate.Write(root, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}
