// Package faults gives errors the names the state machine matches on. aws-lambda-go reports the Go type
// name of a returned error (a wrapped error is "wrapError"), so each handler passes its error through
// ForLambda at the boundary, which classifies it into one of a few stable names.
package faults

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Kind is an error name as the ASL's ErrorEquals sees it.
type Kind string

const (
	// Throttled: AWS throttled a call; the Task retries with backoff.
	Throttled Kind = "Guardbots.Throttled"
	// Retryable: a transient failure (timeout, 5xx, connection reset); the Task retries.
	Retryable Kind = "Guardbots.Retryable"
	// Rejected: the input is not something the step accepts (not a GuardDuty finding, bad mapping
	// entry for this bot, …); retrying cannot help.
	Rejected Kind = "Guardbots.Rejected"
	// Failed: everything else (AccessDenied, a resource in a state the bot cannot handle, …).
	Failed Kind = "Guardbots.Failed"
)

// Denied is the error name an approver sends with send-task-failure to deny an action; the state
// machine records the action as skipped "denied by <cause>".
const Denied = "Guardbots.Denied"

// Kinds lists every kind, for the ASL generator and tests.
var Kinds = []Kind{Throttled, Retryable, Rejected, Failed}

// Error is an error with an explicit kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Reject marks err as a rejection of the input.
func Reject(err error) error { return &Error{Kind: Rejected, Err: err} }

// Rejectf formats a rejection.
func Rejectf(format string, args ...any) error { return Reject(fmt.Errorf(format, args...)) }

// Fail marks err as a non-retryable failure, overriding what Classify would infer.
func Fail(err error) error { return &Error{Kind: Failed, Err: err} }

// Classify names err. An explicit *Error wins; then the SDK's own throttle and retry tables decide, so a
// call the SDK already retried until its attempts ran out is retried again by the state machine.
func Classify(err error) Kind {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return Throttled
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) {
		return Classify(maxAttempts.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Retryable
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return Retryable
	}
	return Failed
}

// ForLambda converts err into the value aws-lambda-go reports verbatim: errorType is the kind, and
// errorMessage the whole wrapped message (it becomes the state's Cause).
func ForLambda(err error) error {
	if err == nil {
		return nil
	}
	return messages.InvokeResponse_Error{Type: string(Classify(err)), Message: err.Error()}
}
