package cloudtrailbots

import (
	"testing"

	"github.com/guardbots/guardbots/shared/bots/bottest"
)

// TestMain checks the declarations of the family's bots against what their tests called, and that
// each bot's contract ran.
func TestMain(m *testing.M) { bottest.Main(m) }

// TestContract runs the contract every bot keeps over the family's bots.
func TestContract(t *testing.T) { bottest.RunContract(t) }
