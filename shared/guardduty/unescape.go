package guardduty

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// unescapeJSON appends the decoded content of a JSON string body (no quotes) to dst. It copies the runs
// between backslashes in one go: an SNS message is a whole event escaped into a string, ~1 escape per
// 8 bytes, and fastjson's byte-at-a-time unescape was a third of the parse time. ok is false on an
// invalid escape.
func unescapeJSON(dst, src []byte) (out []byte, ok bool) {
	for {
		i := bytes.IndexByte(src, '\\')
		if i < 0 {
			return append(dst, src...), true
		}
		dst = append(dst, src[:i]...)
		if i+1 >= len(src) {
			return dst, false
		}
		c := src[i+1]
		src = src[i+2:]
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
			r, ok := hex4(src)
			if !ok {
				return dst, false
			}
			src = src[4:]
			if utf16.IsSurrogate(r) {
				// A high surrogate must be followed by \uDC00–\uDFFF; otherwise it decodes to U+FFFD.
				if len(src) >= 6 && src[0] == '\\' && src[1] == 'u' {
					if r2, ok := hex4(src[2:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							src = src[6:]
							dst = utf8.AppendRune(dst, dec)
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
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
