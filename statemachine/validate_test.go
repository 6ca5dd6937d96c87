package statemachine_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/statemachine"
	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

// tools fails (rather than skips) without the npm tools: `make test` installs them first, and a
// skipped validation would pass silently.
func tools(t *testing.T) aslrun.Tools {
	t.Helper()
	tl, err := aslrun.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func aslValidate(t *testing.T, tl aslrun.Tools, path string) (string, error) {
	t.Helper()
	cmd := exec.Command(tl.Bin("asl-validator"), "--json-path", path)
	cmd.Env = tl.Env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestASLValidatorAcceptsTheCommittedDefinition(t *testing.T) {
	tl := tools(t)
	if out, err := aslValidate(t, tl, statemachine.File); err != nil {
		t.Fatalf("asl-validator rejects %s: %v\n%s", statemachine.File, err, out)
	}
}

// The validator must be able to fail here, or the test above proves nothing.
func TestASLValidatorRejectsADanglingNext(t *testing.T) {
	tl := tools(t)
	def, err := os.ReadFile(statemachine.File)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(def), `"Next": "Notify"`, `"Next": "No such state"`, 1)
	path := filepath.Join(t.TempDir(), "broken.asl.json")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := aslValidate(t, tl, path)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("asl-validator accepted a Next to a missing state (err %v)\n%s", err, out)
	}
}
