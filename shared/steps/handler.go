// Package steps holds the workflow's Lambda handlers as plain functions over the step payloads. Each
// functions/<step>/main.go wires one of them to lambda.Start; tests call them directly.
package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/guardbots/guardbots/shared/faults"
)

// Func is a step: typed input to typed output.
type Func[In, Out any] func(ctx context.Context, in In) (Out, error)

// Lambda adapts a step to aws-lambda-go's raw Handler: it decodes the payload, runs the step, and
// names any error at the boundary (faults.ForLambda) so the state machine's Retry and Catch can tell a
// throttle from a rejection. The error is logged once here, with the step's name.
func Lambda[In, Out any](name string, fn Func[In, Out]) lambda.Handler {
	return handler[In, Out]{name: name, fn: fn}
}

type handler[In, Out any] struct {
	name string
	fn   Func[In, Out]
}

// Warmup is a payload every step answers without running: the local harness uses it to know a
// bootstrap is polling before the workflow starts (and it is a harmless keep-warm ping on AWS).
var Warmup = []byte(`{"guardbotsWarmup":true}`)

var warmupReply = []byte(`{"warm":true}`)

func (h handler[In, Out]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if bytes.Equal(payload, Warmup) {
		return warmupReply, nil
	}
	var in In
	if err := json.Unmarshal(payload, &in); err != nil {
		return nil, h.fail(ctx, faults.Rejectf("%s: input is not a valid %T: %w", h.name, in, err))
	}
	out, err := h.fn(ctx, in)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, h.fail(ctx, fmt.Errorf("%s: encode output: %w", h.name, err))
	}
	return b, nil
}

func (h handler[In, Out]) fail(ctx context.Context, err error) error {
	kind := faults.Classify(err)
	slog.ErrorContext(ctx, "step failed", "step", h.name, "errorType", string(kind), "error", err.Error())
	return faults.ForLambda(err)
}

// Raw adapts a step that takes the raw payload (parse: the event may be any envelope, and decoding it
// once, with the decoder parse chose, is the point).
func Raw[Out any](name string, fn Func[[]byte, Out]) lambda.Handler {
	return rawHandler[Out]{handler[[]byte, Out]{name: name, fn: fn}}
}

type rawHandler[Out any] struct{ handler[[]byte, Out] }

func (h rawHandler[Out]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if bytes.Equal(payload, Warmup) {
		return warmupReply, nil
	}
	out, err := h.fn(ctx, payload)
	if err != nil {
		return nil, h.fail(ctx, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, h.fail(ctx, fmt.Errorf("%s: encode output: %w", h.name, err))
	}
	return b, nil
}
