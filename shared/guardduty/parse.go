package guardduty

// Decoder choice. Parse scans its input once (scan.go): the scan checks that it is JSON as encoding/json's
// scanner does and records every value as a token in a flat, pooled slice — no value allocated, no
// pointer for the garbage collector — with each object's member names indexed in one short run; the
// decoder (decode.go) then looks up only the members the finding models. Strings with escapes are
// decoded while they are checked, and an SNS message's decoded text is scanned again knowing where its
// quotes and escapes are, so its strings are not searched twice. Pure Go and no unsafe beyond
// decoder.keep's arena, so it runs the same on the arm64 Lambda.
//
// Measured on this 2-core amd64 machine, go1.26, decoding a 9 KB SNS-wrapped EC2 finding (SNS record →
// message string → EventBridge event → the finding's identifiers). Quiet, earlier:
//
//	encoding/json into events.SNSEvent/CloudWatchEvent/Finding   174 µs  128 allocs
//	segmentio/encoding v0.5.4, same structs                       71 µs  124 allocs
//	goccy/go-json v0.12.0, same structs                            25 µs   88 allocs
//	fastjson v1.6.10 parse tree + unescaped SNS message            19 µs    9 allocs (the decoder until issue 18)
//
// The scanner against that fastjson decoder, both in turns in one process on a machine loaded by other
// work (load average 2–11): "fastest" is the fastest batch of each, "mean" the ratio of total times.
//
//	Parse, this scanner                                         1.50–1.55× faster fastest, 1.32–1.44× mean
//	  first version: tape, string ends searched in a function   1.12–1.17× fastest
//	  + tokens written in place, member index per object         1.23–1.34×
//	  + SNS message re-scanned with its quotes' offsets listed   1.49–1.51×
//	parse → transform → match (with steps.Parse no longer
//	  searching every input for the schedule's request)         1.48–1.82× fastest (median 1.76), 1.40–1.76× mean
//	the SNS message's text alone, tokenized vs fastjson's tree  1.46–1.57× with the offsets listed, 1.13× searching
//	the SNS message's decoding, vs the old unescape (which did
//	  not check the string): byte loop (kept)                   0.88–0.91×
//	  eight bytes at a time (SWAR)                              0.73–0.83× (each run's end is a mispredicted branch more)
//	  escapes decoded without branches                          0.43–0.62× (a dependency chain through every byte)
//
// What is left (CPU profile of BenchmarkPipeline): decoding the SNS message 35% (a byte loop at about a
// byte a cycle; its one mispredicted branch per escape is an SNS message's every ten bytes), tokenizing
// 26% (the message's 500 tokens among them), the finding's ~140 lookups and copies 23%, transform and
// match 9%.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/guardbots/guardbots/shared/faults"
)

// MaxInputBytes is the Step Functions payload limit; a larger input could not be passed between states.
const MaxInputBytes = 256 * 1024

// MaxResponseBytes bounds a GetFindings response read back for one finding id (far above any one finding).
const MaxResponseBytes = 4 << 20

// Source is the route a finding arrived by.
type Source string

const (
	// SourceEventBridge is a "GuardDuty Finding" EventBridge event.
	SourceEventBridge Source = "eventbridge"
	// SourceSNS is an SNS Lambda record (the CloudBots route), whatever the message held.
	SourceSNS Source = "sns"
	// SourceDirect is a bare finding (GetFindings output, a test, a replay): the camelCase JSON of the
	// API and of an event's detail, the PascalCase JSON the AWS CLI prints for get-findings, or either
	// response whole ({"findings": [one]} / {"Findings": [one]}).
	SourceDirect Source = "direct"
	// SourceSecurityHub is a Security Hub "Findings - Imported" or "Custom Action" event of a
	// GuardDuty finding, mapped back from ASFF.
	SourceSecurityHub Source = "securityhub"
)

// Parsed is parse's output: a validated GuardDuty finding and how it came.
type Parsed struct {
	Source  Source   `json:"source"`
	Finding *Finding `json:"finding"`
	// Event is the EventBridge envelope (without its detail) when there was one; its account is the
	// GuardDuty administrator's in an organization, so never act on it — act on Finding.AccountID.
	Event *events.CloudWatchEvent `json:"event,omitempty"`
}

// Envelope constants.
const (
	guardDutySource      = "aws.guardduty"
	guardDutyDetailType  = "GuardDuty Finding"
	securityHubSource    = "aws.securityhub"
	securityHubImported  = "Security Hub Findings - Imported"
	securityHubCustomAct = "Security Hub Findings - Custom Action"
)

// Parse unwraps raw into a validated GuardDuty finding. Every rejection is a faults.Rejected error whose
// message names the field at fault.
func Parse(raw []byte) (*Parsed, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, faults.Rejectf("empty input: expected a GuardDuty finding event")
	}
	// Checked before decoding so an oversized input costs nothing.
	if len(raw) > MaxInputBytes {
		return nil, faults.Rejectf("input is %d bytes, over the %d-byte (256 KiB) Step Functions payload limit", len(raw), MaxInputBytes)
	}
	d := getDoc()
	defer putDoc(d)
	if reason := d.scan(raw); reason != "" {
		return nil, faults.Rejectf("input is not JSON: %s", syntaxError(raw, reason))
	}
	v := d.root()
	if v.typ() != typeObject {
		return nil, faults.Rejectf("input is a JSON %s, not an object", v.typ())
	}
	p, err := parseObject(v, "", true)
	// A repeated member is named before anything found reading it: which copy was read is arbitrary.
	if err := d.repeatedErr("input"); err != nil {
		return nil, err
	}
	return p, err
}

// repeatedErr refuses a doc in which a member the decoder read appears twice in one object; what names
// the document ("input", or the SNS message's path).
func (d *doc) repeatedErr(what string) error {
	if d.dup.key == "" {
		return nil
	}
	line, col := position(d.src, d.dup.at)
	of := ""
	if what != "input" {
		of = " of the message"
	}
	return faults.Rejectf("%s has the member %q more than once in one object (again at line %d, column %d (byte %d)%s): which one counts is ambiguous, so it is refused",
		what, clip(d.dup.key, 64), line, col, d.dup.at, of)
}

// parseObject recognises the shape of one JSON object; path names where it sits, for messages.
func parseObject(v value, path string, allowSNS bool) (*Parsed, error) {
	switch {
	case v.get("Records").exists() && allowSNS:
		return parseSNS(v, path)
	case v.get("detail-type").exists() || v.get("source").exists() || v.get("detail").exists():
		return parseEventBridge(v, path)
	case v.get("type").exists() && (v.get("schemaVersion").exists() || v.get("resource").exists()):
		return direct(decodeFinding(v, path, false))
	// The AWS CLI prints the API model's member names: the same finding in PascalCase.
	case v.get("Type").exists() && (v.get("SchemaVersion").exists() || v.get("Resource").exists()):
		return direct(decodeFinding(v, path, true))
	// A whole GetFindings response, as the API returns it or as the CLI prints it.
	case v.get("findings").exists() && v.len() == 1:
		return direct(onlyFinding(v, path, "findings", false))
	case v.get("Findings").exists() && v.len() == 1:
		return direct(onlyFinding(v, path, "Findings", true))
	}
	return nil, faults.Rejectf("%snot an EventBridge event, SNS record, GuardDuty finding or Security Hub event: has keys %s",
		at(path), keyList(v))
}

func direct(f *Finding, err error) (*Parsed, error) {
	if err != nil {
		return nil, err
	}
	return &Parsed{Source: SourceDirect, Finding: f}, nil
}

// onlyFinding decodes the one finding of a GetFindings response given as input: the workflow handles one
// finding per execution, so a response listing several is refused rather than cut down to one.
func onlyFinding(v value, path, key string, pascal bool) (*Finding, error) {
	list := v.get(key)
	arr, ok := list.array()
	if !ok {
		return nil, faults.Rejectf("%s%s is a JSON %s, not the array of a GetFindings response", path, key, list.typ())
	}
	if arr.len() != 1 {
		return nil, faults.Rejectf("%s%s holds %d findings; expected exactly one (the workflow handles one finding per execution: get-findings --finding-ids with one id)", path, key, arr.len())
	}
	if f := arr.head(); f.typ() != typeObject {
		return nil, faults.Rejectf("%s%s[0] is a JSON %s, not a GuardDuty finding", path, key, f.typ())
	}
	return decodeFinding(arr.head(), fmt.Sprintf("%s%s[0].", path, key), pascal)
}

// FindingFromResponse returns the finding with id from a GuardDuty GetFindings response body (the API's
// own camelCase JSON), decoded and validated exactly as an event's detail is; found is false when the
// response does not list it (GuardDuty omits ids it does not hold).
func FindingFromResponse(body []byte, id string) (f *Finding, found bool, err error) {
	if len(body) > MaxResponseBytes {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response is %d bytes, over the %d-byte limit", len(body), MaxResponseBytes))
	}
	d := getDoc()
	defer putDoc(d)
	if reason := d.scan(body); reason != "" {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response is not JSON: %s", syntaxError(body, reason)))
	}
	v := d.root()
	arr, ok := v.get("findings").array()
	if !ok {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response has no findings array (keys %s)", keyList(v)))
	}
	i := -1
	for it := arr.iter(); it.next(); {
		x := it.v
		i++
		if x.typ() != typeObject || string(x.getStr("id")) != id {
			continue
		}
		f, err = decodeFinding(x, fmt.Sprintf("GetFindings findings[%d].", i), false)
		found = true
		break
	}
	// GuardDuty never repeats a member; a response that does is not one to act on.
	if err := d.repeatedErr("GetFindings response"); err != nil {
		return nil, found, faults.Fail(err)
	}
	if err != nil {
		// GuardDuty's own copy failing validation is not the input's fault, but nothing may act on it.
		return nil, true, err
	}
	return f, found, nil
}

func parseSNS(v value, path string) (*Parsed, error) {
	recs := v.get("Records")
	arr, ok := recs.array()
	if !ok {
		return nil, faults.Rejectf("%sRecords is a JSON %s, not an array of SNS records", path, recs.typ())
	}
	if arr.len() != 1 {
		return nil, faults.Rejectf("%sRecords has %d records; expected exactly one (a Lambda subscribed to SNS gets one record per invoke)", path, arr.len())
	}
	rec := arr.head()
	if rec.typ() != typeObject {
		return nil, faults.Rejectf("%sRecords[0] is a JSON %s, not an SNS record", path, rec.typ())
	}
	// Only SNS: an SQS or Kinesis record would carry its payload elsewhere.
	if es := rec.get("EventSource"); es.exists() && string(es.getStr()) != "aws:sns" {
		return nil, faults.Rejectf("%sRecords[0].EventSource is %s; expected \"aws:sns\"", path, quote(es))
	}
	msg := rec.path("Sns", "Message")
	if !msg.exists() {
		return nil, faults.Rejectf("%sRecords[0].Sns.Message is missing: not an SNS Lambda record", path)
	}
	mpath := path + "Records[0].Sns.Message"
	switch msg.typ() {
	case typeString:
		// The scan decoded the message while checking it; it is scanned again as a document of its own,
		// knowing from the decoding where its quotes and escapes are.
		text := msg.strict()
		var listed []int32
		if t := msg.tok(); t.esc {
			listed = msg.d.specials[t.m : t.m+t.q]
		}
		inner := getDoc()
		defer putDoc(inner)
		if reason := inner.scanListed(text, listed); reason != "" {
			return nil, faults.Rejectf("%s is not JSON: %s of the message", mpath, syntaxError(text, reason))
		}
		iv := inner.root()
		if iv.typ() != typeObject {
			return nil, faults.Rejectf("%s is a JSON %s, not an object", mpath, iv.typ())
		}
		pr, err := parseObject(iv, mpath+".", false)
		if err := inner.repeatedErr(mpath); err != nil {
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		pr.Source = SourceSNS
		return pr, nil
	case typeObject:
		pr, err := parseObject(msg, mpath+".", false)
		if err != nil {
			return nil, err
		}
		pr.Source = SourceSNS
		return pr, nil
	}
	return nil, faults.Rejectf("%s is a JSON %s; expected a JSON string or object", mpath, msg.typ())
}

func parseEventBridge(v value, path string) (*Parsed, error) {
	src := v.getStr("source")
	dt := v.getStr("detail-type")
	switch {
	case string(src) == guardDutySource && string(dt) == guardDutyDetailType:
	case string(src) == securityHubSource && (string(dt) == securityHubImported || string(dt) == securityHubCustomAct):
	default:
		return nil, faults.Rejectf("%sEventBridge event has source %s and detail-type %s; expected source %q with detail-type %q, or source %q with %q or %q",
			path, quote(v.get("source")), quote(v.get("detail-type")),
			guardDutySource, guardDutyDetailType, securityHubSource, securityHubImported, securityHubCustomAct)
	}
	detail := v.get("detail")
	if !detail.exists() {
		return nil, faults.Rejectf("%sdetail is missing from the %q event", path, dt)
	}
	if detail.typ() != typeObject {
		return nil, faults.Rejectf("%sdetail of the %q event is a JSON %s, not an object", path, dt, detail.typ())
	}
	ev, err := envelope(v, path)
	if err != nil {
		return nil, err
	}
	if string(src) == securityHubSource {
		f, err := fromSecurityHub(detail, path+"detail.")
		if err != nil {
			return nil, err
		}
		return &Parsed{Source: SourceSecurityHub, Finding: f, Event: ev}, nil
	}
	f, err := decodeFinding(detail, path+"detail.", false)
	if err != nil {
		return nil, err
	}
	return &Parsed{Source: SourceEventBridge, Finding: f, Event: ev}, nil
}

// envelope keeps the EventBridge metadata (bounded like every kept string).
func envelope(v value, path string) (*events.CloudWatchEvent, error) {
	d := decoder{path: path, arena: make([]byte, 0, 256)}
	ev := &events.CloudWatchEvent{
		Version:    d.str(v, "version", maxID),
		ID:         d.str(v, "id", maxID),
		DetailType: d.str(v, "detail-type", maxID),
		Source:     d.str(v, "source", maxID),
		AccountID:  d.str(v, "account", maxID),
		Region:     d.str(v, "region", maxID),
	}
	if t := d.str(v, "time", maxID); t != "" {
		// A malformed envelope time is not worth a rejection: nothing decides on it.
		ev.Time, _ = time.Parse(time.RFC3339, t)
	}
	resources, _ := v.get("resources").array()
	for it := resources.iter(); it.next(); {
		r := it.v
		if len(ev.Resources) == maxList {
			break
		}
		// A value that is not a string is kept as "", as before.
		if b, _ := r.str(); len(b) <= maxARN {
			ev.Resources = append(ev.Resources, string(b))
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return ev, nil
}

// at renders a path prefix for the start of a message.
func at(path string) string {
	if path == "" {
		return ""
	}
	return strings.TrimSuffix(path, ".") + ": "
}

// keyList names an object's keys for a message, sorted, bounded in number and length.
func keyList(v value) string {
	var keys []string
	for k := range v.members() {
		keys = append(keys, clip(string(k), 40))
	}
	if len(keys) == 0 {
		return "none (empty object)"
	}
	slices.Sort(keys)
	more := ""
	if len(keys) > 12 {
		more = fmt.Sprintf(" and %d more", len(keys)-12)
		keys = keys[:12]
	}
	return strings.Join(keys, ", ") + more
}

// quote renders a value for a message: a string quoted and clipped, anything else by its JSON type.
func quote(v value) string {
	if !v.exists() {
		return "(missing)"
	}
	b, ok := v.str()
	if !ok {
		return "a JSON " + v.typ().String()
	}
	return fmt.Sprintf("%q", clip(string(b), 64))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
