package fastjsonref

import (
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// unescapeJSON appends the decoded content of a JSON string body (no quotes) to dst. An SNS message is a
// whole event escaped into a string (an escape every few bytes); fastjson's unescape appends byte by
// byte and was a third of the parse time, so this writes into a buffer grown once (a decoded string is
// never longer than its escaped form). ok is false on an invalid escape.
func unescapeJSON(dst, src []byte) (out []byte, ok bool) {
	base := len(dst)
	out = slices.Grow(dst, len(src))[:base+len(src)]
	w := base
	for r := 0; r < len(src); {
		c := src[r]
		if c != '\\' {
			out[w] = c
			w++
			r++
			continue
		}
		if r+1 >= len(src) {
			return out[:w], false
		}
		c = src[r+1]
		r += 2
		switch c {
		case '"', '\\', '/':
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
			x, ok := hex4(src[r:])
			if !ok {
				return out[:w], false
			}
			r += 4
			if utf16.IsSurrogate(x) {
				// A high surrogate must be followed by \uDC00–\uDFFF; otherwise it decodes to U+FFFD.
				dec := utf8.RuneError
				if r+6 <= len(src) && src[r] == '\\' && src[r+1] == 'u' {
					if x2, ok := hex4(src[r+2:]); ok {
						if d := utf16.DecodeRune(x, x2); d != utf8.RuneError {
							dec = d
							r += 6
						}
					}
				}
				x = dec
			}
			w += utf8.EncodeRune(out[w:], x)
			continue
		default:
			return out[:w], false
		}
		out[w] = c
		w++
	}
	return out[:w], true
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
