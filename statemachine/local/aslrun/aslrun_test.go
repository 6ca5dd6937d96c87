package aslrun_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guardbots/guardbots/statemachine/local/aslrun"
)

const twoTasks = `{
  "StartAt": "First",
  "States": {
    "First": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111122223333:function:first", "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111122223333:function:second",
      "Retry": [{"ErrorEquals": ["Guardbots.Throttled"], "IntervalSeconds": 30, "MaxAttempts": 2}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}], "End": true},
    "Caught": {"Type": "Pass", "End": true}
  }
}`

func tools(t *testing.T) aslrun.Tools {
	t.Helper()
	tl, err := aslrun.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func run(t *testing.T, job aslrun.Job) *aslrun.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := tools(t).Run(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestRun_OverridesAnswerInTurnAndRetriesAreInstant(t *testing.T) {
	start := time.Now()
	ex := run(t, aslrun.Job{
		Definition: json.RawMessage(twoTasks),
		Input:      map[string]any{"n": 1},
		Overrides: map[string][]aslrun.Response{
			"First":  {{JS: "(x) => ({n: x.n + 1})"}},
			"Second": {aslrun.Fails("Guardbots.Throttled", "slow down"), aslrun.Returns("done")},
		},
		InstantRetries: true,
	})
	if ex.Status != "SUCCEEDED" || string(ex.Output) != `"done"` {
		t.Fatalf("execution %s %s %s output %s", ex.Status, ex.Error, ex.Cause, ex.Output)
	}
	if got := ex.Calls(); !slices.Equal(got, []string{"First", "Second", "Second"}) {
		t.Errorf("calls %v", got)
	}
	if string(ex.Invocations[1].Input) != `{"n":2}` || ex.Invocations[1].Error != "Guardbots.Throttled" {
		t.Errorf("second invocation %+v", ex.Invocations[1])
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v: the 30 s retry interval was not overridden", d)
	}
	// Every event keeps its time, in order, within the run: a trace derives each state's duration from it.
	var last time.Time
	for _, ev := range ex.Events {
		at := ev.Time()
		if at.IsZero() || at.Before(start.Add(-time.Second)) || at.After(time.Now()) || at.Before(last) {
			t.Fatalf("event %+v has time %v (run started %v, previous event %v)", ev, at, start, last)
		}
		last = at
	}
}

// Without an override a Task invokes its Lambda through the SDK: this fake Lambda endpoint checks the
// runner reaches an emulator and that a function error becomes a state error named by its errorType.
func TestRun_TasksWithoutOverrideInvokeTheLambdaEndpoint(t *testing.T) {
	var mu sync.Mutex
	var invoked []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// POST /2015-03-31/functions/{name}/invocations
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		invoked = append(invoked, name+" "+string(body))
		mu.Unlock()
		if strings.HasSuffix(name, ":second") {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			io.WriteString(w, `{"errorType": "Guardbots.Rejected", "errorMessage": "no"}`)
			return
		}
		io.WriteString(w, `{"from": "lambda"}`)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	defer srv.Close()

	ex := run(t, aslrun.Job{
		Definition: json.RawMessage(twoTasks),
		Input:      map[string]any{"n": 1},
		Env: []string{"AWS_ENDPOINT_URL_LAMBDA=" + srv.URL, "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"},
	})
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	var out struct {
		From   string `json:"from"`
		Caught struct{ Error, Cause string }
	}
	if err := json.Unmarshal(ex.Output, &out); err != nil {
		t.Fatal(err)
	}
	// The library's own error for a function error: named by errorType, "errorType: errorMessage".
	if out.From != "lambda" || out.Caught.Error != "Guardbots.Rejected" || out.Caught.Cause != "Guardbots.Rejected: no" {
		t.Errorf("output %s", ex.Output)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{`arn:aws:lambda:us-east-1:111122223333:function:first {"n":1}`,
		`arn:aws:lambda:us-east-1:111122223333:function:second {"from":"lambda"}`}
	if !slices.Equal(invoked, want) {
		t.Errorf("invoked\n %q\nwant %q", invoked, want)
	}
}

func TestRun_InvalidDefinitionIsAnError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := tools(t).Run(ctx, aslrun.Job{Definition: json.RawMessage(`{"StartAt": "Nowhere", "States": {}}`), Input: 1})
	if err == nil {
		t.Fatal("an invalid definition ran")
	}
}

// fakeLambda serves Invoke with the function's input, on 127.0.0.1, and counts the connections its
// clients open.
func fakeLambda(t *testing.T) (url string, invokes, conns *atomic.Int64) {
	t.Helper()
	invokes, conns = new(atomic.Int64), new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invokes.Add(1)
		io.Copy(w, r.Body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, invokes, conns
}

// LambdaEnv points a runner at a fake Lambda endpoint with static test credentials.
func lambdaEnv(url string) []string {
	return []string{"AWS_ENDPOINT_URL_LAMBDA=" + url, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
}

// ManyTasks is a Task, then a Map whose 40 iterations each run a Task one after another.
const manyTasks = `{
  "StartAt": "First",
  "States": {
    "First": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111122223333:function:first", "Next": "Each"},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
      "ItemProcessor": {"StartAt": "Inner", "States": {
        "Inner": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111122223333:function:inner", "End": true}}}}
  }
}`

// Issue 19: aws-local-stepfunctions builds a Lambda client per Task and never closes it, so every
// invocation opened a connection that stayed open. The runner's Tasks share one client: 41 invocations
// one after another reuse one connection.
func TestRun_TasksReuseOneConnection(t *testing.T) {
	url, invokes, conns := fakeLambda(t)
	items := make([]int, 40)
	ex := run(t, aslrun.Job{Definition: json.RawMessage(manyTasks), Input: map[string]any{"items": items}, Env: lambdaEnv(url)})
	if ex.Status != "SUCCEEDED" {
		t.Fatalf("execution %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	if invokes.Load() != 41 || conns.Load() > 2 {
		t.Errorf("%d invocations opened %d connections", invokes.Load(), conns.Load())
	}
}

// An execution that never ends is stopped at its timeout, and the error says it was stuck.
func TestRun_StuckExecutionFailsAtItsTimeout(t *testing.T) {
	start := time.Now()
	_, err := tools(t).Run(context.Background(), aslrun.Job{
		Definition: json.RawMessage(`{"StartAt": "Forever", "States": {"Forever": {"Type": "Wait", "Seconds": 3600, "End": true}}}`),
		Input:      1, Timeout: 2 * time.Second,
	})
	if !errors.Is(err, aslrun.ErrStuck) || !strings.Contains(err.Error(), "did not finish within 2s") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
}

// When the caller's context ends with a cause (the stack failed), that cause is the error.
func TestRun_EndedContextsCauseIsTheError(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	failed := errors.New("bootstrap verify (pid 42): exited")
	time.AfterFunc(500*time.Millisecond, func() { cancel(failed) })
	_, err := tools(t).Run(ctx, aslrun.Job{
		Definition: json.RawMessage(`{"StartAt": "Forever", "States": {"Forever": {"Type": "Wait", "Seconds": 3600, "End": true}}}`),
		Input:      1,
	})
	if !errors.Is(err, failed) {
		t.Fatalf("error %v", err)
	}
}
