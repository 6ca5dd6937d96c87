package fastjsonref

// Decoder choice. Parse reads the input with github.com/valyala/fastjson (a parse tree, no reflection,
// pure Go so it is as fast on the arm64 Lambda as on amd64) and copies out only the members we model.
// Measured on this 2-core amd64 machine, decoding a 10 KB SNS-wrapped EC2 finding (SNS record → message
// string → EventBridge event → the finding's identifiers), go1.26:
//
//	encoding/json into events.SNSEvent/CloudWatchEvent/Finding   174 µs  128 allocs
//	segmentio/encoding v0.5.4, same structs                       71 µs  124 allocs
//	goccy/go-json v0.12.0, same structs                            25 µs   88 allocs
//	fastjson v1.6.10 parse tree, pooled parsers                    19 µs    9 allocs
//
// fastjson wins on time and allocations and lets Parse see the raw shape (which keys exist, which are
// not objects) for its rejection messages, so the envelopes are read by hand rather than into the
// aws-lambda-go events structs; Parsed.Event still carries the EventBridge envelope as an
// events.CloudWatchEvent for the steps that want it. On top of fastjson, the SNS message is unescaped
// by unescapeJSON and kept strings share one arena (decoder.keep): 119 → 39 allocs/op.
//
// BenchmarkParseTransform (shared/finding, 9 KB SNS string message, parse + transform): 17.2–18.1 µs/op,
// 39 allocs, 8.3 KB/op on a quiet machine (26–30 µs with the load average at 6–10); transform alone is
// ~2 µs of it. With match, BenchmarkPipeline (shared/steps) is 19.2–19.8 µs.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/valyala/fastjson"

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

var parsers fastjson.ParserPool

// scratch holds the buffers the SNS message is decoded through; the inner parser copies what it keeps.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

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
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, faults.Rejectf("input is not JSON: %s", syntaxError(raw, err))
	}
	if v.Type() != fastjson.TypeObject {
		return nil, faults.Rejectf("input is a JSON %s, not an object", v.Type())
	}
	return parseObject(v, "", true)
}

// parseObject recognises the shape of one JSON object; path names where it sits, for messages.
func parseObject(v *fastjson.Value, path string, allowSNS bool) (*Parsed, error) {
	o := v.GetObject()
	switch {
	case o.Get("Records") != nil && allowSNS:
		return parseSNS(v, path)
	case o.Get("detail-type") != nil || o.Get("source") != nil || o.Get("detail") != nil:
		return parseEventBridge(v, path)
	case o.Get("type") != nil && (o.Get("schemaVersion") != nil || o.Get("resource") != nil):
		return direct(decodeFinding(v, path, false))
	// The AWS CLI prints the API model's member names: the same finding in PascalCase.
	case o.Get("Type") != nil && (o.Get("SchemaVersion") != nil || o.Get("Resource") != nil):
		return direct(decodeFinding(v, path, true))
	// A whole GetFindings response, as the API returns it or as the CLI prints it.
	case o.Get("findings") != nil && o.Len() == 1:
		return direct(onlyFinding(v, path, "findings", false))
	case o.Get("Findings") != nil && o.Len() == 1:
		return direct(onlyFinding(v, path, "Findings", true))
	}
	return nil, faults.Rejectf("%snot an EventBridge event, SNS record, GuardDuty finding or Security Hub event: has keys %s",
		at(path), keyList(o))
}

func direct(f *Finding, err error) (*Parsed, error) {
	if err != nil {
		return nil, err
	}
	return &Parsed{Source: SourceDirect, Finding: f}, nil
}

// onlyFinding decodes the one finding of a GetFindings response given as input: the workflow handles one
// finding per execution, so a response listing several is refused rather than cut down to one.
func onlyFinding(v *fastjson.Value, path, key string, pascal bool) (*Finding, error) {
	list := v.Get(key)
	if list.Type() != fastjson.TypeArray {
		return nil, faults.Rejectf("%s%s is a JSON %s, not the array of a GetFindings response", path, key, list.Type())
	}
	arr, _ := list.Array()
	if len(arr) != 1 {
		return nil, faults.Rejectf("%s%s holds %d findings; expected exactly one (the workflow handles one finding per execution: get-findings --finding-ids with one id)", path, key, len(arr))
	}
	if arr[0].Type() != fastjson.TypeObject {
		return nil, faults.Rejectf("%s%s[0] is a JSON %s, not a GuardDuty finding", path, key, arr[0].Type())
	}
	return decodeFinding(arr[0], fmt.Sprintf("%s%s[0].", path, key), pascal)
}

// FindingFromResponse returns the finding with id from a GuardDuty GetFindings response body (the API's
// own camelCase JSON), decoded and validated exactly as an event's detail is; found is false when the
// response does not list it (GuardDuty omits ids it does not hold).
func FindingFromResponse(body []byte, id string) (f *Finding, found bool, err error) {
	if len(body) > MaxResponseBytes {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response is %d bytes, over the %d-byte limit", len(body), MaxResponseBytes))
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response is not JSON: %s", syntaxError(body, err)))
	}
	list := v.Get("findings")
	if list == nil || list.Type() != fastjson.TypeArray {
		return nil, false, faults.Fail(fmt.Errorf("GetFindings response has no findings array (keys %s)", keyList(v.GetObject())))
	}
	arr, _ := list.Array()
	for i, x := range arr {
		if x.Type() != fastjson.TypeObject || string(x.GetStringBytes("id")) != id {
			continue
		}
		f, err := decodeFinding(x, fmt.Sprintf("GetFindings findings[%d].", i), false)
		if err != nil {
			// GuardDuty's own copy failing validation is not the input's fault, but nothing may act on it.
			return nil, true, err
		}
		return f, true, nil
	}
	return nil, false, nil
}

func parseSNS(v *fastjson.Value, path string) (*Parsed, error) {
	recs := v.Get("Records")
	if recs.Type() != fastjson.TypeArray {
		return nil, faults.Rejectf("%sRecords is a JSON %s, not an array of SNS records", path, recs.Type())
	}
	arr, _ := recs.Array()
	if len(arr) != 1 {
		return nil, faults.Rejectf("%sRecords has %d records; expected exactly one (a Lambda subscribed to SNS gets one record per invoke)", path, len(arr))
	}
	rec := arr[0]
	if rec.Type() != fastjson.TypeObject {
		return nil, faults.Rejectf("%sRecords[0] is a JSON %s, not an SNS record", path, rec.Type())
	}
	// Only SNS: an SQS or Kinesis record would carry its payload elsewhere.
	if es := rec.Get("EventSource"); es != nil && string(es.GetStringBytes()) != "aws:sns" {
		return nil, faults.Rejectf("%sRecords[0].EventSource is %s; expected \"aws:sns\"", path, quote(es))
	}
	msg := rec.Get("Sns", "Message")
	if msg == nil {
		return nil, faults.Rejectf("%sRecords[0].Sns.Message is missing: not an SNS Lambda record", path)
	}
	mpath := path + "Records[0].Sns.Message"
	// MarshalTo before any Type() call: it hands back a string still escaped, which unescapeJSON decodes
	// faster than fastjson would.
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	*buf = msg.MarshalTo((*buf)[:0])
	switch b := *buf; {
	case len(b) >= 2 && b[0] == '"':
		un := scratch.Get().(*[]byte)
		defer scratch.Put(un)
		var ok bool
		if *un, ok = unescapeJSON((*un)[:0], b[1:len(b)-1]); !ok {
			return nil, faults.Rejectf("%s is a JSON string with an invalid escape", mpath)
		}
		p := parsers.Get()
		defer parsers.Put(p)
		inner, err := p.ParseBytes(*un)
		if err != nil {
			return nil, faults.Rejectf("%s is not JSON: %s of the message", mpath, syntaxError(*un, err))
		}
		if inner.Type() != fastjson.TypeObject {
			return nil, faults.Rejectf("%s is a JSON %s, not an object", mpath, inner.Type())
		}
		pr, err := parseObject(inner, mpath+".", false)
		if err != nil {
			return nil, err
		}
		pr.Source = SourceSNS
		return pr, nil
	case msg.Type() == fastjson.TypeObject:
		pr, err := parseObject(msg, mpath+".", false)
		if err != nil {
			return nil, err
		}
		pr.Source = SourceSNS
		return pr, nil
	}
	return nil, faults.Rejectf("%s is a JSON %s; expected a JSON string or object", mpath, msg.Type())
}

func parseEventBridge(v *fastjson.Value, path string) (*Parsed, error) {
	src := string(v.GetStringBytes("source"))
	dt := string(v.GetStringBytes("detail-type"))
	switch {
	case src == guardDutySource && dt == guardDutyDetailType:
	case src == securityHubSource && (dt == securityHubImported || dt == securityHubCustomAct):
	default:
		return nil, faults.Rejectf("%sEventBridge event has source %s and detail-type %s; expected source %q with detail-type %q, or source %q with %q or %q",
			path, quote(v.Get("source")), quote(v.Get("detail-type")),
			guardDutySource, guardDutyDetailType, securityHubSource, securityHubImported, securityHubCustomAct)
	}
	detail := v.Get("detail")
	if detail == nil {
		return nil, faults.Rejectf("%sdetail is missing from the %q event", path, dt)
	}
	if detail.Type() != fastjson.TypeObject {
		return nil, faults.Rejectf("%sdetail of the %q event is a JSON %s, not an object", path, dt, detail.Type())
	}
	ev, err := envelope(v, path)
	if err != nil {
		return nil, err
	}
	if src == securityHubSource {
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
func envelope(v *fastjson.Value, path string) (*events.CloudWatchEvent, error) {
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
	for _, r := range v.GetArray("resources") {
		if len(ev.Resources) == maxList {
			break
		}
		if b := r.GetStringBytes(); len(b) <= maxARN {
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
func keyList(o *fastjson.Object) string {
	var keys []string
	o.Visit(func(k []byte, _ *fastjson.Value) {
		keys = append(keys, clip(string(k), 40))
	})
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
func quote(v *fastjson.Value) string {
	if v == nil {
		return "(missing)"
	}
	if v.Type() != fastjson.TypeString {
		return "a JSON " + v.Type().String()
	}
	return fmt.Sprintf("%q", clip(string(v.GetStringBytes()), 64))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
