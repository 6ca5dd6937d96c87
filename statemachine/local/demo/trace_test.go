package demo

import (
	"slices"
	"testing"

	"github.com/guardbots/guardbots/shared/bots"
)

// Every operation the table names is one a bot declares, in the registry's spelling: a misspelt entry
// would never match, and the trace would show a bare failure instead of naming kumo's gap.
func TestKumoLacks_NamesOnlyOperationsBotsDeclare(t *testing.T) {
	var declared []string
	for _, b := range bots.Registered() {
		declared = append(declared, b.Operations...)
	}
	for op := range kumoLacks {
		if !slices.Contains(declared, op) {
			t.Errorf("kumoLacks names %s, which no bot declares", op)
		}
	}
}
