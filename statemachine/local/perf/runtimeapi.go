// Package perf measures the Lambda bootstraps the way the Lambda service runs them: each process is
// started against a Runtime API on 127.0.0.1 and timed from its start to its first request (cold start),
// per invocation (warm), and by its peak resident memory.
package perf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RuntimeAPI is a minimal Lambda Runtime API: it hands out the invocations queued with Invoke and
// records when the process first asked for one.
type RuntimeAPI struct {
	srv *httptest.Server

	mu        sync.Mutex
	firstNext time.Time
	// atFirstNext runs when the first poll arrives, before it is answered.
	atFirstNext func()
	queue       chan invocation
	results     map[string]chan result
	seq         int
}

type invocation struct {
	id      string
	payload []byte
}

type result struct {
	body    []byte
	errored bool
}

// NewRuntimeAPI starts the API on 127.0.0.1.
func NewRuntimeAPI() *RuntimeAPI {
	r := &RuntimeAPI{queue: make(chan invocation, 1), results: map[string]chan result{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (r *RuntimeAPI) Addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// Close stops the API.
func (r *RuntimeAPI) Close() { r.srv.Close() }

// FirstNext is when the process first asked for an invocation (zero if it has not).
func (r *RuntimeAPI) FirstNext() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstNext
}

// Invoke hands payload to the process and waits for its response; errored is true for a handler error.
func (r *RuntimeAPI) Invoke(ctx context.Context, payload []byte) (body []byte, errored bool, err error) {
	r.mu.Lock()
	r.seq++
	id := "req-" + strconv.Itoa(r.seq)
	ch := make(chan result, 1)
	r.results[id] = ch
	r.mu.Unlock()
	select {
	case r.queue <- invocation{id: id, payload: payload}:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	select {
	case res := <-ch:
		return res.body, res.errored, nil
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
}

func (r *RuntimeAPI) serve(w http.ResponseWriter, req *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(req.URL.Path, prefix)
	switch {
	case req.Method == http.MethodGet && path == "invocation/next":
		r.mu.Lock()
		first := r.firstNext.IsZero()
		if first {
			r.firstNext = time.Now()
		}
		hook := r.atFirstNext
		r.mu.Unlock()
		if first && hook != nil {
			hook() // the process waits for this answer: it uses no CPU meanwhile
		}
		select {
		case inv := <-r.queue:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111122223333:function:perf")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-req.Context().Done():
		}
	case req.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		ch := r.results[id]
		delete(r.results, id)
		r.mu.Unlock()
		if ch != nil {
			ch <- result{body: bytes.Clone(body), errored: kind == "error"}
		}
		w.WriteHeader(http.StatusAccepted)
	case req.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(req.Body)
		http.Error(w, fmt.Sprintf("init error: %s", body), http.StatusInternalServerError)
	default:
		http.NotFound(w, req)
	}
}
