package demo

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"github.com/guardbots/guardbots/shared/org"
)

//go:embed organization.json
var organizationDoc []byte

// Organization is the demo organization (organization.json): a sandbox account and a production account
// below a workload OU, each with an owner tag — what the demo mapping's scopes and the routes decide by.
func Organization() []byte { return organizationDoc }

// StandInManagementAccount is the management account the Organizations stand-in's ARNs name.
const StandInManagementAccount = "999999999999"

// orgStandIn serves AWS Organizations (JSON 1.1) from an organization fixture, for match and verify: kumo
// does not serve Organizations. DescribeAccount, ListParents and ListTagsForResource — the three reads the
// management account's delegation policy grants the deciding steps — and ListAccounts; nothing else.
type orgStandIn struct {
	srv     *httptest.Server
	fixture *org.Fixture
	mu      sync.Mutex
	calls   []string
}

func newOrgStandIn(doc []byte) (*orgStandIn, error) {
	f, err := org.ParseFixture(doc)
	if err != nil {
		return nil, fmt.Errorf("demo: Organizations stand-in: %w", err)
	}
	o := &orgStandIn{fixture: f}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve)) // httptest binds 127.0.0.1
	return o, nil
}

const orgTargetPrefix = "AWSOrganizationsV20161128."

func (o *orgStandIn) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), orgTargetPrefix)
	var in map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		orgError(w, "InvalidInputException", err.Error())
		return
	}
	arg := func(k string) string { s, _ := in[k].(string); return s }
	switch op {
	case "DescribeAccount":
		id := arg("AccountId")
		o.record("organizations:DescribeAccount " + id)
		a, ok := o.fixture.Accounts[id]
		if !ok {
			orgError(w, "AccountNotFoundException", "the demo organization has no account "+id)
			return
		}
		writeOrgJSON(w, map[string]any{"Account": o.account(id, a)})
	case "ListParents":
		child := arg("ChildId")
		o.record("organizations:ListParents " + child)
		parent := o.parentOf(child)
		if parent == "" {
			orgError(w, "ChildNotFoundException", "the demo organization has no "+child)
			return
		}
		typ := "ORGANIZATIONAL_UNIT"
		if org.IsRoot(parent) {
			typ = "ROOT"
		}
		writeOrgJSON(w, map[string]any{"Parents": []any{map[string]string{"Id": parent, "Type": typ}}})
	case "ListTagsForResource":
		id := arg("ResourceId")
		o.record("organizations:ListTagsForResource " + id)
		a, ok := o.fixture.Accounts[id]
		if !ok {
			orgError(w, "TargetNotFoundException", "the demo organization has no account "+id)
			return
		}
		tags := []any{}
		for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
			tags = append(tags, map[string]string{"Key": k, "Value": a.Tags[k]})
		}
		writeOrgJSON(w, map[string]any{"Tags": tags})
	case "ListAccounts":
		o.record("organizations:ListAccounts")
		var accounts []any
		for _, id := range slices.Sorted(maps.Keys(o.fixture.Accounts)) {
			accounts = append(accounts, o.account(id, o.fixture.Accounts[id]))
		}
		writeOrgJSON(w, map[string]any{"Accounts": accounts})
	default:
		o.record("organizations:" + op + " (not served)")
		orgError(w, "UnsupportedAPIEndpointException", "the demo's Organizations stand-in serves only DescribeAccount, ListParents, ListTagsForResource and ListAccounts")
	}
}

func (o *orgStandIn) account(id string, a org.FixtureAccount) map[string]any {
	state := a.State
	if state == "" {
		state = org.StateActive
	}
	return map[string]any{"Id": id, "Name": a.Name, "State": state, "Status": state, "Email": id + "@example.com",
		"Arn": fmt.Sprintf("arn:aws:organizations::%s:account/o-demostandin/%s", StandInManagementAccount, id)}
}

// parentOf is the account's or OU's parent in the fixture: the last element of an account's path, the
// element before an OU in any path.
func (o *orgStandIn) parentOf(child string) string {
	if a, ok := o.fixture.Accounts[child]; ok {
		return a.OUPath[len(a.OUPath)-1]
	}
	for _, a := range o.fixture.Accounts {
		if i := slices.Index(a.OUPath, child); i > 0 {
			return a.OUPath[i-1]
		}
	}
	return ""
}

func writeOrgJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func orgError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
}

func (o *orgStandIn) record(call string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, call)
}

// take returns the calls served since the last take.
func (o *orgStandIn) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

func (o *orgStandIn) URL() string { return o.srv.URL }

func (o *orgStandIn) Close() { o.srv.Close() }
