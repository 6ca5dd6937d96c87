// Package notifytest holds test helpers for the notification forms: the JSON Schema checks of the event
// detail and of the chat message. Only tests import it, so the validator is linked into no Lambda.
package notifytest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/guardbots/guardbots/shared/notify"
)

// compiled is one shipped schema, compiled once.
type compiled struct {
	once   sync.Once
	doc    []byte
	url    string
	schema *jsonschema.Schema
	err    error
}

func (c *compiled) get(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c.once.Do(func() {
		var doc any
		if doc, c.err = jsonschema.UnmarshalJSON(bytes.NewReader(c.doc)); c.err != nil {
			return
		}
		comp := jsonschema.NewCompiler()
		comp.AssertFormat()
		if c.err = comp.AddResource(c.url, doc); c.err != nil {
			return
		}
		c.schema, c.err = comp.Compile(c.url)
	})
	if c.err != nil {
		t.Fatalf("schema %s: %v", c.url, c.err)
	}
	return c.schema
}

var (
	event = &compiled{doc: notify.EventSchema, url: "https://github.com/guardbots/guardbots/shared/notify/event.schema.json"}
	chat  = &compiled{doc: notify.ChatSchema, url: "https://github.com/guardbots/guardbots/shared/notify/chat.schema.json"}
)

// EventSchema is notify.EventSchema compiled, with formats (date-time) asserted.
func EventSchema(t testing.TB) *jsonschema.Schema { return event.get(t) }

// ChatSchema is notify.ChatSchema compiled.
func ChatSchema(t testing.TB) *jsonschema.Schema { return chat.get(t) }

// ValidateEvent fails t when detail is not a valid event detail.
func ValidateEvent(t testing.TB, detail []byte) {
	t.Helper()
	if err := CheckEvent(t, detail); err != nil {
		t.Errorf("event detail does not match event.schema.json: %v\n%s", err, detail)
	}
}

// CheckEvent is the schema's verdict on detail.
func CheckEvent(t testing.TB, detail []byte) error {
	t.Helper()
	return check(EventSchema(t), detail)
}

// ValidateChat fails t when msg is not a valid chat message.
func ValidateChat(t testing.TB, msg []byte) {
	t.Helper()
	if err := CheckChat(t, msg); err != nil {
		t.Errorf("chat message does not match chat.schema.json: %v\n%s", err, msg)
	}
}

// CheckChat is the schema's verdict on msg.
func CheckChat(t testing.TB, msg []byte) error {
	t.Helper()
	return check(ChatSchema(t), msg)
}

func check(s *jsonschema.Schema, doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
