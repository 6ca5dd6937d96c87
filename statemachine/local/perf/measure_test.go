package perf

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeBootstrap makes this test binary a Lambda bootstrap that fails in the way the variable names:
// "exit" exits before polling, "die-on-invoke" takes an invocation and exits without answering.
const fakeBootstrap = "GUARDBOTS_PERF_FAKE_BOOTSTRAP"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeBootstrap) {
	case "exit":
		os.Exit(3)
	case "die-on-invoke":
		for {
			res, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/next")
			if err != nil {
				os.Exit(4)
			}
			res.Body.Close()
			if res.Header.Get("Lambda-Runtime-Aws-Request-Id") != "" {
				os.Exit(3)
			}
		}
	}
	os.Exit(m.Run())
}

// A measured bootstrap that dies fails the measurement at once with how it ended, instead of waiting
// for a poll or an answer that will never come.
func TestMeasure_ADeadBootstrapFailsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := ColdStarts(ctx, os.Args[0], 1, fakeBootstrap+"=exit")
	if err == nil || !strings.Contains(err.Error(), "exited before polling (exit status 3)") {
		t.Errorf("cold start: %v", err)
	}
	_, err = InvokeWarm(ctx, os.Args[0], []byte(`{}`), 5, fakeBootstrap+"=die-on-invoke")
	if err == nil || !strings.Contains(err.Error(), "exited (exit status 3)") {
		t.Errorf("warm invocations: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}
