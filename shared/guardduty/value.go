package guardduty

import (
	"bytes"
	"iter"

	"github.com/valyala/fastjson/fastfloat"
)

// value is one value of a scanned doc; the zero value is an absent one (a member that is not there).
type value struct {
	d *doc
	i int32
}

func (d *doc) root() value { return value{d, 0} }

func (v value) exists() bool { return v.d != nil }

func (v value) tok() *token { return &v.d.toks[v.i] }

// typ is the value's JSON type; an absent value reads as null (callers check exists first where the
// difference matters).
func (v value) typ() jsonType {
	if v.d == nil {
		return typeNull
	}
	return v.tok().typ
}

// after is the tape index just past value i and everything inside it.
func (d *doc) after(i int32) int32 {
	if t := &d.toks[i]; t.typ == typeObject || t.typ == typeArray {
		return t.x
	}
	return i + 1
}

// get returns the object member called key (its name decoded), or an absent value when v is not an
// object or has no such member. A member looked up that the object holds twice is ambiguous — which
// one a reader takes differs between JSON parsers, and fastjson's own choice depended on earlier
// lookups when one of the names was escaped — so the first is returned and the repetition recorded
// in d.dup; Parse refuses the input for it.
func (v value) get(key string) value {
	if v.d == nil {
		return value{}
	}
	d := v.d
	t := &d.toks[v.i]
	if t.typ != typeObject {
		return value{}
	}
	var found value
	want := sig(key)
	for _, m := range d.members[t.m : t.m+t.y] {
		if m.sig != want && m.sig != 0 {
			continue
		}
		if k := &d.toks[m.key]; k.esc && !d.keyIs(m.key, key) || !k.esc && string(d.src[k.start:k.end]) != key {
			continue
		}
		if found.d != nil {
			d.repeated(m.key, key)
			break
		}
		found = value{d, m.key + 1}
	}
	return found
}

// path follows keys through nested objects.
func (v value) path(keys ...string) value {
	for _, k := range keys {
		v = v.get(k)
	}
	return v
}

func (d *doc) keyIs(k int32, key string) bool {
	t := &d.toks[k]
	if !t.esc {
		return string(d.src[t.start:t.end]) == key
	}
	return string(d.key(t)) == key
}

// key is a member name, decoded.
func (d *doc) key(t *token) []byte {
	if !t.esc {
		return d.src[t.start:t.end]
	}
	if !t.surrogate {
		return d.buf[t.x:t.y]
	}
	d.kbuf = unescapeLoose(d.kbuf[:0], d.src[t.start:t.end])
	return d.kbuf
}

func (d *doc) repeated(k int32, key string) {
	if d.dup.key == "" {
		d.dup.key, d.dup.at = key, int(d.toks[k].start)-1
	}
}

// str is a string value's content, decoded; ok is false for any other type.
func (v value) str() (b []byte, ok bool) {
	if v.d == nil {
		return nil, false
	}
	d := v.d
	t := &d.toks[v.i]
	switch {
	case t.typ != typeString:
		return nil, false
	case !t.esc:
		return d.src[t.start:t.end], true
	case !t.surrogate:
		return d.buf[t.x:t.y], true
	}
	start := len(d.buf)
	d.buf = unescapeLoose(d.buf, d.src[t.start:t.end])
	return d.buf[start:], true
}

// strict is a string value decoded as encoding/json decodes it (a lone surrogate is U+FFFD): how the
// SNS message is read.
func (v value) strict() []byte {
	t := v.tok()
	if !t.esc {
		return v.d.src[t.start:t.end]
	}
	return v.d.buf[t.x:t.y]
}

// getStr is the string member at keys, or nil.
func (v value) getStr(keys ...string) []byte {
	b, _ := v.path(keys...).str()
	return b
}

// float and int read a number as fastjson did (fastfloat), so severities and counts come out as before.
// A number of at most 15 digits and no exponent (a severity, a count, a port) is read here with the
// same arithmetic fastfloat uses for it, exact at that length, without its string copy.
func (v value) float() (float64, error) {
	t := v.tok()
	b := v.d.src[t.start:t.end]
	if d, frac, minus, ok := short(b); ok {
		f := float64(d) / pow10[frac]
		if minus {
			f = -f
		}
		return f, nil
	}
	return fastfloat.Parse(string(b))
}

func (v value) int() (int64, error) {
	t := v.tok()
	b := v.d.src[t.start:t.end]
	if d, frac, minus, ok := short(b); ok && frac == 0 && !bytes.ContainsRune(b, '.') {
		if minus {
			return -int64(d), nil
		}
		return int64(d), nil
	}
	return fastfloat.ParseInt64(string(b))
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// short reads a checked JSON number of at most 15 digits and no exponent: its digits as an integer d
// and how many of them follow the point.
func short(b []byte) (d uint64, frac int, minus, ok bool) {
	if len(b) > 0 && b[0] == '-' {
		minus, b = true, b[1:]
	}
	digits, point := 0, -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			d = d*10 + uint64(c-'0')
			digits++
		case c == '.':
			point = i
		default:
			return 0, 0, false, false // an exponent
		}
	}
	if digits > 15 {
		return 0, 0, false, false
	}
	if point >= 0 {
		frac = len(b) - point - 1
	}
	return d, frac, minus, true
}

// list is an array's elements.
type list struct {
	d        *doc
	first, n int32
}

// array returns v's elements; ok is false when v is not an array.
func (v value) array() (l list, ok bool) {
	if v.typ() != typeArray {
		return list{}, false
	}
	return list{v.d, v.i + 1, v.tok().y}, true
}

func (l list) len() int { return int(l.n) }

// iter steps through the elements: for it := l.iter(); it.next(); { use it.v }. (A range-over-func
// iterator would do, but its loop bodies, closures inside the decoder's closures, were heap-allocated.)
func (l list) iter() cursor { return cursor{d: l.d, at: l.first, left: l.n} }

type cursor struct {
	d        *doc
	at, left int32
	v        value
}

func (c *cursor) next() bool {
	if c.left == 0 {
		return false
	}
	c.v = value{c.d, c.at}
	c.at = c.d.after(c.at)
	c.left--
	return true
}

// head is the first element (the list is not empty).
func (l list) head() value { return value{l.d, l.first} }

// members yields an object's members in order, names decoded; a repeated name is yielded each time.
func (v value) members() iter.Seq2[[]byte, value] {
	return func(yield func([]byte, value) bool) {
		if v.typ() != typeObject {
			return
		}
		d := v.d
		t := v.tok()
		for _, m := range d.members[t.m : t.m+t.y] {
			name := d.key(&d.toks[m.key])
			if d.toks[m.key].surrogate {
				// d.key decoded it into kbuf, which the next lookup reuses: give the caller its own copy.
				start := len(d.buf)
				d.buf = append(d.buf, name...)
				name = d.buf[start:]
			}
			if !yield(name, value{d, m.key + 1}) {
				return
			}
		}
	}
}

// len is an object's number of members (repeated names counted) or an array's elements.
func (v value) len() int {
	if t := v.typ(); t != typeObject && t != typeArray {
		return 0
	}
	return int(v.tok().y)
}

// repeatedNames records in d.dup the first name obj holds twice: for objects whose every member is read
// (affectedResources, ASFF Tags), where a repeated name is as ambiguous as a repeated looked-up member.
func (d *doc) repeatedNames(obj value) {
	var backing [16][]byte
	names := backing[:0]
	for name, v := range obj.members() {
		for _, seen := range names {
			if string(seen) == string(name) {
				d.repeated(v.i-1, string(name))
				return
			}
		}
		names = append(names, name)
	}
}
