package finding_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// normalize runs parse and transform and renders the result as the golden file holds it: the
// normalized finding, or {"rejected": message} — and checks every error is a rejection.
func normalize(t testing.TB, raw []byte) []byte {
	t.Helper()
	f, err := parseTransform(raw)
	var out any = f
	if err != nil {
		if k := faults.Classify(err); k != faults.Rejected {
			t.Fatalf("error %q is %s, want %s", err, k, faults.Rejected)
		}
		out = map[string]string{"rejected": err.Error()}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func parseTransform(raw []byte) (*finding.Finding, error) {
	p, err := guardduty.Parse(raw)
	if err != nil {
		return nil, err
	}
	return finding.FromGuardDuty(p)
}

// moduleRoot walks up from the package directory to go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// corpusDir is the shared GuardDuty corpus beside the repository; "" when absent (a plain clone).
func corpusDir(t testing.TB) string {
	dir := filepath.Join(moduleRoot(t), "..", "shared", "testdata", "guardduty")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// corpusFiles lists the corpus events relative to its root: every top-level *.json but index.json,
// and securityhub/ and sns/.
func corpusFiles(t testing.TB, dir string) []string {
	var files []string
	for _, pattern := range []string{"*.json", "securityhub/*.json", "sns/*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(dir, f)
			if rel != "index.json" {
				files = append(files, rel)
			}
		}
	}
	return files
}

func fixtureFiles(t testing.TB) []string {
	m, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no fixtures in testdata/events: %v", err)
	}
	return m
}

func checkGolden(t *testing.T, name string, raw []byte) {
	t.Helper()
	got := normalize(t, raw)
	golden := filepath.Join("testdata", "golden", name+".golden.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("golden file missing (run go test ./shared/finding -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run with -update and review the diff):\n%s", name, golden, got)
	}
}

func TestGolden_ProjectFixtures(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		name := "events/" + filepath.Base(path)
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, raw)
		})
	}
}

func TestGolden_Corpus(t *testing.T) {
	dir := corpusDir(t)
	if dir == "" {
		t.Skipf("the GuardDuty corpus at %s is absent", filepath.Join(moduleRoot(t), "..", "shared", "testdata", "guardduty"))
	}
	for _, rel := range corpusFiles(t, dir) {
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.ToSlash(rel), raw)
		})
	}
}

// Fixtures named reject_* must be rejected, and every other fixture accepted: a golden regenerated
// with a regression in it would otherwise pass review by accident.
func TestFixtures_RejectPrefixMatchesOutcome(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		raw, _ := os.ReadFile(path)
		_, err := parseTransform(raw)
		wantReject := strings.HasPrefix(filepath.Base(path), "reject_")
		if (err != nil) != wantReject {
			t.Errorf("%s: rejected=%v (err %v), want rejected=%v", path, err != nil, err, wantReject)
		}
	}
}

func TestCorpus_SameFindingThroughSNSAndEventBridgeIsIdentical(t *testing.T) {
	dir := corpusDir(t)
	if dir == "" {
		t.Skip("the GuardDuty corpus is absent")
	}
	a, errA := os.ReadFile(filepath.Join(dir, "UnauthorizedAccess_EC2_SSHBruteForce.json"))
	b, errB := os.ReadFile(filepath.Join(dir, "sns", "SNS_Lambda_UnauthorizedAccess_EC2_SSHBruteForce.json"))
	if errA != nil || errB != nil {
		t.Fatal(errors.Join(errA, errB))
	}
	fa, err := parseTransform(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := parseTransform(b)
	if err != nil {
		t.Fatal(err)
	}
	fb.Source = fa.Source
	ja, _ := json.Marshal(fa)
	jb, _ := json.Marshal(fb)
	if !bytes.Equal(ja, jb) {
		t.Errorf("SNS-wrapped finding differs from the EventBridge one:\n%s\n%s", ja, jb)
	}
}

func TestSecurityHub_SameIdentityAsEventBridge(t *testing.T) {
	read := func(name string) *finding.Finding {
		raw, err := os.ReadFile(filepath.Join("testdata", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseTransform(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return f
	}
	eb, sh := read("ec2_malicious_ip_caller_custom.json"), read("envelope_securityhub_imported.json")
	if eb.ID != sh.ID || eb.Type != sh.Type || eb.AccountID != sh.AccountID || eb.Region != sh.Region ||
		eb.Severity != sh.Severity || eb.ResourceKind != sh.ResourceKind || eb.Instance.ID != sh.Instance.ID ||
		eb.Action.RemoteIPs[0].Address != sh.Action.RemoteIPs[0].Address {
		t.Errorf("Security Hub route differs in identity:\nEventBridge %+v\nSecurity Hub %+v", eb, sh)
	}
}
