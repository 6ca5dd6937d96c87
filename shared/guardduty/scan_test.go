package guardduty

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson/fastfloat"
)

// decodeString scans s as the content of a JSON string and returns it decoded as the SNS message is.
func decodeString(s string) (string, bool) {
	d := getDoc()
	defer putDoc(d)
	if d.scan([]byte(`"`+s+`"`)) != "" {
		return "", false
	}
	return string(d.root().strict()), true
}

func TestScanString_DecodesAsEncodingJSON(t *testing.T) {
	for _, s := range []string{``, `plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u4e2d`, `\ud83d\ude00 smile`, `\ud83d alone`,
		`end\u0041`, `\udc00\u0041`, `\ud83d\u0041`, `0123456789abcdef\"0123456789abcdef`, "\xff\xfe kept"} {
		want := s
		if utf8.ValidString(s) {
			if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := decodeString(s)
		if !ok || (utf8.ValidString(s) && got != want) {
			t.Errorf("decoding %q = %q, %v; want %q", s, got, ok, want)
		}
	}
	for _, s := range []string{`\`, `\q`, `\u12`, `\u12zz`, `\ud83d\u12zz`, "tab\there", "nul\x00", "line\nbreak", `quote"inside`} {
		if _, ok := decodeString(s); ok {
			t.Errorf("%q accepted; a JSON string cannot hold it", s)
		}
	}
}

func FuzzScanString(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\u00e9`, `\udc00\ud800`, "0123456\\", "01234567\"x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeString(s)
		if want := json.Valid([]byte(`"` + s + `"`)); ok != want {
			t.Fatalf("scanning %q: ok %v, encoding/json says valid %v", s, ok, want)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD; the scanner, like fastjson, keeps the bytes.
		if !ok || !utf8.ValidString(s) {
			return
		}
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil || got != want {
			t.Fatalf("decoding %q = %q; encoding/json gives %q (%v)", s, got, want, err)
		}
	})
}

// specialBytes' lowest flag is the first quote, backslash or control character of the word, whatever the
// word holds (a wrong flag would let a string end early or hide a character JSON forbids).
func FuzzSpecials(f *testing.F) {
	f.Add(uint64(0x2241_5c20_1f80_ff7f))
	f.Add(uint64(0x2222_2222_2222_2222))
	f.Fuzz(func(t *testing.T, w uint64) {
		want := 8
		for i := range 8 {
			if c := byte(w >> (8 * i)); c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		if got := bits.TrailingZeros64(specialBytes(w)) >> 3; got != want {
			t.Fatalf("specialBytes(%#016x): first at %d, want %d", w, got, want)
		}
	})
}

// scanOK reports whether the scanner accepts b.
func scanOK(b []byte) (bool, string) {
	d := getDoc()
	defer putDoc(d)
	r := d.scan(b)
	return r == "", r
}

// depthOf is the deepest nesting of values in a valid document, counted as the scanner counts it (a
// top-level scalar is at depth 1).
func depthOf(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	inObj := []bool{}
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
			inObj = append(inObj, tok == json.Delim('{'))
			expectKey = tok == json.Delim('{')
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			inObj = inObj[:len(inObj)-1]
		default:
			if len(inObj) > 0 && inObj[len(inObj)-1] && expectKey {
				expectKey = false
				continue
			}
			deepest = max(deepest, depth+1)
		}
		expectKey = len(inObj) > 0 && inObj[len(inObj)-1]
	}
}

func TestScan_AcceptsExactlyJSON(t *testing.T) {
	valid := []string{`{}`, `[]`, ` {"a" : [1, -0, 0.5, 1e3, 1E-3, -1.5e+10, true, false, null, "x"]} `, `"s"`, `0`, `-0.0e0`,
		`{"a":{"b":{"c":[[],[{}]]}}}`, "\t\n\r {\"k\":\"\\u0000\"}", `{"a":1,"a":2}`}
	invalid := []string{``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`, `[-]`,
		`[NaN]`, `[nan]`, `[inf]`, `[-Infinity]`, `[1.2.3]`, `[tru]`, `[nul]`, `[True]`, `"\q"`, "\"a\x01\"", `[1] [2]`, `{"a":1}x`,
		`{"a":1 "b":2}`, `["a" "b"]`, `[1:2]`, `{"a",1}`, "\v{}", "{}\f", `{"a":"\u12"}`, `["\`}
	for _, s := range valid {
		if ok, r := scanOK([]byte(s)); !ok || !json.Valid([]byte(s)) {
			t.Errorf("%q refused (%s); it is JSON", s, r)
		}
	}
	for _, s := range invalid {
		if ok, _ := scanOK([]byte(s)); ok || json.Valid([]byte(s)) {
			t.Errorf("%q accepted; it is not JSON", s)
		}
	}
}

// FuzzScan: the scanner accepts exactly what encoding/json's does, bar nesting deeper than maxDepth.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[1e5,-0.1,"\u00e9"]`, `{"a":"b\"c"}`, strings.Repeat("[", 301) + strings.Repeat("]", 301)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ok, reason := scanOK(b)
		valid := json.Valid(b)
		if valid && depthOf(b) > maxDepth {
			if ok || reason != errDepth {
				t.Fatalf("%q nests deeper than %d: ok %v, reason %q", b, maxDepth, ok, reason)
			}
			return
		}
		if ok != valid {
			t.Fatalf("%q: scanner ok %v (%s), encoding/json valid %v", b, ok, reason, valid)
		}
	})
}

// 100,000 nested arrays (and objects) are refused at the depth limit without exhausting any stack, as
// the input, inside the SNS message and inside additionalInfo.value.
func TestScan_DeepNestingIsRefusedNotRecursed(t *testing.T) {
	const n = 100_000
	arrays := strings.Repeat("[", n) + strings.Repeat("]", n)
	objects := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	for name, s := range map[string]string{"arrays": arrays, "objects": objects, "unclosed": strings.Repeat("[", n)} {
		if ok, r := scanOK([]byte(s)); ok || r != errDepth {
			t.Errorf("%s: ok %v, reason %q; want %q", name, ok, r, errDepth)
		}
	}
	// The limit counts as fastjson's did: a value inside 299 containers is accepted, one inside 300 is not.
	at := func(depth int) string { return strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) }
	if ok, r := scanOK([]byte(at(maxDepth))); !ok {
		t.Errorf("a value at depth %d refused: %s", maxDepth, r)
	}
	if ok, _ := scanOK([]byte(at(maxDepth + 1))); ok {
		t.Errorf("a value at depth %d accepted", maxDepth+1)
	}
	if ok, _ := scanOK([]byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth))); !ok {
		t.Errorf("%d empty nested arrays refused", maxDepth)
	}
}

// Numbers read as fastfloat reads them, whichever path reads them.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"0", "-0", "5", "8.5", "-0.0", "10.50", "123456789012345", "1234567890123456", "0.000000000000001",
		"99999999999999999999", "-9223372036854775808", "9223372036854775808", "1e3", "2.5E-3", "1e400", "-1e-400", "0.1", "3.14159265358979"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := getDoc()
		defer putDoc(d)
		if d.scan([]byte(s)) != "" || d.root().typ() != typeNumber {
			return
		}
		v := d.root()
		s = string(d.src[v.tok().start:v.tok().end]) // without the white space around it
		gotF, errF := v.float()
		wantF, wantErrF := fastfloat.Parse(s)
		if fmt.Sprint(gotF) != fmt.Sprint(wantF) || math.Signbit(gotF) != math.Signbit(wantF) || (errF == nil) != (wantErrF == nil) {
			t.Fatalf("float(%q) = %v, %v; fastfloat %v, %v", s, gotF, errF, wantF, wantErrF)
		}
		gotI, errI := v.int()
		wantI, wantErrI := fastfloat.ParseInt64(s)
		if gotI != wantI || (errI == nil) != (wantErrI == nil) {
			t.Fatalf("int(%q) = %v, %v; fastfloat %v, %v", s, gotI, errI, wantI, wantErrI)
		}
	})
}

// listedScan decodes s (a JSON string's content, escaped) as the outer scan does, then scans the
// decoded text twice: with the offsets of its specials the decoding listed, and without.
func listedScan(t *testing.T, s string) {
	outer := getDoc()
	defer putDoc(outer)
	if outer.scan([]byte(`"`+s+`"`)) != "" {
		return
	}
	tk := outer.root().tok()
	text := outer.root().strict()
	var listed []int32
	if tk.esc {
		listed = outer.specials[tk.m : tk.m+tk.q]
	}
	// The list is every quote, backslash and control character of text, in order.
	var want []int32
	for i, c := range text {
		if c == '"' || c == '\\' || c < 0x20 {
			want = append(want, int32(i))
		}
	}
	if tk.esc && fmt.Sprint(listed) != fmt.Sprint(want) {
		t.Fatalf("%q: listed %v, want %v", s, listed, want)
	}
	a, b := getDoc(), getDoc()
	defer putDoc(a)
	defer putDoc(b)
	ra, rb := a.scanListed(text, listed), b.scan(text)
	if (ra == "") != (rb == "") || ra == "" && (fmt.Sprint(a.toks) != fmt.Sprint(b.toks) ||
		fmt.Sprint(a.members) != fmt.Sprint(b.members) || string(a.buf) != string(b.buf)) {
		t.Fatalf("%q: scanned with the list %q %v, without %q %v", text, ra, a.toks, rb, b.toks)
	}
}

// FuzzScanListed: an SNS message scanned with the offsets its decoding listed gives the same tape as
// scanned byte by byte, and the list holds exactly its quotes, backslashes and control characters.
func FuzzScanListed(f *testing.F) {
	for _, s := range []string{`{\"a\":\"b\"}`, `{\n  \"a\": [1, \"x\\\\\"y\", {\"k\\u0000\": null}]\n}`, `[\"\\u0022\", \"\\/\"]`,
		`{\"value\":\"{\\\"sample\\\":true}\"}`, `\"a\\tb\"`, `{\"a\":\"\\ud83d\\ude00\"}`, `{\"\\u0061\":1,\"a\":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { listedScan(t, s) })
}
