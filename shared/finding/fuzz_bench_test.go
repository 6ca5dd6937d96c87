package finding_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
)

// FuzzParse: parse and transform never panic, and every failure is a rejection.
func FuzzParse(f *testing.F) {
	for _, path := range fixtureFiles(f) {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	if dir := corpusDir(f); dir != "" {
		for _, rel := range corpusFiles(f, dir) {
			raw, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := guardduty.Parse(raw)
		if err != nil {
			requireRejected(t, err)
			return
		}
		if p.Finding == nil {
			t.Fatal("Parse accepted input without a finding")
		}
		fd, err := finding.FromGuardDuty(p)
		if err != nil {
			requireRejected(t, err)
			return
		}
		if fd.ID == "" || fd.AccountID == "" || fd.Region == "" || fd.Partition == "" || fd.ResourceKind == "" {
			t.Fatalf("accepted finding lacks an identifier: %+v", fd)
		}
	})
}

func requireRejected(t *testing.T, err error) {
	t.Helper()
	var fe *faults.Error
	if !errors.As(err, &fe) || fe.Kind != faults.Rejected {
		t.Fatalf("error %q is not a faults.Rejected error", err)
	}
}

// BenchmarkParseTransform: a ~9 KB SNS-wrapped EC2 finding (message as a JSON string), parse then
// transform, as the parse and transform Lambdas see it.
func BenchmarkParseTransform(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "events", "envelope_sns_string.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := guardduty.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := finding.FromGuardDuty(p); err != nil {
			b.Fatal(err)
		}
	}
}
