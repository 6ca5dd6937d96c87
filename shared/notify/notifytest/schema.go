// Package notifytest holds test helpers for the notification forms: the JSON Schema check of the event
// detail. Only tests import it, so the validator is linked into no Lambda.
package notifytest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/guardbots/guardbots/shared/notify"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	err    error
)

// EventSchema is notify.EventSchema compiled, with formats (date-time) asserted.
func EventSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	once.Do(func() {
		var doc any
		if doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(notify.EventSchema)); err != nil {
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const url = "https://github.com/guardbots/guardbots/shared/notify/event.schema.json"
		if err = c.AddResource(url, doc); err != nil {
			return
		}
		schema, err = c.Compile(url)
	})
	if err != nil {
		t.Fatalf("event schema: %v", err)
	}
	return schema
}

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
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return err
	}
	return EventSchema(t).Validate(inst)
}
