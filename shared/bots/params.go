package bots

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParamType is the type of a bot parameter.
type ParamType string

const (
	TypeString   ParamType = "string"
	TypeInt      ParamType = "int"
	TypeBool     ParamType = "bool"
	TypeDuration ParamType = "duration" // Go duration syntax: "15m", "1h"
	TypeStrings  ParamType = "strings"  // a list of strings
)

// Param declares one parameter of a bot.
type Param struct {
	Name        string
	Type        ParamType
	Description string
	Required    bool
	// Default is used when the mapping does not set the parameter; it must be of Type.
	Default any
	// Enum, when set, lists the allowed values of a string parameter.
	Enum []string
	// Min and Max bound an int parameter (ignored when both are zero).
	Min, Max int
}

// Params are validated parameter values: string, int, bool, time.Duration or []string by Param.Type.
type Params map[string]any

func (p Params) String(name string) string          { s, _ := p[name].(string); return s }
func (p Params) Int(name string) int                { i, _ := p[name].(int); return i }
func (p Params) Bool(name string) bool              { b, _ := p[name].(bool); return b }
func (p Params) Duration(name string) time.Duration { d, _ := p[name].(time.Duration); return d }
func (p Params) Strings(name string) []string       { s, _ := p[name].([]string); return s }

// JSON returns the params in their JSON form (durations as strings), as the mapping and the state
// machine carry them.
func (p Params) JSON() map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		if d, ok := v.(time.Duration); ok {
			out[k] = d.String()
			continue
		}
		out[k] = v
	}
	return out
}

// ParseParams validates named parameters (the rich mapping form and the bot's input) against the
// bot's declaration. Unknown names, wrong types and missing required parameters are errors naming the
// parameter.
func (b Bot) ParseParams(raw map[string]any) (Params, error) {
	out := Params{}
	for name := range raw {
		if b.param(name) == nil {
			return nil, fmt.Errorf("bot %s has no parameter %q (it takes %s)", b.Name, name, b.paramList())
		}
	}
	for _, p := range b.Params {
		v, ok := raw[p.Name]
		if !ok || v == nil {
			if p.Required {
				return nil, fmt.Errorf("bot %s: parameter %q is required", b.Name, p.Name)
			}
			if p.Default != nil {
				out[p.Name] = p.Default
			}
			continue
		}
		val, err := p.convert(v)
		if err != nil {
			return nil, fmt.Errorf("bot %s: parameter %q: %w", b.Name, p.Name, err)
		}
		out[p.Name] = val
	}
	return out, nil
}

// ParsePositional validates CloudBots-style parameters ("AUTO: bot p1 p2"), in declaration order. Extra
// values are an error: CloudBots silently ignored them, which hid typos.
func (b Bot) ParsePositional(args []string) (Params, error) {
	if len(args) > len(b.Params) {
		return nil, fmt.Errorf("bot %s takes %d parameter(s) (%s), got %d: %q", b.Name, len(b.Params), b.paramList(), len(args), args)
	}
	raw := make(map[string]any, len(args))
	for i, a := range args {
		p := b.Params[i]
		if p.Type == TypeStrings {
			raw[p.Name] = strings.Split(a, ",")
			continue
		}
		raw[p.Name] = a
	}
	return b.ParseParams(raw)
}

func (b Bot) param(name string) *Param {
	for i := range b.Params {
		if b.Params[i].Name == name {
			return &b.Params[i]
		}
	}
	return nil
}

func (b Bot) paramList() string {
	if len(b.Params) == 0 {
		return "none"
	}
	names := make([]string, len(b.Params))
	for i, p := range b.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// convert accepts the JSON form of a value, and strings for every type (CloudBots parameters are words).
func (p Param) convert(v any) (any, error) {
	switch p.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", JSONKind(v))
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(p.Enum, ", "))
		}
		return s, nil
	case TypeInt:
		var i int
		switch x := v.(type) {
		case int:
			i = x
		case float64:
			if x != float64(int(x)) {
				return nil, fmt.Errorf("want an integer, got %v", x)
			}
			i = int(x)
		case json.Number:
			n, err := strconv.Atoi(string(x))
			if err != nil {
				return nil, fmt.Errorf("want an integer, got %q", x)
			}
			i = n
		case string:
			n, err := strconv.Atoi(x)
			if err != nil {
				return nil, fmt.Errorf("want an integer, got %q", x)
			}
			i = n
		default:
			return nil, fmt.Errorf("want an integer, got %s", JSONKind(v))
		}
		if (p.Min != 0 || p.Max != 0) && (i < p.Min || i > p.Max) {
			return nil, fmt.Errorf("%d is outside %d..%d", i, p.Min, p.Max)
		}
		return i, nil
	case TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("want true or false, got %q", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", JSONKind(v))
	case TypeDuration:
		switch x := v.(type) {
		case time.Duration:
			return x, nil
		case string:
			d, err := time.ParseDuration(x)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("want a positive duration such as \"15m\", got %q", x)
			}
			return d, nil
		}
		return nil, fmt.Errorf("want a duration string such as \"15m\", got %s", JSONKind(v))
	case TypeStrings:
		switch x := v.(type) {
		case []string:
			return x, nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d: want a string, got %s", i, JSONKind(e))
				}
				out[i] = s
			}
			return out, nil
		case string:
			return strings.Split(x, ","), nil
		}
		return nil, fmt.Errorf("want a list of strings, got %s", JSONKind(v))
	}
	return nil, fmt.Errorf("unknown type %q", p.Type)
}

func (p Param) validate() error {
	if p.Name == "" {
		return fmt.Errorf("empty name")
	}
	switch p.Type {
	case TypeString, TypeInt, TypeBool, TypeDuration, TypeStrings:
	default:
		return fmt.Errorf("type %q is not string, int, bool, duration or strings", p.Type)
	}
	if p.Default != nil {
		if _, err := p.convert(p.Default); err != nil {
			return fmt.Errorf("default: %w", err)
		}
	}
	return nil
}

// JSONKind names the JSON type of a decoded value, for error messages ("want a string, got a list").
func JSONKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64, int, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
