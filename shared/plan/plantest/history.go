package plantest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/guardbots/guardbots/shared/steps"
)

// Neither local tool writes an execution history as Step Functions does (kumo's holds only the start
// and end, aws-local-stepfunctions has none), so tests serve GetExecutionHistory pages in the shapes the
// Step Functions API reference documents — HistoryEvent: id, previousEventId, timestamp, type and the
// type's details; TaskScheduledEventDetails.parameters and TaskSucceededEventDetails.output as JSON
// strings — from a small server the real SDK client talks to (awsJson1_0, X-Amz-Target).

// TaskToken is the task token every built approval Task carries (in its TaskScheduled parameters).
const TaskToken = "AQCEAAAAKgAAAAMAAAAAAAAAAVERYSECRETTASKTOKEN/with+base64=="

// History builds an execution's events as Step Functions links them: each event's previousEventId is
// the event before it in the same branch; with the Map's MaxConcurrency of 1 that is one chain, and an
// iteration's MapIterationStarted follows the previous iteration's last state event (as AWS records
// it).
type History struct {
	Execution string
	Events    []map[string]any
	last      int64
	t0        time.Time
}

// NewHistory starts the history of execution: ExecutionStarted and the steps before the Map.
func NewHistory(execution string) *History {
	h := &History{Execution: execution, t0: time.Date(2026, 11, 27, 17, 10, 15, 0, time.UTC)}
	h.add("ExecutionStarted", map[string]any{"executionStartedEventDetails": map[string]any{"input": "{}", "roleArn": "arn:aws:iam::111122223333:role/sm"}})
	for _, s := range []string{"Parse", "Transform", "Match", "Verify finding"} {
		h.state("Task", s)
	}
	h.add("MapStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": steps.StateRemediate, "input": "{}"}})
	h.add("MapStateStarted", map[string]any{"mapStateStartedEventDetails": map[string]any{"length": 2}})
	return h
}

func (h *History) add(typ string, details map[string]any) int64 {
	id := int64(len(h.Events) + 1)
	e := map[string]any{"id": id, "previousEventId": h.last, "type": typ,
		"timestamp": float64(h.t0.Add(time.Duration(id)*time.Second).UnixMilli()) / 1000}
	for k, v := range details {
		e[k] = v
	}
	h.Events = append(h.Events, e)
	h.last = id
	return id
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func (h *History) state(kind, name string) {
	h.add(kind+"StateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": name, "input": "{}", "inputDetails": map[string]any{"truncated": false}}})
	h.add(kind+"StateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": name, "output": "{}", "outputDetails": map[string]any{"truncated": false}}})
}

// Iteration records the Map iteration index, body its states.
func (h *History) Iteration(index int, body func()) {
	h.add("MapIterationStarted", map[string]any{"mapIterationStartedEventDetails": map[string]any{"name": steps.StateRemediate, "index": index}})
	h.state("Choice", "Needs approval?")
	body()
	h.state("Pass", "Record result")
	h.add("MapIterationSucceeded", map[string]any{"mapIterationSucceededEventDetails": map[string]any{"name": steps.StateRemediate, "index": index}})
	// The next iteration's first event follows this iteration's last state event.
	h.last--
}

// Bot records a bot's Task on its function ARN (Lambda events, not Task events) returning result.
func (h *History) Bot(name, result string) {
	h.state("Choice", "Which bot?")
	h.add("TaskStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": name, "input": "{}"}})
	arn := "arn:aws:lambda:us-east-1:111122223333:function:guardbots-" + name
	h.add("LambdaFunctionScheduled", map[string]any{"lambdaFunctionScheduledEventDetails": map[string]any{"resource": arn, "input": "{}", "timeoutInSeconds": 300}})
	h.add("LambdaFunctionStarted", nil)
	h.add("LambdaFunctionSucceeded", map[string]any{"lambdaFunctionSucceededEventDetails": map[string]any{"output": result}})
	h.add("TaskStateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": name, "output": "{}"}})
	h.state("Choice", "Held by blast-radius limit?")
}

// Held records the state that turns a held result into an approval request.
func (h *History) Held() { h.state("Pass", "Ask to approve held action") }

// Approval records the approval Task of action index: scheduled with action (and TaskToken), answered
// with answer — an object: SendTaskSuccess with it as the output; a string: SendTaskFailure with that
// cause.
func (h *History) Approval(index int, action map[string]any, answer any) {
	h.ApprovalScheduled(js(map[string]any{"FunctionName": "arn:aws:lambda:us-east-1:111122223333:function:guardbots-request_approval",
		"Payload": map[string]any{"finding": map[string]any{"id": "f1"}, "action": action, "index": index, "execution": h.Execution, "taskToken": TaskToken}}), answer)
}

// ApprovalScheduled is Approval with the approval Task's parameters given as the execution resolved
// them (JSON: FunctionName and Payload), for a history of what a local run really scheduled.
func (h *History) ApprovalScheduled(params string, answer any) {
	h.state("Pass", "Prepare approval")
	h.add("TaskStateEntered", map[string]any{"stateEnteredEventDetails": map[string]any{"name": steps.StateWaitForApproval, "input": "{}"}})
	h.add("TaskScheduled", map[string]any{"taskScheduledEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
		"region": "us-east-1", "parameters": params, "timeoutInSeconds": 3600}})
	h.add("TaskStarted", map[string]any{"taskStartedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken"}})
	h.add("TaskSubmitted", map[string]any{"taskSubmittedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
		"output": `{"ExecutedVersion":"$LATEST","Payload":{"messageId":"m-1"},"StatusCode":200}`}})
	if cause, denied := answer.(string); denied {
		h.add("TaskFailed", map[string]any{"taskFailedEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
			"error": "Guardbots.Denied", "cause": cause}})
		return
	}
	h.add("TaskSucceeded", map[string]any{"taskSucceededEventDetails": map[string]any{"resourceType": "lambda", "resource": "invoke.waitForTaskToken",
		"output": js(answer), "outputDetails": map[string]any{"truncated": false}}})
	h.add("TaskStateExited", map[string]any{"stateExitedEventDetails": map[string]any{"name": steps.StateWaitForApproval, "output": "{}"}})
	h.state("Choice", "Approved?")
	h.state("Pass", "Run approved action")
}

// StatesServer answers DescribeExecution (RUNNING on StateMachineArn, for the executions it holds a
// history of) and GetExecutionHistory in pages of PageSize events, whatever maxResults asks.
type StatesServer struct {
	*httptest.Server
	StateMachineArn string
	PageSize        int

	mu        sync.Mutex
	histories map[string][]map[string]any
	requests  map[string]int
}

// NewStatesServer serves the histories until the test ends.
func NewStatesServer(t testing.TB, stateMachine string, pageSize int, histories ...*History) *StatesServer {
	s := &StatesServer{StateMachineArn: stateMachine, PageSize: pageSize, histories: map[string][]map[string]any{}, requests: map[string]int{}}
	for _, h := range histories {
		s.histories[h.Execution] = h.Events
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests is how many calls of operation the server answered.
func (s *StatesServer) Requests(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[operation]
}

// Client is a Step Functions client of the server.
func (s *StatesServer) Client() *sfn.Client {
	return sfn.New(sfn.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1})
}

func (s *StatesServer) serve(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		NextToken    string `json:"nextToken"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	op := r.Header.Get("X-Amz-Target")
	s.mu.Lock()
	s.requests[op]++
	events, ok := s.histories[in.ExecutionArn]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	fail := func(typ, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(js(map[string]string{"__type": typ, "message": msg})))
	}
	if !ok {
		fail("ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
		return
	}
	switch op {
	case "AWSStepFunctions.DescribeExecution":
		_, _ = w.Write([]byte(js(map[string]any{"executionArn": in.ExecutionArn, "stateMachineArn": s.StateMachineArn,
			"status": "RUNNING", "startDate": 1.7642e9, "name": "run"})))
	case "AWSStepFunctions.GetExecutionHistory":
		from, _ := strconv.Atoi(in.NextToken)
		to := min(from+s.PageSize, len(events))
		out := map[string]any{"events": events[from:to]}
		if to < len(events) {
			out["nextToken"] = strconv.Itoa(to)
		}
		_, _ = w.Write([]byte(js(out)))
	default:
		fail("UnknownOperationException", op)
	}
}
