package route

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/guardbots/guardbots/shared/notify"
)

// Matches evaluates a subscription filter policy (scope MessageAttributes) against a message's attributes
// as SNS does: every key must match (an absent attribute matches only {"exists": false}); a key matches
// when the attribute's value — or, for a String.Array, any element of it — equals one of the listed
// strings or satisfies one of the listed operators (prefix, anything-but, exists); "$or" holds when any
// of its branches does. The emulator matches only String values, so tests use this to show which route
// gets which message. An operator it does not know is an error, not a silent mismatch.
func Matches(policy map[string]any, attrs map[string]notify.Attribute) (bool, error) {
	for key, cond := range policy {
		if key == "$or" {
			branches, ok := cond.([]any)
			if !ok || len(branches) < 2 {
				return false, fmt.Errorf(`"$or" wants a list of at least two policies`)
			}
			held := false
			for _, b := range branches {
				bp, ok := b.(map[string]any)
				if !ok {
					return false, fmt.Errorf(`"$or" branch %v is not a policy`, b)
				}
				m, err := Matches(bp, attrs)
				if err != nil {
					return false, err
				}
				held = held || m
			}
			if !held {
				return false, nil
			}
			continue
		}
		values, ok := cond.([]any)
		if !ok {
			return false, fmt.Errorf("key %q: want a list of values", key)
		}
		a, present := attrs[key]
		elems, err := elements(a, present)
		if err != nil {
			return false, fmt.Errorf("attribute %q: %w", key, err)
		}
		m, err := keyMatches(values, elems, present)
		if err != nil {
			return false, fmt.Errorf("key %q: %w", key, err)
		}
		if !m {
			return false, nil
		}
	}
	return true, nil
}

// elements are the strings an attribute offers to a policy: its value, or each element of a String.Array.
func elements(a notify.Attribute, present bool) ([]string, error) {
	if !present {
		return nil, nil
	}
	switch a.DataType {
	case "String":
		return []string{a.Value}, nil
	case "String.Array":
		var l []any
		if err := json.Unmarshal([]byte(a.Value), &l); err != nil {
			return nil, fmt.Errorf("String.Array value %q is not a JSON array: %w", a.Value, err)
		}
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("data type %q is not filtered on (SNS compares String and String.Array only)", a.DataType)
}

func keyMatches(values []any, elems []string, present bool) (bool, error) {
	for _, v := range values {
		switch v := v.(type) {
		case string:
			if present && slices.Contains(elems, v) {
				return true, nil
			}
		case map[string]any:
			if len(v) != 1 {
				return false, fmt.Errorf("operator object %v: want exactly one operator", v)
			}
			for op, arg := range v {
				m, err := operator(op, arg, elems, present)
				if err != nil || m {
					return m, err
				}
			}
		default:
			return false, fmt.Errorf("value %v: only strings and operator objects are evaluated here", v)
		}
	}
	return false, nil
}

func operator(op string, arg any, elems []string, present bool) (bool, error) {
	switch op {
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return false, fmt.Errorf(`"exists" wants true or false`)
		}
		return b == present, nil
	case "prefix":
		p, ok := arg.(string)
		if !ok {
			return false, fmt.Errorf(`"prefix" wants a string`)
		}
		return present && slices.ContainsFunc(elems, func(e string) bool { return strings.HasPrefix(e, p) }), nil
	case "anything-but":
		var not []string
		switch a := arg.(type) {
		case string:
			not = []string{a}
		case []any:
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return false, fmt.Errorf(`"anything-but" wants strings`)
				}
				not = append(not, s)
			}
		default:
			return false, fmt.Errorf(`"anything-but" wants a string or a list of strings`)
		}
		return present && slices.ContainsFunc(elems, func(e string) bool { return !slices.Contains(not, e) }), nil
	}
	return false, fmt.Errorf("operator %q is not evaluated here", op)
}
