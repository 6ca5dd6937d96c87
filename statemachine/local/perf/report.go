package perf

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// FloorName is the floor bootstrap's name among BuildHost's: the smallest Go Lambda (perf/floor).
const FloorName = "floor"

// FunctionPackages are the main packages under functions/, as "./functions/…" paths: what perf measures.
func FunctionPackages(root string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(root, "functions"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "main.go" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
		}
		return err
	})
	return pkgs, err
}

// BuildHost builds every function under functions/ for this machine, as the Lambda build does
// (lambda.norpc, trimmed, stripped), into dir/<function>/bootstrap, and the floor (FloorName).
func BuildHost(ctx context.Context, root, dir string) (map[string]string, error) {
	pkgs, err := FunctionPackages(root)
	if err != nil {
		return nil, err
	}
	// The floor: a Go Lambda with no AWS SDK (perf/floor).
	pkgs = append(pkgs, "./statemachine/local/perf/"+FloorName)
	tmp := filepath.Join(dir, ".bin") + string(filepath.Separator)
	args := append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", tmp}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	bins := map[string]string{}
	for _, p := range pkgs {
		name := filepath.Base(p)
		dst := filepath.Join(dir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
			return nil, err
		}
		bins[name] = dst
	}
	return bins, os.RemoveAll(tmp)
}

// ZipSize is the size of bootstrap zipped as a Lambda deployment package (deflate).
func ZipSize(bootstrap string) (int64, error) {
	f, err := os.Open(bootstrap)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// Warm is a bootstrap invoked many times with one payload.
type Warm struct {
	Median, P90 time.Duration
	// RSS is the peak resident set after 1, 10, 100, … calls (each power of ten up to N) and after N.
	RSS []RSSAt
	N   int
}

// RSSAt is a process's peak resident set after Calls invocations.
type RSSAt struct {
	Calls int
	Bytes int64
}

// InvokeWarm starts bootstrap, invokes it n times with payload (which must succeed), and reports the
// invocation latency from the Runtime API's side and the peak RSS after 1, 10, 100, … and n calls.
func InvokeWarm(ctx context.Context, bootstrap string, payload []byte, n int, env ...string) (Warm, error) {
	p, err := Start(bootstrap, env...)
	if err != nil {
		return Warm{}, err
	}
	defer p.Stop()
	if _, err := p.WaitFirstNext(ctx); err != nil {
		return Warm{}, err
	}
	var w Warm
	lat := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		body, errored, err := p.Invoke(ctx, payload)
		if err != nil {
			return Warm{}, err
		}
		if errored {
			return Warm{}, fmt.Errorf("%s: invocation %d failed: %s", bootstrap, i+1, body)
		}
		lat = append(lat, time.Since(start))
		if calls := i + 1; IsPowerOfTen(calls) || calls == n {
			rss, err := p.PeakRSS()
			if err != nil {
				return Warm{}, err
			}
			w.RSS = append(w.RSS, RSSAt{Calls: calls, Bytes: rss})
		}
	}
	// The first call includes one-time work (lazy initialisation); the warm figure is the rest.
	w.Median, w.P90, w.N = Percentile(lat[1:], 50), Percentile(lat[1:], 90), n
	return w, nil
}

// IsPowerOfTen reports whether n is 1, 10, 100, …
func IsPowerOfTen(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// Machine names what the figures were measured on.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// SortedNames returns the keys of m in order.
func SortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
