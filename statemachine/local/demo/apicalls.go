package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// APICall is one AWS API request a bootstrap made, as the counting proxy in front of kumo saw it
// (Options.CountAPICalls): the cost model counts them per remediation.
type APICall struct {
	// Function is the bootstrap that made the call (its SDK user agent's app id).
	Function string
	// Service is the SigV4 signing name (dynamodb, sns, ec2, ssm, …), Operation the API action.
	Service, Operation string
	// Table is the DynamoDB table a request names.
	Table string
	// ItemBytes is, for a DynamoDB PutItem or UpdateItem, the size of the written attributes in
	// DynamoDB's item-size terms (names plus values); 0 otherwise.
	ItemBytes int
}

// apiCounter forwards every request to kumo unchanged and records what it was.
type apiCounter struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []APICall
}

func newAPICounter(target string) (*apiCounter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("demo: kumo URL %q: %w", target, err)
	}
	c := &apiCounter{}
	rp := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if firstAttempt(r) {
			c.record(describeCall(r, body))
		}
		rp.ServeHTTP(w, r)
	}))
	return c, nil
}

// firstAttempt: the SDK's retry of a request it already sent (amz-sdk-request "attempt=2; max=3") is
// the same call, so the cost model counts it once; a retry is a fault of this loaded machine (a kept-
// alive connection the server had just closed), not a call a remediation makes.
func firstAttempt(r *http.Request) bool {
	m := attemptRE.FindStringSubmatch(r.Header.Get("Amz-Sdk-Request"))
	return m == nil || m[1] == "1"
}

func (c *apiCounter) record(call APICall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, call)
}

// take returns the calls recorded since the last take.
func (c *apiCounter) take() []APICall {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.log
	c.log = nil
	return out
}

func (c *apiCounter) URL() string { return c.srv.URL }

func (c *apiCounter) Close() { c.srv.Close() }

var (
	scopeRE = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)
	appRE   = regexp.MustCompile(`\bapp/([A-Za-z0-9_.-]+)`)
	// attemptRE reads the SDK's attempt counter (amz-sdk-request: attempt=1; max=3).
	attemptRE = regexp.MustCompile(`\battempt=(\d+)`)
)

// describeCall names a request: the service from the SigV4 credential scope, the operation from the
// JSON protocols' X-Amz-Target or the query protocols' Action (REST protocols: method and path).
func describeCall(r *http.Request, body []byte) APICall {
	var c APICall
	if m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.Service = m[1]
	}
	if m := appRE.FindStringSubmatch(r.Header.Get("User-Agent")); m != nil {
		c.Function = m[1]
	}
	switch target := r.Header.Get("X-Amz-Target"); {
	case target != "":
		c.Operation = target[strings.LastIndex(target, ".")+1:]
	default:
		form, _ := url.ParseQuery(string(body))
		c.Operation = form.Get("Action")
		if c.Operation == "" {
			// A REST protocol (S3, GuardDuty, Lambda): the method and the query's sub-resource.
			c.Operation = r.Method + " " + strings.Join(slices.Sorted(maps.Keys(r.URL.Query())), "&")
		}
	}
	if c.Service == "dynamodb" {
		c.Table, c.ItemBytes = dynamoWrite(c.Operation, body)
	}
	return c
}

// dynamoWrite reads a DynamoDB request's table and, for PutItem and UpdateItem, the size of what it
// writes: the item (PutItem) or the key plus the update's values (UpdateItem; the stored item may be
// larger, which the write units of a counter item under 1 KB do not change).
func dynamoWrite(op string, body []byte) (string, int) {
	var req struct {
		TableName                 string                     `json:"TableName"`
		Item                      map[string]json.RawMessage `json:"Item"`
		Key                       map[string]json.RawMessage `json:"Key"`
		ExpressionAttributeValues map[string]json.RawMessage `json:"ExpressionAttributeValues"`
	}
	if json.Unmarshal(body, &req) != nil {
		return "", 0
	}
	switch op {
	case "PutItem":
		return req.TableName, ItemSize(req.Item)
	case "UpdateItem":
		return req.TableName, ItemSize(req.Key) + ItemSize(req.ExpressionAttributeValues)
	}
	return req.TableName, 0
}

// ItemSize is an item's size as DynamoDB bills it: each attribute's name plus its value — a string's
// or binary's bytes, a number's about (digits/2)+1, a boolean or null 1, a list or map 3 plus its
// elements (a map's element names included).
func ItemSize(attrs map[string]json.RawMessage) int {
	n := 0
	for name, v := range attrs {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(raw json.RawMessage) int {
	var v map[string]json.RawMessage
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	for typ, val := range v {
		switch typ {
		case "S", "B":
			var s string
			_ = json.Unmarshal(val, &s)
			return len(s)
		case "N":
			var s string
			_ = json.Unmarshal(val, &s)
			return len(strings.TrimLeft(s, "-0"))/2 + 1
		case "BOOL", "NULL":
			return 1
		case "SS", "NS", "BS":
			var ss []string
			_ = json.Unmarshal(val, &ss)
			n := 0
			for _, s := range ss {
				n += len(s)
			}
			return n
		case "L":
			var l []json.RawMessage
			_ = json.Unmarshal(val, &l)
			n := 3
			for _, e := range l {
				n += 1 + valueSize(e)
			}
			return n
		case "M":
			var m map[string]json.RawMessage
			_ = json.Unmarshal(val, &m)
			return 3 + ItemSize(m) + len(m)
		}
	}
	return 0
}
