package lambdabots

import (
	"testing"

	"github.com/guardbots/guardbots/shared/bots/bottest"
)

// TestMain checks the declarations of the family's bots against what their tests called.
func TestMain(m *testing.M) { bottest.Main(m) }
