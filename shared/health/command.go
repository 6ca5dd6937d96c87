package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/guardbots/guardbots/shared/plan"
)

// StatesAPI is what a person's run of the check calls: it starts the deployed member-health state
// machine and waits for it, so the run uses the deployed roles and keys, and a person needs only
// states:StartExecution and states:DescribeExecution on it.
type StatesAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// StartAndWait starts an execution of the member-health state machine (accounts, when given, replace the
// organization's list) and waits for its report, polling every poll.
func StartAndWait(ctx context.Context, c StatesAPI, stateMachine string, accounts []string, poll time.Duration) (Report, string, error) {
	in, _ := json.Marshal(map[string]any{"accounts": accounts}) // a list of strings always marshals
	if len(accounts) == 0 {
		in = []byte("{}")
	}
	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(stateMachine), Input: aws.String(string(in))})
	if err != nil {
		return Report{}, "", fmt.Errorf("start the member-health check (%s): %w", stateMachine, err)
	}
	exec := aws.ToString(out.ExecutionArn)
	for {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(exec)})
		if err != nil {
			return Report{}, exec, fmt.Errorf("describe %s: %w", exec, err)
		}
		switch d.Status {
		case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		case sfntypes.ExecutionStatusSucceeded:
			var rep Report
			if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &rep); err != nil {
				return Report{}, exec, fmt.Errorf("%s: the output is not a health report: %w", exec, err)
			}
			return rep, exec, nil
		default:
			return Report{}, exec, fmt.Errorf("%s ended %s: %s: %s", exec, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		select {
		case <-ctx.Done():
			return Report{}, exec, fmt.Errorf("waiting for %s: %w", exec, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}

// Print writes a report for a person: the counts, then each problem with what to inspect.
func Print(w io.Writer, rep Report) error {
	var counts []string
	for _, s := range plan.ProbeStates {
		counts = append(counts, fmt.Sprintf("%d %s", rep.Counts[s], s))
	}
	fmt.Fprintf(w, "member roles: %d bots × %d accounts: %s\n", len(rep.Bots), len(rep.Accounts), strings.Join(counts, ", "))
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "not probed: account %s is %s\n", s.Account, s.State)
	}
	for _, n := range rep.NotProbed {
		fmt.Fprintf(w, "not probed: bot %s in account %s, %s\n", n.Bot, n.Account, n.Reason)
	}
	if rep.OK {
		_, err := fmt.Fprintln(w, "every bot can reach its member role in every account")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tACCOUNT\tBOT\tDETAIL")
	for _, p := range rep.Problems {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.State, p.Account, p.Bot, p.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range rep.Problems {
		if !seen[p.Inspect] {
			seen[p.Inspect] = true
			fmt.Fprintf(w, "· %s\n", p.Inspect)
		}
	}
	return nil
}

// ErrNotOK is returned by a command whose report has problems (exit status 1).
var ErrNotOK = errors.New("some member roles are not ok")
