package guardduty

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestUnescapeJSON_MatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{``, `plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u4e2d`, `\ud83d\ude00 smile`, `\ud83d alone`, `end\u0041`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := unescapeJSON(nil, []byte(s))
		if !ok || string(got) != want {
			t.Errorf("unescapeJSON(%q) = %q, %v; want %q", s, got, ok, want)
		}
	}
	for _, s := range []string{`\`, `\q`, `\u12`, `\u12zz`} {
		if _, ok := unescapeJSON(nil, []byte(s)); ok {
			t.Errorf("unescapeJSON(%q) accepted an invalid escape", s)
		}
	}
}

func FuzzUnescapeJSON(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\u00e9`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// encoding/json replaces invalid UTF-8 with U+FFFD; we, like fastjson, keep the bytes.
		if !utf8.ValidString(s) {
			return
		}
		var want string
		errStd := json.Unmarshal([]byte(`"`+s+`"`), &want)
		got, ok := unescapeJSON(nil, []byte(s))
		if errStd == nil && (!ok || string(got) != want) {
			t.Fatalf("unescapeJSON(%q) = %q, %v; encoding/json gives %q", s, got, ok, want)
		}
	})
}
