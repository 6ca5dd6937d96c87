package plan

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/steps"
)

func TestEncode_IsLengthPrefixedFieldsInAFixedOrderStartingWithTheVersion(t *testing.T) {
	f := Fields{
		FindingID: "f1", Execution: "arn:x", Index: 12, Bot: "b", Mode: "AUTO", OnError: "stop", MappingKey: "k",
		Params: []byte(`{}`), Member: []byte(`{"index":1}`), SignedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	f.FindingDigest[0], f.FindingDigest[31] = 0xaa, 0xbb
	var want bytes.Buffer
	for _, p := range []string{"guardbots.plan.v2", "f1", string(f.FindingDigest[:]), "arn:x", "12", "b", "AUTO", "stop", "k", "{}", `{"index":1}`, "2026-01-02T03:04:05Z"} {
		want.Write([]byte{0, 0, byte(len(p) >> 8), byte(len(p))})
		want.WriteString(p)
	}
	if got := f.Encode(); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("encoding\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want.Bytes()))
	}
}

// Moving a boundary between two fields (what a delimiter-joined encoding would not notice) changes the
// encoding, and so does every single field.
func TestEncode_NoTwoDifferentFieldSetsEncodeAlike(t *testing.T) {
	base := Fields{FindingID: "ab", Execution: "c", Index: 1, Bot: "b", Mode: "AUTO", OnError: "continue", MappingKey: "k",
		Params: []byte(`{"a":1}`), SignedAt: time.Unix(1_800_000_000, 0)}
	variants := map[string]func(*Fields){
		"boundary id|execution":  func(f *Fields) { f.FindingID, f.Execution = "a", "bc" },
		"boundary bot|mode":      func(f *Fields) { f.Bot, f.Mode = "bA", "UTO" },
		"finding id":             func(f *Fields) { f.FindingID = "ax" },
		"finding digest":         func(f *Fields) { f.FindingDigest[5] = 1 },
		"execution":              func(f *Fields) { f.Execution = "d" },
		"index":                  func(f *Fields) { f.Index = 11 },
		"bot":                    func(f *Fields) { f.Bot = "c" },
		"mode":                   func(f *Fields) { f.Mode = "DRYRUN" },
		"onError":                func(f *Fields) { f.OnError = "stop" },
		"mapping key":            func(f *Fields) { f.MappingKey = "" },
		"params":                 func(f *Fields) { f.Params = []byte(`{"a":2}`) },
		"member":                 func(f *Fields) { f.Member = []byte(`{"index":0}`) },
		"boundary params|member": func(f *Fields) { f.Params, f.Member = []byte(`{"a"`), []byte(`:1}`) },
		"signed at":              func(f *Fields) { f.SignedAt = f.SignedAt.Add(time.Second) },
	}
	seen := map[string]string{string(base.Encode()): "base"}
	for name, edit := range variants {
		f := base
		edit(&f)
		enc := string(f.Encode())
		if other, dup := seen[enc]; dup {
			t.Errorf("%s encodes like %s", name, other)
		}
		seen[enc] = name
		if f.Digest() == base.Digest() {
			t.Errorf("%s: same digest", name)
		}
	}
}

// fixtureFindings are the project's own events, transformed.
func fixtureFindings(t *testing.T) map[string]*finding.Finding {
	t.Helper()
	dir := filepath.Join("..", "finding", "testdata", "events")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*finding.Finding{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "reject_") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p, err := steps.Parse(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		tr, err := steps.Transform(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = tr.Finding
	}
	if len(out) < 15 {
		t.Fatalf("only %d fixture findings", len(out))
	}
	return out
}

// reserialize writes JSON as another JSON implementation might (Step Functions passes the finding on as
// its own rendering): object keys in reverse order, every fraction in exponent form, every string's
// non-ASCII and '/' escaped, indented.
func reserialize(t *testing.T, b []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var write func(v any, indent string)
	write = func(v any, indent string) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			slices.Reverse(keys)
			out.WriteString("{\n")
			for i, k := range keys {
				out.WriteString(indent + "  ")
				write(k, indent+"  ")
				out.WriteString(" : ")
				write(x[k], indent+"  ")
				if i < len(keys)-1 {
					out.WriteString(",")
				}
				out.WriteString("\n")
			}
			out.WriteString(indent + "}")
		case []any:
			out.WriteString("[ ")
			for i, e := range x {
				if i > 0 {
					out.WriteString(" , ")
				}
				write(e, indent)
			}
			out.WriteString(" ]")
		case json.Number:
			if _, err := x.Int64(); err == nil {
				out.WriteString(x.String()) // an integer stays one: a JSON processor keeps 3 as 3
				break
			}
			f, err := x.Float64()
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString(strconv.FormatFloat(f, 'e', -1, 64))
		case string:
			out.WriteByte('"')
			for _, r := range x {
				switch {
				case r == '"' || r == '\\':
					out.WriteString(`\` + string(r))
				case r < 0x20 || r > 0x7e || r == '/':
					if r > 0xffff {
						r1, r2 := (r-0x10000)>>10+0xd800, (r-0x10000)&0x3ff+0xdc00
						out.WriteString(`\u` + strconv.FormatInt(int64(r1), 16) + `\u` + strconv.FormatInt(int64(r2), 16))
					} else {
						s := strconv.FormatInt(int64(r), 16)
						out.WriteString(`\u` + strings.Repeat("0", 4-len(s)) + s)
					}
				default:
					out.WriteRune(r)
				}
			}
			out.WriteByte('"')
		default:
			b, _ := json.Marshal(x)
			out.Write(b)
		}
	}
	write(v, "")
	return out.Bytes()
}

// What a bot decodes from Step Functions' rendering of verify's output digests as verify's did: the
// signature survives the trip through the state machine, for every fixture finding.
func TestFindingDigest_SurvivesAnotherJSONRenderingOfTheSameFinding(t *testing.T) {
	for name, f := range fixtureFindings(t) {
		want, err := FindingDigest(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		other := reserialize(t, b)
		if bytes.Equal(other, b) {
			t.Fatalf("%s: the re-rendering changed nothing", name)
		}
		var got finding.Finding
		if err := json.Unmarshal(other, &got); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, other)
		}
		if d, _ := FindingDigest(&got); d != want {
			t.Errorf("%s: digest changed through a re-rendering of the same JSON", name)
		}
	}
}

// encoding/json rewrites invalid UTF-8 when it encodes: verify digests the finding as the bot will
// decode it, not the bytes it happened to hold.
func TestFindingDigest_IsTheDecodedFindingsEvenWithInvalidUTF8(t *testing.T) {
	f := &finding.Finding{ID: "f1", Title: "bad \xff byte", Instance: &finding.Instance{ID: "i-1", Tags: map[string]string{"k": "\xfe"}}}
	want, err := FindingDigest(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f)
	var got finding.Finding
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if d, _ := FindingDigest(&got); d != want {
		t.Error("the bot's decoded finding digests differently from verify's")
	}
}

// Any value a bot could act on changes the digest.
func TestFindingDigest_ChangesWithEveryValueABotActsOn(t *testing.T) {
	base := func() *finding.Finding {
		return &finding.Finding{ID: "f1", Type: "T", Severity: 5, AccountID: "111122223333", Region: "us-east-1", Partition: "aws",
			ResourceKind: finding.KindInstance, ResourceRole: "ACTOR",
			Action:   &finding.Action{RemoteIPs: []finding.RemoteIP{{Address: "198.51.100.7"}}},
			Instance: &finding.Instance{ID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/p"},
			Buckets:  []finding.Bucket{{Name: "b1"}}}
	}
	d0, _ := FindingDigest(base())
	for name, edit := range map[string]func(*finding.Finding){
		"id":        func(f *finding.Finding) { f.ID = "f2" },
		"severity":  func(f *finding.Finding) { f.Severity = 5.1 },
		"account":   func(f *finding.Finding) { f.AccountID = "444455556666" },
		"region":    func(f *finding.Finding) { f.Region = "eu-west-1" },
		"role":      func(f *finding.Finding) { f.ResourceRole = "TARGET" },
		"remote IP": func(f *finding.Finding) { f.Action.RemoteIPs[0].Address = "10.0.0.1" },
		"instance":  func(f *finding.Finding) { f.Instance.ID = "i-0fedcba9876543210" },
		"profile":   func(f *finding.Finding) { f.Instance.InstanceProfileArn = "" },
		"bucket":    func(f *finding.Finding) { f.Buckets = append(f.Buckets, finding.Bucket{Name: "b2"}) },
		"archived":  func(f *finding.Finding) { f.Archived = true },
	} {
		f := base()
		edit(f)
		if d, _ := FindingDigest(f); d == d0 {
			t.Errorf("%s: digest unchanged", name)
		}
	}
}

func TestCanonicalParams_AreTheValidatedParametersWithSortedKeys(t *testing.T) {
	a, err := CanonicalParams("ec2_block_remote_ip", map[string]any{"maxRemoteIps": "7"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := CanonicalParams("ec2_block_remote_ip", map[string]any{"maxRemoteIps": 7.0})
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != `{"maxRemoteIps":7}` || !bytes.Equal(a, b) {
		t.Errorf("got %s and %s", a, b)
	}
	// The default is what the bot acts with, so it is what is signed.
	if d, _ := CanonicalParams("ec2_block_remote_ip", nil); string(d) != `{"maxRemoteIps":5}` {
		t.Errorf("default: %s", d)
	}
	if _, err := CanonicalParams("ec2_block_remote_ip", map[string]any{"maxRemoteIps": 7, "extra": true}); err == nil {
		t.Error("an unknown parameter was accepted")
	}
	if _, err := CanonicalParams("no_such_bot", nil); err == nil {
		t.Error("an unknown bot was accepted")
	}
	if _, ok := bots.Lookup("ec2_block_remote_ip"); !ok {
		t.Fatal("registry not linked")
	}
}

// testAction is a signed-plan subject for the tests.
func testAction(execution string) Action {
	return Action{
		Finding: &finding.Finding{ID: "7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
			AccountID: "111122223333", Region: "us-east-1", Partition: "aws", Severity: 5, ResourceKind: finding.KindInstance,
			Instance: &finding.Instance{ID: "i-0123456789abcdef0"}},
		Execution: execution, Index: 1, MappingKey: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
		Action: mapping.Action{Bot: "ec2_stop_instance", Params: map[string]any{"force": false}, OnError: mapping.Continue, Mode: "AUTO"},
	}
}
