package guardduty

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner: one pass over the input that checks it is JSON (RFC 8259, as encoding/json's scanner
// does) and records each value as a token in a flat slice (a "tape"): no value is allocated, nothing
// holds a pointer (so the garbage collector has nothing to scan and no write barrier runs), and a
// container's token says where its subtree ends so a lookup steps over a member's value in one move.
// Strings with escapes are decoded while they are checked, so the SNS message (a whole event escaped
// into one string, an escape every few bytes) is read once. The decoder (decode.go) then looks up only
// the members the finding models.

// jsonType is a JSON value's type; String names it as the rejection messages do.
type jsonType uint8

const (
	typeNull jsonType = iota
	typeObject
	typeArray
	typeString
	typeNumber
	typeTrue
	typeFalse
)

func (t jsonType) String() string {
	return [...]string{"null", "object", "array", "string", "number", "true", "false"}[t]
}

// maxDepth bounds nesting: a value nested inside more than maxDepth-1 containers is refused (the limit
// fastjson had, counted the same way). The scanner keeps its own stack, so no input can exhaust the
// goroutine's.
const maxDepth = 300

// token is one JSON value (or an object member's key) on the tape.
type token struct {
	typ jsonType
	// esc: a string holding escapes; its decoded form is buf[x:y]. surrogate: one of them is a \u escape
	// of a UTF-16 surrogate, which value reads decode as fastjson did (see str).
	esc, surrogate bool
	// start, end: a string's content between its quotes, a number's text, a container's brackets.
	start, end int32
	// x, y: for an object or array, the index of the token after its subtree and its number of members
	// or elements; for a string with escapes, its decoded form buf[x:y].
	x, y int32
}

// doc is one scanned JSON document: the source, its tape and the decoded escaped strings. Docs are
// pooled; nothing handed out of Parse points into one (decoder.keep copies what it keeps).
type doc struct {
	src  []byte
	toks []token
	buf  []byte
	// kbuf decodes one escaped key at a time for a comparison.
	kbuf []byte
	// dup is the first member looked up that its object holds more than once (see get).
	dup struct {
		key string
		at  int
	}
}

var docs = sync.Pool{New: func() any { return &doc{toks: make([]token, 0, 512), buf: make([]byte, 0, 16<<10)} }}

// maxPooledTokens: a doc that grew past this (a large GetFindings response) is left to the collector
// instead of keeping its memory in the pool.
const maxPooledTokens = 64 << 10

func getDoc() *doc { return docs.Get().(*doc) }

func putDoc(d *doc) {
	if cap(d.toks) > maxPooledTokens || cap(d.buf) > 1<<20 {
		return
	}
	d.src = nil
	d.dup.key, d.dup.at = "", 0
	docs.Put(d)
}

// errDepth is the reason given when only the nesting limit is broken (encoding/json, which names every
// other syntax error's position, allows deeper nesting).
var errDepth = fmt.Sprintf("too big depth for the nested JSON; it exceeds %d", maxDepth)

// scan tokenizes src. It returns "" when src is one JSON value (surrounded by whitespace at most), else
// a short reason; syntaxError turns it into the message a person reads.
func (d *doc) scan(src []byte) (reason string) {
	if len(src) >= 1<<31-1 {
		return "input too large"
	}
	d.src, d.toks, d.buf = src, d.toks[:0], d.buf[:0]
	d.dup.key, d.dup.at = "", 0
	// open holds the tape index of each container not yet closed.
	var open [maxDepth]int32
	depth := 0
	n := len(src)
	i := skipWS(src, 0)
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	state := wantValue
	for {
		switch state {
		case wantValue:
			if i >= n {
				return "unexpected end of input"
			}
			if depth >= maxDepth {
				return errDepth
			}
			switch c := src[i]; c {
			case '{', '[':
				t := token{typ: typeObject, start: int32(i)}
				if c == '[' {
					t.typ = typeArray
				}
				open[depth] = int32(len(d.toks))
				depth++
				d.toks = append(d.toks, t)
				i = skipWS(src, i+1)
				if i < n && (c == '{' && src[i] == '}' || c == '[' && src[i] == ']') {
					depth--
					d.close(open[depth], i)
					i++
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
				continue
			case '"':
				var ok bool
				if i, ok = d.str(i); !ok {
					return "invalid string"
				}
			case 't':
				if !lit(src, i, "true") {
					return "invalid literal"
				}
				d.toks = append(d.toks, token{typ: typeTrue, start: int32(i), end: int32(i + 4)})
				i += 4
			case 'f':
				if !lit(src, i, "false") {
					return "invalid literal"
				}
				d.toks = append(d.toks, token{typ: typeFalse, start: int32(i), end: int32(i + 5)})
				i += 5
			case 'n':
				if !lit(src, i, "null") {
					return "invalid literal"
				}
				d.toks = append(d.toks, token{typ: typeNull, start: int32(i), end: int32(i + 4)})
				i += 4
			default:
				j := number(src, i)
				if j < 0 {
					return "invalid number"
				}
				d.toks = append(d.toks, token{typ: typeNumber, start: int32(i), end: int32(j)})
				i = j
			}
			state = afterValue
		case wantKey:
			if i >= n || src[i] != '"' {
				return "expected a string key"
			}
			var ok bool
			if i, ok = d.str(i); !ok {
				return "invalid string key"
			}
			i = skipWS(src, i)
			if i >= n || src[i] != ':' {
				return "expected ':' after a key"
			}
			i = skipWS(src, i+1)
			state = wantValue
		case afterValue:
			i = skipWS(src, i)
			if depth == 0 {
				if i != n {
					return "text after the top-level value"
				}
				return ""
			}
			top := open[depth-1]
			d.toks[top].y++
			if i >= n {
				return "unexpected end of input"
			}
			obj := d.toks[top].typ == typeObject
			switch c := src[i]; {
			case c == ',':
				i = skipWS(src, i+1)
				if obj {
					state = wantKey
				} else {
					state = wantValue
				}
			case obj && c == '}' || !obj && c == ']':
				depth--
				d.close(top, i)
				i++
			default:
				return "expected ',' or a closing bracket"
			}
		}
	}
}

// close ends the container at tape index at, whose closing bracket is at src offset i.
func (d *doc) close(at int32, i int) {
	t := &d.toks[at]
	t.end = int32(i + 1)
	t.x = int32(len(d.toks))
}

// str scans the string whose opening quote is at src[i], appends its token (keys included) and returns
// the offset just past its closing quote.
func (d *doc) str(i int) (int, bool) {
	src := d.src
	j := nextSpecial(src, i+1)
	if j < len(src) && src[j] == '"' {
		d.toks = append(d.toks, token{typ: typeString, start: int32(i + 1), end: int32(j)})
		return j + 1, true
	}
	x := len(d.buf)
	var end int
	var surrogate, ok bool
	d.buf, end, surrogate, ok = unescapeString(d.buf, src, i+1, j)
	if !ok {
		return 0, false
	}
	d.toks = append(d.toks, token{typ: typeString, esc: true, surrogate: surrogate,
		start: int32(i + 1), end: int32(end - 1), x: int32(x), y: int32(len(d.buf))})
	return end, true
}

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func lit(src []byte, i int, word string) bool {
	return len(src)-i >= len(word) && string(src[i:i+len(word)]) == word
}

// number returns the offset just past the JSON number at src[i], or -1 if there is none:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(src []byte, i int) int {
	n := len(src)
	if i < n && src[i] == '-' {
		i++
	}
	switch {
	case i < n && src[i] == '0':
		i++
	case i < n && src[i] >= '1' && src[i] <= '9':
		i = digits(src, i+1)
	default:
		return -1
	}
	if i < n && src[i] == '.' {
		j := digits(src, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		j := digits(src, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(src []byte, i int) int {
	for i < len(src) && src[i] >= '0' && src[i] <= '9' {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// nextSpecial returns the offset of the first byte at or after i that ends a run of plain string
// content — a quote, a backslash or a control character — or len(src). It tests eight bytes at a time
// (SWAR: a byte of x is zero exactly where (x-0x01…)&^x sets its high bit, for the lowest such byte;
// a flag above it may be spurious, so only the lowest is used).
func nextSpecial(src []byte, i int) int {
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		if m := ((q - ones) &^ q) | ((b - ones) &^ b) | ((w - ones*0x20) &^ w); m&highs != 0 {
			return i + bits.TrailingZeros64(m&highs)>>3
		}
	}
	for ; i < len(src); i++ {
		if c := src[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// unescapeString checks and decodes the rest of a JSON string: src[start:i] is plain content and
// src[i] is the first quote, backslash or control character after it. It appends the decoded content
// to dst and returns the offset just past the closing quote; ok is false for an unterminated string,
// a control character or an invalid escape. The decoding is encoding/json's: a UTF-16 surrogate that
// is not half of a pair becomes U+FFFD (surrogate reports that one appeared); other bytes, invalid
// UTF-8 included, are kept as they are.
func unescapeString(dst, src []byte, start, i int) (out []byte, end int, surrogate, ok bool) {
	dst = append(dst, src[start:i]...)
	for {
		if i >= len(src) {
			return dst, 0, surrogate, false
		}
		switch src[i] {
		case '"':
			return dst, i + 1, surrogate, true
		case '\\':
		default:
			return dst, 0, surrogate, false
		}
		if i+1 >= len(src) {
			return dst, 0, surrogate, false
		}
		c := src[i+1]
		i += 2
		switch c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			x, ok := hex4(src[i:])
			if !ok {
				return dst, 0, surrogate, false
			}
			i += 4
			if utf16.IsSurrogate(x) {
				surrogate = true
				dec := utf8.RuneError
				if i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if x2, ok := hex4(src[i+2:]); ok {
						if r := utf16.DecodeRune(x, x2); r != utf8.RuneError {
							dec = r
							i += 6
						}
					}
				}
				x = dec
			}
			dst = utf8.AppendRune(dst, x)
		default:
			return dst, 0, surrogate, false
		}
		j := nextSpecial(src, i)
		dst = append(dst, src[i:j]...)
		i = j
	}
}

// unescapeLoose decodes a checked string's content (every escape valid) as fastjson did, which value
// reads keep: a surrogate escape followed by another \u escape is decoded as a pair with it (U+FFFD
// when they are not one, both consumed); one followed by anything else is kept as its six characters.
func unescapeLoose(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'b':
			e = '\b'
		case 'f':
			e = '\f'
		case 'n':
			e = '\n'
		case 'r':
			e = '\r'
		case 't':
			e = '\t'
		}
		if e != 'u' {
			dst = append(dst, e) // '"', '\\' and '/' stand for themselves
			continue
		}
		x, _ := hex4(s[i:])
		xs := s[i : i+4]
		i += 4
		if !utf16.IsSurrogate(x) {
			dst = utf8.AppendRune(dst, x)
			continue
		}
		if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
			dst = append(append(dst, `\u`...), xs...)
			continue
		}
		x2, _ := hex4(s[i+2:])
		dst = utf8.AppendRune(dst, utf16.DecodeRune(x, x2))
		i += 6
	}
	return dst
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
