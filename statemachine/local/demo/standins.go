package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/guardbots/guardbots/shared/guardduty"
)

// The two stand-ins below serve what kumo v0.33.1 lacks and the safety rails need. Each is narrow,
// bound to 127.0.0.1, answers only the operations named, and records every call so the trace can say
// which step's answer came from a stand-in rather than from the emulator.

// StandInDetector is the detector id the GuardDuty stand-in reports: it shows in verify's decision and
// in the notification ("confirmed by GuardDuty (detector guardbots-demo-stand-in …)"), so nobody reads
// a local confirmation as GuardDuty's.
const StandInDetector = "guardbots-demo-stand-in"

// guardDutyStandIn serves GuardDuty's ListDetectors and GetFindings (REST-JSON) from the findings the
// demo published to it: the finding GuardDuty would hold for an event it sent. A finding it does not
// hold is not returned, as GuardDuty omits unknown ids, so verify rejects it. What it returns is GuardDuty's
// copy as far as the workflow can tell: verify acts on it, not on the event.
type guardDutyStandIn struct {
	srv *httptest.Server
	mu  sync.Mutex
	// held maps finding id → GuardDuty's copy (the finding's camelCase JSON, as GetFindings returns it).
	held  map[string]heldFinding
	calls []string
}

type heldFinding struct {
	json      json.RawMessage
	updatedAt time.Time
}

// Held says what the stand-in did with an execution's finding, for the trace.
type Held struct {
	ID string
	// Stored: the finding was new to the stand-in and is now held, with UpdatedAt stamped. Otherwise it
	// already held the id, and kept its copy (UpdatedAt is that copy's).
	Stored    bool
	UpdatedAt time.Time
}

// String is the trace's line about the finding.
func (h Held) String() string {
	at := h.UpdatedAt.UTC().Format(time.RFC3339)
	if h.Stored {
		return fmt.Sprintf("GuardDuty stand-in: stored finding %s as GuardDuty's copy, updatedAt stamped %s (the time it was stored)", h.ID, at)
	}
	return fmt.Sprintf("GuardDuty stand-in: already holds finding %s (updatedAt %s) and kept its copy: the event's own fields are not what verify reads", h.ID, at)
}

func newGuardDutyStandIn() *guardDutyStandIn {
	g := &guardDutyStandIn{held: map[string]heldFinding{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve)) // httptest binds 127.0.0.1
	return g
}

func (g *guardDutyStandIn) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/detector":
		g.record("guardduty:ListDetectors")
		writeJSON(w, http.StatusOK, map[string]any{"detectorIds": []string{StandInDetector}})
	case r.Method == http.MethodPost && r.URL.Path == "/detector/"+StandInDetector+"/findings/get":
		var in struct {
			FindingIDs []string `json:"findingIds"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"__type": "BadRequestException", "message": err.Error()})
			return
		}
		g.record("guardduty:GetFindings " + strings.Join(in.FindingIDs, ","))
		g.mu.Lock()
		found := []json.RawMessage{}
		for _, id := range in.FindingIDs {
			if f, ok := g.held[id]; ok {
				found = append(found, f.json)
			}
		}
		g.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"findings": found})
	default:
		g.record("guardduty:" + r.Method + " " + r.URL.Path + " (not served)")
		writeJSON(w, http.StatusBadRequest, map[string]string{"__type": "BadRequestException",
			"message": "the demo's GuardDuty stand-in serves only ListDetectors and GetFindings on detector " + StandInDetector})
	}
}

// Hold makes the stand-in hold event's finding, as GuardDuty holds every finding it sends, with updatedAt
// stamped now: GuardDuty's copy is as fresh as the event it just sent. A finding id it already holds keeps
// its copy, whatever the event says: GuardDuty's copy does not change because someone sends an edited
// event, so a replay acts on what the stand-in stored first. The event may be in any envelope parse
// accepts; one parse rejects holds nothing (the workflow rejects it before verify).
func (g *guardDutyStandIn) Hold(event []byte) (Held, error) { return g.HoldAt(event, time.Now()) }

// HoldAt is Hold with updatedAt stamped at (tests hold findings GuardDuty last updated long ago).
func (g *guardDutyStandIn) HoldAt(event []byte, at time.Time) (Held, error) {
	p, err := guardduty.Parse(event)
	if err != nil {
		return Held{}, fmt.Errorf("demo: GuardDuty stand-in: nothing to hold: %w", err)
	}
	id := p.Finding.ID
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, ok := g.held[id]; ok {
		return Held{ID: id, UpdatedAt: h.updatedAt}, nil
	}
	copyJSON, err := gdCopy(event, p, at.UTC())
	if err != nil {
		return Held{}, err
	}
	g.held[id] = heldFinding{json: copyJSON, updatedAt: at.UTC().Truncate(time.Millisecond)}
	return Held{ID: id, Stored: true, UpdatedAt: at.UTC().Truncate(time.Millisecond)}, nil
}

// gdCopy is the finding as GetFindings would return it, updatedAt set to at: an EventBridge event's
// detail verbatim (every member GuardDuty sent), else the parsed finding in GuardDuty's member names.
func gdCopy(event []byte, p *guardduty.Parsed, at time.Time) (json.RawMessage, error) {
	members := map[string]json.RawMessage{}
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	if p.Source != guardduty.SourceEventBridge || json.Unmarshal(event, &e) != nil || json.Unmarshal(e.Detail, &members) != nil {
		b, err := json.Marshal(p.Finding)
		if err == nil {
			members = map[string]json.RawMessage{}
			err = json.Unmarshal(b, &members)
		}
		if err != nil {
			return nil, fmt.Errorf("demo: GuardDuty stand-in: %w", err)
		}
	}
	stamp, _ := json.Marshal(at.Format("2006-01-02T15:04:05.000Z07:00"))
	members["updatedAt"] = stamp
	return json.Marshal(members)
}

// Copy is the finding the stand-in holds for id (GuardDuty's copy), if any.
func (g *guardDutyStandIn) Copy(id string) (json.RawMessage, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.held[id]
	return h.json, ok
}

func (g *guardDutyStandIn) record(call string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
}

// take returns the calls served since the last take.
func (g *guardDutyStandIn) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.calls
	g.calls = nil
	return out
}

func (g *guardDutyStandIn) URL() string { return g.srv.URL }

func (g *guardDutyStandIn) Close() { g.srv.Close() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		if m, ok := v.(map[string]string); ok {
			w.Header().Set("X-Amzn-ErrorType", m["__type"])
		}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// iamShim sits in front of kumo for IAM only. kumo serves roles and users with their tags (GetRole,
// GetUser) but not ListRoleTags or ListUserTags, which the exemption rail reads before a bot acts: the
// shim answers those two from kumo's own GetRole/GetUser, so the tags are kumo's live ones (a TagRole
// after creation counts), and passes every other IAM call through to kumo unchanged.
type iamShim struct {
	srv   *httptest.Server
	kumo  *iam.Client
	mu    sync.Mutex
	calls []string
}

func newIAMShim(kumoURL string, cfg aws.Config) (*iamShim, error) {
	u, err := url.Parse(kumoURL)
	if err != nil {
		return nil, fmt.Errorf("demo: kumo URL %q: %w", kumoURL, err)
	}
	s := &iamShim{kumo: iam.NewFromConfig(cfg)}
	rp := httputil.NewSingleHostReverseProxy(u)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		form, _ := url.ParseQuery(string(body))
		switch action := form.Get("Action"); action {
		case "ListRoleTags", "ListUserTags":
			s.listTags(w, r.Context(), action, form)
		default:
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			rp.ServeHTTP(w, r)
		}
	}))
	return s, nil
}

func (s *iamShim) listTags(w http.ResponseWriter, ctx context.Context, action string, form url.Values) {
	var tags []iamtypes.Tag
	var err error
	name := form.Get("RoleName")
	if action == "ListRoleTags" {
		var out *iam.GetRoleOutput
		if out, err = s.kumo.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); err == nil {
			tags = out.Role.Tags
		}
	} else {
		name = form.Get("UserName")
		var out *iam.GetUserOutput
		if out, err = s.kumo.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)}); err == nil {
			tags = out.User.Tags
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf("iam:%s %s (answered from kumo's %s)", action, name,
		map[bool]string{true: "GetRole", false: "GetUser"}[action == "ListRoleTags"]))
	s.mu.Unlock()
	if err != nil {
		code, status := "ServiceFailure", http.StatusInternalServerError
		if apiCode(err) == "NoSuchEntity" {
			code, status = "NoSuchEntity", http.StatusNotFound
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			Type    string   `xml:"Error>Type"`
			Code    string   `xml:"Error>Code"`
			Message string   `xml:"Error>Message"`
		}{Type: "Sender", Code: code, Message: err.Error()})
		return
	}
	// The Query protocol's reply: <ListRoleTagsResponse><ListRoleTagsResult><Tags><member>…
	var b strings.Builder
	fmt.Fprintf(&b, `<%sResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><%sResult><Tags>`, action, action)
	for _, t := range tags {
		b.WriteString("<member><Key>")
		_ = xml.EscapeText(&b, []byte(aws.ToString(t.Key)))
		b.WriteString("</Key><Value>")
		_ = xml.EscapeText(&b, []byte(aws.ToString(t.Value)))
		b.WriteString("</Value></member>")
	}
	fmt.Fprintf(&b, `</Tags><IsTruncated>false</IsTruncated></%sResult><ResponseMetadata><RequestId>demo-iam-shim</RequestId></ResponseMetadata></%sResponse>`, action, action)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, b.String())
}

// take returns the calls the shim answered itself since the last take.
func (s *iamShim) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.calls
	s.calls = nil
	return out
}

func (s *iamShim) URL() string { return s.srv.URL }

func (s *iamShim) Close() { s.srv.Close() }
