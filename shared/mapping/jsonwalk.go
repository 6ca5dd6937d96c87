package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxDepth bounds nesting; a mapping needs four levels (rules[i].actions[j].params.x).
const maxDepth = 32

// scanDocument walks the whole document with a json.Decoder token stream, because encoding/json keeps
// the last of two equal keys silently (and CloudBots' GD_ACTIONS did too, so a pasted document can hide
// a collision). It returns the top-level keys in document order and one problem per duplicate key at
// any depth. A document that is not a single JSON object is a fatal error.
func scanDocument(doc []byte) (keys []string, dups problems, err error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("not JSON: %s", jsonMessage(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("the mapping must be a JSON object, got %s", tokenKind(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("not JSON: %s", jsonMessage(err))
		}
		key := k.(string) // inside an object the decoder only yields string keys
		if seen[key] {
			dups.add(key, "key appears more than once (JSON parsers keep only the last value)")
		}
		seen[key] = true
		keys = append(keys, key)
		if err := walkValue(dec, childPath("", key), 1, &dups); err != nil {
			return nil, nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, fmt.Errorf("not JSON: %s", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("not JSON: unexpected data after the top-level object")
	}
	return keys, dups, nil
}

func walkValue(dec *json.Decoder, path string, depth int, dups *problems) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: nested more than %d levels deep", path, maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %s", jsonMessage(err))
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("not JSON: %s", jsonMessage(err))
			}
			key := k.(string)
			if seen[key] {
				dups.add(path, "duplicate field %q (JSON parsers keep only the last value)", key)
			}
			seen[key] = true
			if err := walkValue(dec, childPath(path, key), depth+1, dups); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, path+"["+strconv.Itoa(i)+"]", depth+1, dups); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("not JSON: %s", jsonMessage(err))
	}
	return nil
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func tokenKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", t)
}

// jsonMessage renders encoding/json errors for people editing a document: with the byte offset of a
// syntax error, and without the Go type names of a type error.
func jsonMessage(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		want := typ.Type.Kind().String()
		switch want {
		case "float64", "int", "int64":
			want = "a number"
		case "string":
			want = "a string"
		case "slice":
			want = "a list"
		case "struct", "map":
			want = "an object"
		}
		if typ.Field != "" {
			return fmt.Sprintf("field %q: want %s, got a JSON %s", typ.Field, want, typ.Value)
		}
		return fmt.Sprintf("want %s, got a JSON %s", want, typ.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of document"
	}
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "json: " {
		msg = msg[6:]
	}
	return msg
}
