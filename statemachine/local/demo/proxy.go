package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
}

func newInvokeProxy(target string, fail map[string][]string) (*invokeProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("demo: kumo URL %q: %w", target, err)
	}
	p := &invokeProxy{fail: map[string][]string{}}
	for fn, errs := range fail {
		p.fail[fn] = append([]string(nil), errs...)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	// httptest binds 127.0.0.1.
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	return p, nil
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

func (p *invokeProxy) Close() { p.srv.Close() }

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
