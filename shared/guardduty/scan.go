package guardduty

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner: one pass over the input that checks it is JSON (RFC 8259, as encoding/json's scanner
// does) and records each value as a token in a flat slice (a "tape"): no value is allocated, nothing
// holds a pointer (so the garbage collector has nothing to scan and no write barrier runs), a
// container's token says where its subtree ends (an array's elements are stepped through with it), and
// each object's member names are indexed in one short run (member). Strings with escapes are decoded
// while they are checked, listing where the decoded text has quotes, backslashes and control
// characters, so the SNS message (a whole event escaped into one string, an escape every few bytes) is
// decoded once and its text tokenized without searching its strings again. The decoder (decode.go)
// then looks up only the members the finding models.

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

// token is one JSON value (or an object member's name) on the tape.
type token struct {
	typ jsonType
	// esc: a string holding escapes; its decoded form is buf[x:y], and the offsets in it of every quote,
	// backslash and control character (all of which came from escapes) are specials[m:m+q]: an SNS
	// message is scanned again with that list (scanListed). surrogate: one escape is a \u escape of a
	// UTF-16 surrogate, which value reads decode as fastjson did (see str).
	esc, surrogate bool
	// start, end: a string's content between its quotes, a number's text, a container's brackets.
	start, end int32
	// x, y: for an object or array, the index of the token after its subtree and its number of members
	// or elements; for a string with escapes, its decoded form buf[x:y].
	x, y int32
	// m: an object's members are members[m : m+y]; see esc for a string's m and q.
	m, q int32
	_    int32 // to 32 bytes, aligned like the pooled tape: measured ~3% faster than 28 on an SNS message
}

// member indexes one object member, so a lookup reads the names of an object from one short run of
// memory instead of stepping over each member's value on the tape.
type member struct {
	// sig sums up the decoded name (see sig); 0 for a name with a surrogate escape, compared in full.
	sig uint32
	// key is the name's token; the value's is key+1.
	key int32
}

// doc is one scanned JSON document: the source, its tape, its objects' member index and the decoded
// escaped strings. Docs are pooled; nothing handed out of Parse points into one (decoder.keep copies
// what it keeps).
type doc struct {
	src     []byte
	toks    []token
	members []member
	// pend holds, while scanning, the members of the objects not yet closed.
	pend []member
	buf  []byte
	// specials: see token.esc.
	specials []int32
	// kbuf decodes one escaped name at a time for a comparison.
	kbuf []byte
	// dup is the first member looked up that its object holds more than once (see get).
	dup struct {
		key string
		at  int
	}
}

var docs = sync.Pool{New: func() any {
	return &doc{toks: make([]token, 0, 512), members: make([]member, 0, 256), pend: make([]member, 0, 64),
		buf: make([]byte, 0, 16<<10), specials: make([]int32, 0, 1024)}
}}

// maxPooled: a doc that grew past this many tokens (a large GetFindings response, a hostile input of
// 256 KiB of [0,0,…]) is left to the collector instead of keeping its memory in the pool.
const maxPooled = 64 << 10

func getDoc() *doc { return docs.Get().(*doc) }

func putDoc(d *doc) {
	if cap(d.toks) > maxPooled || cap(d.members) > maxPooled || cap(d.pend) > maxPooled ||
		cap(d.specials) > 4*maxPooled || cap(d.buf) > 1<<20 {
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
	return d.scanListed(src, nil)
}

// scanListed is scan of text whose quotes, backslashes and control characters are all at the offsets
// listed, in order (the decoded form of a string with escapes, such as an SNS message: see token.esc).
// A string's end, or its first escape, is then the next offset listed, found without reading its
// content. listed nil is scan.
func (d *doc) scanListed(src []byte, listed []int32) (reason string) {
	if len(src) >= 1<<31-1 {
		return "input too large"
	}
	d.src = src
	d.dup.key, d.dup.at = "", 0
	t := tape{toks: d.toks[:0], members: d.members[:0], pend: d.pend[:0], buf: d.buf[:0], specials: d.specials[:0]}
	reason = t.run(src, listed)
	d.toks, d.members, d.pend, d.buf, d.specials = t.toks, t.members, t.pend, t.buf, t.specials
	return reason
}

// tape is what scan builds, held apart from doc while it runs (the loop works on a local).
type tape struct {
	toks     []token
	members  []member
	pend     []member
	buf      []byte
	specials []int32
}

func (t *tape) run(src []byte, listed []int32) string {
	// open holds the tape index of each container not yet closed, pendAt where its members start in pend.
	var open, pendAt [maxDepth]int32
	depth := 0
	n := len(src)
	// The tape is appended to through a local (kept in registers); t.toks is synced around the rare calls
	// that append too.
	toks := t.toks
	i := skipWS(src, 0)
	// name: the string at i is an object member's name.
	name := false
	for {
		if i >= n {
			t.toks = toks
			return "unexpected end of input"
		}
		c := src[i]
		switch {
		case c == '"':
			// A string, scanned here rather than in a function: most are names and short values, and
			// two calls each were a fifth of the scan. The plain run is searched eight bytes at a time.
			j := i + 1
			if listed != nil {
				// The quote is listed (after the white space between values, checked by this loop),
				// and the next offset listed is where the content ends or its first escape is: the
				// content needs no reading.
				for len(listed) > 0 && int(listed[0]) < i {
					listed = listed[1:]
				}
				if len(listed) < 2 || int(listed[0]) != i {
					t.toks = toks
					return "invalid string"
				}
				j, listed = int(listed[1]), listed[1:]
			}
			for listed == nil && j+8 <= n {
				if m := specialBytes(binary.LittleEndian.Uint64(src[j:])); m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					break
				}
				j += 8
			}
			for listed == nil && j < n && src[j] != '"' && src[j] != '\\' && src[j] >= 0x20 {
				j++
			}
			if j < n && src[j] == '"' {
				if len(toks) == cap(toks) {
					toks = slices.Grow(toks, 1)
				}
				toks = toks[:len(toks)+1]
				toks[len(toks)-1] = token{typ: typeString, start: int32(i + 1), end: int32(j)}
				i = j + 1
				if listed != nil {
					listed = listed[1:]
				}
			} else {
				t.toks = toks
				end, ok := t.escaped(src, i, j)
				toks = t.toks
				if !ok {
					return "invalid string"
				}
				i = end
				for len(listed) > 0 && int(listed[0]) < end {
					listed = listed[1:]
				}
			}
			if name {
				name = false
				k := len(toks) - 1
				var sg uint32
				if kt := &toks[k]; !kt.esc {
					sg = sig(src[kt.start:kt.end])
				} else {
					sg = t.nameSig(src, kt)
				}
				t.pend = append(t.pend, member{sig: sg, key: int32(k)})
				if i < n && src[i] <= ' ' {
					i = skipWS(src, i)
				}
				if i >= n || src[i] != ':' {
					t.toks = toks
					return "expected ':' after a key"
				}
				if i++; i < n && src[i] <= ' ' {
					i = skipWS(src, i)
				}
				continue
			}
		case name:
			t.toks = toks
			return "expected a string key"
		case c == '{' || c == '[':
			typ := typeObject
			if c == '[' {
				typ = typeArray
			}
			open[depth], pendAt[depth] = int32(len(toks)), int32(len(t.pend))
			depth++
			if len(toks) == cap(toks) {
				toks = slices.Grow(toks, 1)
			}
			toks = toks[:len(toks)+1]
			toks[len(toks)-1] = token{typ: typ, start: int32(i)}
			if i++; i < n && src[i] <= ' ' {
				i = skipWS(src, i)
			}
			if i < n && (c == '{' && src[i] == '}' || c == '[' && src[i] == ']') {
				depth--
				t.toks = toks
				t.close(open[depth], pendAt[depth], i)
				i++
				break // to the value's end
			}
			// Its members or elements would nest deeper than allowed.
			if depth >= maxDepth {
				t.toks = toks
				return errDepth
			}
			name = c == '{'
			continue
		default:
			var typ jsonType
			var j int
			switch {
			case c == 't' && lit(src, i, "true"):
				typ, j = typeTrue, i+4
			case c == 'f' && lit(src, i, "false"):
				typ, j = typeFalse, i+5
			case c == 'n' && lit(src, i, "null"):
				typ, j = typeNull, i+4
			default:
				if j = number(src, i); j < 0 {
					t.toks = toks
					return "invalid value"
				}
				typ = typeNumber
			}
			if len(toks) == cap(toks) {
				toks = slices.Grow(toks, 1)
			}
			toks = toks[:len(toks)+1]
			toks[len(toks)-1] = token{typ: typ, start: int32(i), end: int32(j)}
			i = j
		}
		// A value ended: what follows depends on the container it is in. Closing brackets repeat here.
		for {
			if i < n && src[i] <= ' ' {
				i = skipWS(src, i)
			}
			if depth == 0 {
				t.toks = toks
				if i != n {
					return "text after the top-level value"
				}
				return ""
			}
			if i >= n {
				t.toks = toks
				return "unexpected end of input"
			}
			top := open[depth-1]
			obj := toks[top].typ == typeObject
			c := src[i]
			if c == ',' {
				if i++; i < n && src[i] <= ' ' {
					i = skipWS(src, i)
				}
				if !obj {
					toks[top].y++
				}
				name = obj
				break
			}
			if c != '}' && c != ']' || (c == '}') != obj {
				t.toks = toks
				return "expected ',' or a closing bracket"
			}
			depth--
			t.toks = toks
			t.close(top, pendAt[depth], i)
			i++
		}
	}
}

// close ends the container at tape index at, whose closing bracket is src[i]; an object's members move
// from pend (from pendAt on) to the member index.
func (t *tape) close(at, pendAt int32, i int) {
	k := &t.toks[at]
	k.end, k.x = int32(i+1), int32(len(t.toks))
	if k.typ == typeObject {
		k.m, k.y = int32(len(t.members)), int32(len(t.pend))-pendAt
		t.members = append(t.members, t.pend[pendAt:]...)
		t.pend = t.pend[:pendAt]
	} else if k.x > at+1 {
		k.y++ // the last element (commas counted the others)
	}
}

// escaped finishes a string with escapes whose opening quote is src[i] and whose first escape (or
// invalid byte) is src[j], appends its token and returns the offset just past its closing quote.
func (t *tape) escaped(src []byte, i, j int) (int, bool) {
	x, m := len(t.buf), len(t.specials)
	u := unescaper{out: t.buf, specials: t.specials}
	end, ok := u.string(src, i+1, j)
	t.buf, t.specials = u.out, u.specials
	if !ok {
		return 0, false
	}
	t.toks = append(t.toks, token{typ: typeString, esc: true, surrogate: u.surrogate,
		start: int32(i + 1), end: int32(end - 1), x: int32(x), y: int32(len(t.buf)), m: int32(m), q: int32(len(t.specials) - m)})
	return end, true
}

// nameSig is sig of the name n, decoded; 0 when it holds a surrogate escape.
func (t *tape) nameSig(src []byte, n *token) uint32 {
	switch {
	case !n.esc:
		return sig(src[n.start:n.end])
	case !n.surrogate && n.y > n.x:
		return sig(t.buf[n.x:n.y])
	}
	return 0
}

// sig sums up a name (its length, first, middle and last bytes) so a lookup compares a member's name
// in full only when the sums agree: names of one object rarely share all four.
func sig[T string | []byte](k T) uint32 {
	if len(k) == 0 {
		return 1 << 31 // not 0, which stands for "compare in full"
	}
	return uint32(len(k))<<24 | uint32(k[0])<<16 | uint32(k[len(k)/2])<<8 | uint32(k[len(k)-1])
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

// specialBytes flags (with its high bit) each byte of w that is a quote, a backslash or below 0x20; only
// the lowest flag is exact (SWAR: a byte of x is zero exactly where (x-0x01…)&^x sets its high bit for
// the lowest such byte, and a borrow can set it spuriously only above that one).
func specialBytes(w uint64) uint64 {
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (w-ones*0x20)&^w) & highs
}

// unescaper decodes strings with escapes.
type unescaper struct {
	out []byte
	// specials gets the offset in the string's decoded form of each quote, backslash and control
	// character decoded (only escapes make them).
	specials []int32
	// surrogate: a \u escape of a UTF-16 surrogate was decoded.
	surrogate bool
}

// string checks and decodes the rest of a JSON string: src[start:i] is plain content and src[i] is the
// first quote, backslash or control character after it. It appends the decoded content to u.out and
// returns the offset just past the closing quote; ok is false for an unterminated string, a control
// character or an invalid escape. The decoding is encoding/json's: a UTF-16 surrogate that is not half
// of a pair becomes U+FFFD; other bytes, invalid UTF-8 included, are kept as they are.
//
// An SNS message is a whole event escaped into one string, an escape every ten bytes or so, so the runs
// between escapes are copied eight bytes at a time while they are searched (the bytes past a run's end
// are written too, then overwritten): out gets room for the rest of src, which the decoded string
// cannot outgrow, and eight bytes more.
func (u *unescaper) string(src []byte, start, i int) (end int, ok bool) {
	if room := len(src) - start + 8; cap(u.out)-len(u.out) < room {
		u.out = slices.Grow(u.out, room)
	}
	// Locals, not u's fields, in the loop: they stay in registers.
	base := len(u.out)
	out, specials, w := u.out[:cap(u.out)], u.specials, base
	w += copy(out[w:], src[start:i])
loop:
	for i < len(src) {
		c := src[i]
		if !special[c] {
			// Plain content, copied a byte at a time: runs between the escapes of an SNS message are
			// short, and this branch is mispredicted only where a run ends (eight bytes at a time, or
			// a loop per run, measured slower here).
			out[w] = c
			w++
			i++
			continue
		}
		switch {
		case c == '\\' && i+1 < len(src) && src[i+1] == '"':
			// Nearly every escape of an SNS message.
			specials = append(specials, int32(w-base))
			out[w] = '"'
			w++
			i += 2
			continue
		case c == '"':
			end, ok = i+1, true
			break loop
		case c != '\\' || i+1 >= len(src):
			break loop // a control character, or unterminated
		}
		c = src[i+1]
		i += 2
		switch c {
		case '\\':
		case '/':
			out[w] = c
			w++
			continue // not special
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			x, ok := hex4(src[i:])
			if !ok {
				break loop
			}
			i += 4
			if utf16.IsSurrogate(x) {
				u.surrogate = true
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
			if x < utf8.RuneSelf && special[x] {
				specials = append(specials, int32(w-base))
			}
			// Six escaped bytes always make room for the at most four a rune takes.
			w += utf8.EncodeRune(out[w:], x)
			continue
		default:
			break loop
		}
		specials = append(specials, int32(w-base))
		out[w] = c
		w++
	}
	u.out, u.specials = out[:w], specials
	return end, ok
}

// special marks the bytes that end a run of plain string content.
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

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
