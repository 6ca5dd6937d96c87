package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Invoke is one Lambda invocation as the state machine made it, timed at kumo's Lambda API.
type Invoke struct {
	Function string
	Start    time.Time
	Duration time.Duration
	Input    json.RawMessage
	Output   json.RawMessage
	// ErrorType is the handler's errorType when the function failed (X-Amz-Function-Error set).
	ErrorType string
	// Status is the HTTP status of the Invoke call itself (not 200: the Lambda API refused it).
	Status int
}

// invokeProxy sits between aws-local-stepfunctions and kumo's Lambda API and records each Invoke:
// aslrun's event log carries no timestamps, and the Task's input and output are what a trace shows.
// It also turns the function ARN in the path into the name, which is all kumo resolves.
type invokeProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []Invoke
	// fail holds, per function, error types to answer its next invokes with (Options.InvokeErrors).
	fail map[string][]string
	// transport is the proxy's own connection pool to kumo.
	transport *http.Transport
}

// idleTimeout is how long the proxy keeps an idle client connection. Its clients (the SDK for
// JavaScript in the Node runners) reuse theirs; one that abandons a connection instead gets it closed
// here rather than holding a descriptor on each side for good (issue 19). The Keep-Alive header
// tells Node's agent, which then closes its idle sockets a second earlier itself, before the
// server's close can race a new request on them.
const idleTimeout = 5 * time.Second

// newInvokeProxy starts the proxy to kumo at target. onServeError is told of errors the server itself
// meets (accepting a connection: too many open files), which no request would report.
func newInvokeProxy(target string, fail map[string][]string, onServeError func(error)) (*invokeProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("demo: kumo URL %q: %w", target, err)
	}
	p := &invokeProxy{fail: map[string][]string{}}
	for fn, errs := range fail {
		p.fail[fn] = append([]string(nil), errs...)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// Its own pool to kumo, as large as the executions in flight: the default transport keeps two idle
	// connections per host, so eight concurrent invokes opened (and closed) six new ones each time.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.IdleConnTimeout = 30 * time.Second
	rp.Transport = tr
	// A failed forward is the invoke's answer (502, with the reason), not a log line: the caller reports it,
	// and a client that went away (the run stopped) needs neither.
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			http.Error(w, "demo Lambda API proxy: "+err.Error(), http.StatusBadGateway)
		}
	}
	// httptest binds 127.0.0.1.
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", fmt.Sprintf("timeout=%d", int(idleTimeout/time.Second)))
		fn, ok := invokedFunction(r.URL.Path)
		if !ok {
			rp.ServeHTTP(w, r)
			return
		}
		// kumo looks functions up by name only; Lambda itself accepts the function ARN the definition
		// names, so the ARN is shortened here.
		r.URL.Path = "/2015-03-31/functions/" + url.PathEscape(fn) + "/invocations"
		r.URL.RawPath = ""
		if errType, ok := p.injected(fn); ok {
			body, _ := json.Marshal(map[string]string{"errorType": errType, "errorMessage": "injected by the demo's Lambda API proxy"})
			p.record(Invoke{Function: fn, Start: time.Now(), Output: body, ErrorType: errType, Status: http.StatusOK})
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_, _ = w.Write(body)
			return
		}
		in, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(in))
		r.ContentLength = int64(len(in))
		rec := httptest.NewRecorder()
		start := time.Now()
		rp.ServeHTTP(rec, r)
		inv := Invoke{Function: fn, Start: start, Duration: time.Since(start), Input: jsonOrString(in),
			Output: jsonOrString(rec.Body.Bytes()), Status: rec.Code}
		if rec.Header().Get("X-Amz-Function-Error") != "" {
			var e struct {
				Type string `json:"errorType"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			inv.ErrorType = e.Type
			if inv.ErrorType == "" {
				inv.ErrorType = "Unhandled"
			}
		}
		p.record(inv)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	p.srv.Config.IdleTimeout = idleTimeout
	p.srv.Config.ReadHeaderTimeout = 10 * time.Second
	p.srv.Config.ErrorLog = log.New(serveErrors(onServeError), "", 0)
	p.transport = tr
	p.srv.Start()
	return p, nil
}

// serveErrors turns the lines net/http logs for a server into calls of report, for the ones that say
// the server cannot serve: an accept failing (too many open files) is retried forever with only a log
// line, which is how the stack once hung.
type serveErrors func(error)

func (f serveErrors) Write(b []byte) (int, error) {
	line := strings.TrimSpace(string(b))
	if f != nil && strings.Contains(line, "Accept error") {
		f(errors.New(line))
	}
	return len(b), nil
}

func (p *invokeProxy) record(inv Invoke) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, inv)
}

func (p *invokeProxy) injected(fn string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.fail[fn]
	if len(q) == 0 {
		return "", false
	}
	p.fail[fn] = q[1:]
	return q[0], true
}

func (p *invokeProxy) URL() string { return p.srv.URL }

// Close stops the proxy. Client connections are closed first, in-flight invokes included: their
// requests to kumo are cancelled with them, so Close cannot wait on an invoke no bootstrap will answer.
func (p *invokeProxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.transport.CloseIdleConnections()
}

// take returns the invocations recorded since the last take.
func (p *invokeProxy) take() []Invoke {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log
	p.log = nil
	return out
}

// invokedFunction is the function name of a Lambda Invoke path (/2015-03-31/functions/<name or ARN>/invocations).
func invokedFunction(path string) (string, bool) {
	const prefix = "/2015-03-31/functions/"
	if !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, "/invocations") {
		return "", false
	}
	fn, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, prefix), "/invocations"))
	if err != nil {
		return "", false
	}
	if i := strings.LastIndex(fn, ":function:"); i >= 0 {
		fn = fn[i+len(":function:"):]
	}
	return fn, true
}

func jsonOrString(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(bytes.Clone(b))
	}
	q, _ := json.Marshal(string(b))
	return q
}
