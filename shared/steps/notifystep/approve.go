package notifystep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/metrics"
	"github.com/guardbots/guardbots/shared/notify"
)

// ApprovalRequested is request_approval's output. The state machine ignores it (a waitForTaskToken
// Task's result is what the approver sends); it is for the Lambda's own logs and tests.
type ApprovalRequested struct {
	MessageID string `json:"messageId"`
}

// Approver is the request_approval step: it publishes the message telling a person how to approve or
// deny one APPROVE action; the state machine then waits on the task token.
type Approver struct {
	Publisher MessagePublisher
	Options   notify.ApprovalOptions
	Now       func() time.Time
	// Metrics, when set, counts approval requests (metrics.Stdout in the Lambda).
	Metrics *metrics.Emitter
}

// Request validates the iteration and publishes the approval request.
func (a Approver) Request(ctx context.Context, in notify.ApprovalRequest) (ApprovalRequested, error) {
	switch {
	case in.Finding == nil || in.Finding.ID == "":
		return ApprovalRequested{}, faults.Rejectf("request_approval: input has no finding")
	// An action the blast-radius limit held is asked about whatever its mode (the state machine set held).
	case in.Action.Mode != string(mapping.ModeApprove) && in.Action.Held == "":
		return ApprovalRequested{}, faults.Rejectf("request_approval: action %s is in mode %q, not APPROVE, and was not held", in.Action.Bot, in.Action.Mode)
	case !notify.ValidTaskToken(in.TaskToken):
		return ApprovalRequested{}, faults.Rejectf("request_approval: no valid task token (the Task must pass $$.Task.Token)")
	}
	if _, ok := bots.Lookup(in.Action.Bot); !ok {
		return ApprovalRequested{}, faults.Rejectf("request_approval: bot %q is not registered", in.Action.Bot)
	}
	o := a.Options
	o.Now = time.Now()
	if a.Now != nil {
		o.Now = a.Now()
	}
	msg, err := notify.BuildApprovalRequest(in, o)
	if err != nil {
		return ApprovalRequested{}, faults.Reject(err)
	}
	id, err := a.Publisher.Publish(ctx, msg)
	if err != nil {
		return ApprovalRequested{}, fmt.Errorf("request_approval: publish %q: %w", msg.Subject, err)
	}
	reason := "approve-mode"
	if in.Action.Held != "" {
		reason = "held"
	}
	if err := a.Metrics.Emit(metrics.Record{Time: o.Now, Dimensions: metrics.Emitted[metrics.ApprovalRequests],
		Dims:       map[string]string{metrics.DimBot: in.Action.Bot, metrics.DimReason: reason},
		Properties: map[string]any{"account": in.Finding.AccountID, "findingId": in.Finding.ID, "execution": in.Execution},
		Metrics:    []metrics.Metric{{Name: metrics.ApprovalRequests, Unit: "Count", Value: 1}}}); err != nil {
		slog.WarnContext(ctx, "metric not written", "error", err.Error())
	}
	slog.InfoContext(ctx, "approval requested", "findingId", in.Finding.ID, "bot", in.Action.Bot, "index", in.Index,
		"timeoutSeconds", in.Action.ApprovalTimeoutSeconds, "held", in.Action.Held, "messageId", id, "execution", in.Execution)
	return ApprovalRequested{MessageID: id}, nil
}
