package verify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	gdjson "github.com/guardbots/guardbots/shared/guardduty"
)

const detector = "12abc34d567e8fa901bc2d34eexample"

// gdHTTP answers GuardDuty's REST-JSON API (ListDetectors, GetFindings) from raw finding JSON, as the
// client's HTTP transport: the SDK serializes, "sends", and decodes for real, and the body verify reads is
// bytes GuardDuty would send. Nothing leaves the process.
type gdHTTP struct {
	mu        sync.Mutex
	detectors []string
	held      map[string][]byte // finding id → the finding's JSON (camelCase, as GetFindings returns it)
	calls     []string
	requests  []string // GetFindings bodies
	// fail answers the next calls of an operation with an error: status and error type.
	fail map[string][]httpError
}

type httpError struct {
	status int
	code   string
}

func newGD(findings ...[]byte) *gdHTTP {
	g := &gdHTTP{detectors: []string{detector}, held: map[string][]byte{}, fail: map[string][]httpError{}}
	for _, f := range findings {
		var id struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(f, &id); err != nil {
			panic(err)
		}
		g.held[id.ID] = f
	}
	return g
}

func (g *gdHTTP) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	op := "unknown " + r.Method + " " + r.URL.Path
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/detector":
		op = "ListDetectors"
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/detector/") && strings.HasSuffix(r.URL.Path, "/findings/get"):
		op = "GetFindings"
	}
	g.calls = append(g.calls, op)
	if q := g.fail[op]; len(q) > 0 {
		g.fail[op] = q[1:]
		return respond(q[0].status, `{"message":"injected"}`, q[0].code), nil
	}
	switch op {
	case "ListDetectors":
		b, _ := json.Marshal(map[string]any{"detectorIds": g.detectors})
		return respond(200, string(b), ""), nil
	case "GetFindings":
		body, _ := io.ReadAll(r.Body)
		g.requests = append(g.requests, r.URL.Path+" "+string(body))
		var in struct {
			FindingIDs []string `json:"findingIds"`
		}
		_ = json.Unmarshal(body, &in)
		var found []string
		for _, id := range in.FindingIDs {
			if f, ok := g.held[id]; ok {
				found = append(found, string(f))
			}
		}
		return respond(200, `{"findings":[`+strings.Join(found, ",")+`]}`, ""), nil
	}
	return respond(400, `{"message":"not served"}`, "BadRequestException"), nil
}

func respond(status int, body, errType string) *http.Response {
	h := http.Header{"Content-Type": []string{"application/json"}}
	if errType != "" {
		h.Set("X-Amzn-Errortype", errType)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

func (g *gdHTTP) checker(maxAttempts int) *Checker {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		// Never dialled: the transport answers.
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient:   &http.Client{Transport: g},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	return &Checker{Client: func(region string) GuardDutyAPI {
		return guardduty.NewFromConfig(cfg, func(o *guardduty.Options) { o.Region = region })
	}}
}

func (g *gdHTTP) count(op string) int { return countOf(g.calls, op) }

func countOf(calls []string, op string) int {
	n := 0
	for _, c := range calls {
		if c == op {
			n++
		}
	}
	return n
}

// event is the project's EC2 fixture (GuardDuty's MaliciousIPCaller.Custom on an instance) with edits
// applied to its detail, as an EventBridge event.
func event(t *testing.T, edits ...func(d map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", "ec2_malicious_ip_caller_custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	for _, edit := range edits {
		edit(e["detail"].(map[string]any))
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// detail is the event's finding as GetFindings returns it.
func detail(t *testing.T, ev []byte) []byte {
	t.Helper()
	var e struct{ Detail json.RawMessage }
	if err := json.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	return e.Detail
}

// normalized is what parse and transform make of an event: the verify step's input.
func normalized(t *testing.T, ev []byte) *finding.Finding {
	t.Helper()
	p, err := gdjson.Parse(ev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := finding.FromGuardDuty(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func set(path string, v any) func(map[string]any) {
	return func(d map[string]any) {
		keys := strings.Split(path, ".")
		m := d
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}
}

func TestFetch_GenuineFindingIsGuardDutysCopyNormalizedLikeAnyInput(t *testing.T) {
	ev := event(t)
	g := newGD(detail(t, ev))
	in := normalized(t, ev)
	c, err := g.checker(1).Fetch(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if c.DetectorID != detector || c.Region != "us-east-1" {
		t.Errorf("copy from detector %s in %s", c.DetectorID, c.Region)
	}
	want, _ := json.Marshal(in)
	got, _ := json.Marshal(c.Finding)
	if string(got) != string(want) {
		t.Errorf("GuardDuty's copy of an unedited event differs from the event's finding:\n got %s\nwant %s", got, want)
	}
	if len(g.requests) != 1 || !strings.Contains(g.requests[0], "/detector/"+detector+"/findings/get") || !strings.Contains(g.requests[0], `"findingIds":["`+in.ID+`"]`) {
		t.Errorf("GetFindings requests %v", g.requests)
	}
	if d := Differences(in, c.Finding); len(d) != 0 {
		t.Errorf("differences of an unedited event: %v", d)
	}
}

// The attacks of issue 11: the input says one thing, GuardDuty another. Every field a decision or a bot
// reads comes from GuardDuty's copy, and the differences are named for the person reading.
func TestFetch_EveryFieldComesFromGuardDutysCopyNotTheInput(t *testing.T) {
	real := event(t,
		set("severity", 2.0),
		set("service.resourceRole", "ACTOR"),
		set("resource.instanceDetails.iamInstanceProfile.arn", "arn:aws:iam::111122223333:instance-profile/web-app-profile"))
	forged := event(t,
		set("severity", 8.0), // a LOW finding raised to HIGH
		set("service.resourceRole", "TARGET"),
		set("service.action.networkConnectionAction.remoteIpDetails.ipAddressV4", "10.20.0.5"), // the VPC's NAT gateway
		set("resource.instanceDetails.iamInstanceProfile.arn", "arn:aws:iam::111122223333:instance-profile/break-glass"),
		set("service.archived", false))
	c, err := newGD(detail(t, real)).checker(1).Fetch(context.Background(), normalized(t, forged))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Finding
	if f.Severity != 2 || f.SeverityLabel != finding.SeverityLow || f.ResourceRole != "ACTOR" ||
		f.Instance.InstanceProfileArn != "arn:aws:iam::111122223333:instance-profile/web-app-profile" ||
		len(f.Action.RemoteIPs) != 1 || f.Action.RemoteIPs[0].Address == "10.20.0.5" {
		t.Fatalf("the copy carries input values: %+v %+v %+v", f, f.Instance, f.Action)
	}
	diffs := strings.Join(Differences(normalized(t, forged), f), "; ")
	for _, w := range []string{`severity (input "8", GuardDuty "2")`, `resource role (input "TARGET", GuardDuty "ACTOR")`,
		`remote IPs (input "10.20.0.5"`, `instance profile (input "arn:aws:iam::111122223333:instance-profile/break-glass"`} {
		if !strings.Contains(diffs, w) {
			t.Errorf("differences %q do not say %s", diffs, w)
		}
	}
}

func TestFetch_ForgedUserTypeIsGuardDutys(t *testing.T) {
	access := func(userType string) func(map[string]any) {
		return func(d map[string]any) {
			d["type"] = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
			d["resource"] = map[string]any{"resourceType": "AccessKey", "accessKeyDetails": map[string]any{
				"accessKeyId": "ASIAEXAMPLE0000000001", "principalId": "AROAEXAMPLE:i-0abc", "userName": "web-app-role", "userType": userType}}
		}
	}
	real, forged := event(t, access("AssumedRole")), event(t, access("IAMUser"))
	c, err := newGD(detail(t, real)).checker(1).Fetch(context.Background(), normalized(t, forged))
	if err != nil {
		t.Fatal(err)
	}
	if c.Finding.AccessKey.UserType != finding.UserTypeAssumedRole {
		t.Errorf("user type %s, want GuardDuty's AssumedRole", c.Finding.AccessKey.UserType)
	}
}

func TestFetch_FindingGuardDutyDoesNotHoldIsRejected(t *testing.T) {
	g := newGD()
	_, err := g.checker(1).Fetch(context.Background(), normalized(t, event(t)))
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "GuardDuty has no finding a2c4e6f8a0b2c4e6f8a0b2c4e6f8a0b2 on detector "+detector) {
		t.Fatalf("err %v", err)
	}
}

// GuardDuty holds the id, but for another account or region: the input names something else.
func TestFetch_CopyOfAnotherAccountOrRegionIsRejected(t *testing.T) {
	for name, edit := range map[string]func(map[string]any){
		"account": set("accountId", "999988887777"),
		"region":  set("region", "eu-west-1"),
	} {
		_, err := newGD(detail(t, event(t, edit))).checker(1).Fetch(context.Background(), normalized(t, event(t)))
		if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "the input is not this finding") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// GuardDuty's copy goes through the same bounds as any input; a copy that fails them acts on nothing.
func TestFetch_CopyThatFailsValidationActsOnNothing(t *testing.T) {
	bad := event(t, set("service.action.networkConnectionAction.remoteIpDetails.ipAddressV4", "203.0.113.999"))
	_, err := newGD(detail(t, bad)).checker(1).Fetch(context.Background(), normalized(t, event(t)))
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "GuardDuty's copy of finding") ||
		!strings.Contains(err.Error(), "GetFindings findings[0].service.action.networkConnectionAction.remoteIpDetails.ipAddressV4") {
		t.Fatalf("err %v", err)
	}
}

func TestFetch_NoDetectorInTheRegionIsRejectedWithoutGetFindings(t *testing.T) {
	g := newGD(detail(t, event(t)))
	g.detectors = nil
	_, err := g.checker(1).Fetch(context.Background(), normalized(t, event(t)))
	if faults.Classify(err) != faults.Rejected || !strings.Contains(err.Error(), "no GuardDuty detector in us-east-1") || g.count("GetFindings") != 0 {
		t.Fatalf("err %v, calls %v", err, g.calls)
	}
}

func TestFetch_ThrottlingStaysThrottled(t *testing.T) {
	g := newGD(detail(t, event(t)))
	g.fail["GetFindings"] = []httpError{{429, "ThrottlingException"}}
	_, err := g.checker(1).Fetch(context.Background(), normalized(t, event(t)))
	if faults.Classify(err) != faults.Throttled {
		t.Fatalf("err %v classified %s", err, faults.Classify(err))
	}
}

// A retried GetFindings keeps the body of the attempt that succeeded, not of the one that failed.
func TestFetch_RetriedCallReadsTheSuccessfulAttemptsBody(t *testing.T) {
	g := newGD(detail(t, event(t)))
	g.fail["GetFindings"] = []httpError{{503, "InternalServerErrorException"}}
	c, err := g.checker(2).Fetch(context.Background(), normalized(t, event(t)))
	if err != nil || g.count("GetFindings") != 2 || c.Finding == nil {
		t.Fatalf("err %v, calls %v", err, g.calls)
	}
}

func TestFetch_DetectorIsListedOncePerRegion(t *testing.T) {
	g := newGD(detail(t, event(t)))
	c := g.checker(1)
	for range 3 {
		if _, err := c.Fetch(context.Background(), normalized(t, event(t))); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.count("ListDetectors"); n != 1 {
		t.Errorf("ListDetectors called %d times, want 1", n)
	}
}

func TestFetch_RegionThatIsNotARegionIsRejectedBeforeAnyCall(t *testing.T) {
	g := newGD()
	f := normalized(t, event(t))
	f.Region = "evil.example.com/"
	if _, err := g.checker(1).Fetch(context.Background(), f); faults.Classify(err) != faults.Rejected || len(g.calls) != 0 {
		t.Fatalf("err %v, calls %v", err, g.calls)
	}
}

// The Security Hub route names the finding by its GuardDuty id; the copy keeps the route, so closing the
// loop goes back to Security Hub, but everything else is GuardDuty's.
func TestFetch_SecurityHubInputGetsGuardDutysCopyAndKeepsItsRoute(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "finding", "testdata", "events", "envelope_securityhub_imported.json"))
	if err != nil {
		t.Fatal(err)
	}
	in := normalized(t, raw)
	if in.Source != "securityhub" {
		t.Fatalf("fixture source %s", in.Source)
	}
	real := event(t, set("id", in.ID), set("severity", 2.0))
	c, err := newGD(detail(t, real)).checker(1).Fetch(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if c.Finding.Source != "securityhub" || c.Finding.Severity != 2 || c.Finding.ID != in.ID {
		t.Errorf("copy %+v", c.Finding)
	}
}

// A client whose GetFindings ignores the options (so nothing captures the body) must not pass for a
// confirmation.
type deafClient struct{ *guardduty.Client }

func (d deafClient) GetFindings(ctx context.Context, in *guardduty.GetFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.GetFindingsOutput, error) {
	return d.Client.GetFindings(ctx, in)
}

func TestFetch_UncapturedBodyIsAFailureNotAConfirmation(t *testing.T) {
	g := newGD(detail(t, event(t)))
	inner := g.checker(1).Client("us-east-1").(*guardduty.Client)
	c := &Checker{Client: func(string) GuardDutyAPI { return deafClient{inner} }}
	if _, err := c.Fetch(context.Background(), normalized(t, event(t))); faults.Classify(err) != faults.Failed || !strings.Contains(err.Error(), "not captured") {
		t.Fatalf("err %v", err)
	}
}
