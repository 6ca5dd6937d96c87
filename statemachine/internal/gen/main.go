// Command gen writes the workflow definition to statemachine/remediation.asl.json; run it through
// `go generate ./statemachine` (go generate runs it in that directory).
package main

import (
	"fmt"
	"os"

	"github.com/guardbots/guardbots/statemachine"
)

func main() {
	def, err := statemachine.Definition()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(statemachine.File, def, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
