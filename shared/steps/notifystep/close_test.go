package notifystep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
)

const execARN = "arn:aws:states:us-east-1:111122223333:execution:guardbots-remediation:run-1"

// verified is the decision the verify step returns with GuardDuty's copy.
var verified = &mapping.Decision{Outcome: mapping.Remediate, Verified: true}

// sdkStub answers GuardDuty and Security Hub calls at the SDK level (before serialization), records
// each operation and its input, and never lets a request leave the process.
type sdkStub struct {
	mu      sync.Mutex
	calls   []string
	inputs  []any
	respond map[string]func(in any) (any, error)
}

func (s *sdkStub) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("sdkStub", func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		if op == "" {
			// Some clients set the operation name after Initialize: the input's type names it.
			_, t, _ := strings.Cut(fmt.Sprintf("%T", in.Parameters), ".")
			op = strings.TrimSuffix(t, "Input")
		}
		s.mu.Lock()
		s.calls = append(s.calls, op)
		s.inputs = append(s.inputs, in.Parameters)
		r := s.respond[op]
		s.mu.Unlock()
		if r == nil {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "UnexpectedCall", Message: op}
		}
		out, err := r(in.Parameters)
		return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
	}), middleware.Before)
}

func (s *sdkStub) config() aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"), // refuses connections: the stub answers everything
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{s.option},
	}
}

func (s *sdkStub) guardDuty(region string) *guardduty.Client {
	return guardduty.NewFromConfig(s.config(), func(o *guardduty.Options) { o.Region = region })
}

func (s *sdkStub) securityHub(region string) *securityhub.Client {
	return securityhub.NewFromConfig(s.config(), func(o *securityhub.Options) { o.Region = region })
}

func (s *sdkStub) count(op string) int {
	n := 0
	for _, c := range s.calls {
		if c == op {
			n++
		}
	}
	return n
}

const detector = "12abc34d567e8fa901bc2d34eexample"

func inputFinding() *finding.Finding {
	return &finding.Finding{
		ID: "f-1", Type: "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", AccountID: "111122223333",
		Region: "us-east-1", Partition: "aws", ResourceKind: finding.KindInstance, ResourceType: "Instance",
		Instance: &finding.Instance{ID: "i-0123456789abcdef0"}, Source: "eventbridge",
	}
}

// world is GuardDuty with one detector, at the SDK level: enough for closing the loop, which reads
// nothing back.
func world() *sdkStub {
	return &sdkStub{respond: map[string]func(any) (any, error){
		"ListDetectors": func(any) (any, error) {
			return &guardduty.ListDetectorsOutput{DetectorIds: []string{detector}}, nil
		},
	}}
}

func closer(s *sdkStub, archive bool) *Closer {
	s.respond["UpdateFindingsFeedback"] = func(any) (any, error) { return &guardduty.UpdateFindingsFeedbackOutput{}, nil }
	s.respond["ArchiveFindings"] = func(any) (any, error) { return &guardduty.ArchiveFindingsOutput{}, nil }
	s.respond["BatchUpdateFindings"] = func(any) (any, error) { return &securityhub.BatchUpdateFindingsOutput{}, nil }
	return &Closer{
		GuardDuty:   func(r string) GuardDutyWriter { return s.guardDuty(r) },
		SecurityHub: func(r string) SecurityHubAPI { return s.securityHub(r) },
		Archive:     archive,
		// The notify step's check of the signed plan (notifystep), vouching here.
		Vouch: func(context.Context, *finding.Finding, *mapping.Decision, string) error { return nil },
	}
}

func TestClose_NothingIsRecordedUnlessThePlanIsVouchedFor(t *testing.T) {
	for name, vouch := range map[string]func(context.Context, *finding.Finding, *mapping.Decision, string) error{
		"no check": nil,
		"refused": func(context.Context, *finding.Finding, *mapping.Decision, string) error {
			return errors.New("plan: no signature")
		},
	} {
		s := world()
		c := closer(s, true)
		c.Vouch = vouch
		done, err := c.Close(context.Background(), inputFinding(), verified, "remediated", execARN)
		if err == nil || len(done) != 0 || len(s.calls) != 0 {
			t.Errorf("%s: done %v, calls %v, err %v", name, done, s.calls, err)
		}
	}
}

func TestClose_RemediatedGuardDutyFindingGetsUsefulFeedbackAndIsArchived(t *testing.T) {
	s := world()
	done, err := closer(s, true).Close(context.Background(), inputFinding(), verified, "remediated", execARN)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, []string{"GuardDuty feedback USEFUL", "GuardDuty finding archived"}) {
		t.Errorf("done %v", done)
	}
	if !slices.Equal(s.calls, []string{"ListDetectors", "UpdateFindingsFeedback", "ArchiveFindings"}) {
		t.Fatalf("calls %v", s.calls)
	}
	fb := s.inputs[1].(*guardduty.UpdateFindingsFeedbackInput)
	if aws.ToString(fb.DetectorId) != detector || fb.Feedback != gdtypes.FeedbackUseful || fb.FindingIds[0] != "f-1" ||
		!strings.Contains(aws.ToString(fb.Comments), execARN) {
		t.Errorf("feedback input %+v", fb)
	}
}

func TestClose_WithoutArchiveOnlyGivesFeedback(t *testing.T) {
	s := world()
	if _, err := closer(s, false).Close(context.Background(), inputFinding(), verified, "remediated", execARN); err != nil {
		t.Fatal(err)
	}
	if s.count("ArchiveFindings") != 0 || s.count("UpdateFindingsFeedback") != 1 {
		t.Errorf("calls %v", s.calls)
	}
}

func TestClose_NothingIsRecordedUnlessRemediated(t *testing.T) {
	for _, outcome := range []string{"failed", "dry-run", "skipped", "rejected", "notify-only", "partially-remediated", "released"} {
		s := world()
		done, err := closer(s, true).Close(context.Background(), inputFinding(), verified, outcome, execARN)
		if err != nil || len(done) != 0 || len(s.calls) != 0 {
			t.Errorf("%s: done %v err %v calls %v", outcome, done, err, s.calls)
		}
	}
}

func TestClose_SecurityHubInputGetsItsWorkflowStatus(t *testing.T) {
	f := inputFinding()
	f.Source = "securityhub"
	f.Arn = "arn:aws:guardduty:us-east-1:111122223333:detector/" + detector + "/finding/f-1"
	for outcome, status := range map[string]shtypes.WorkflowStatus{"remediated": shtypes.WorkflowStatusResolved, "notify-only": shtypes.WorkflowStatusNotified} {
		s := world()
		done, err := closer(s, true).Close(context.Background(), f, verified, outcome, execARN)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.calls, []string{"BatchUpdateFindings"}) || !slices.Equal(done, []string{"Security Hub workflow " + string(status)}) {
			t.Fatalf("%s: calls %v done %v", outcome, s.calls, done)
		}
		in := s.inputs[0].(*securityhub.BatchUpdateFindingsInput)
		id := in.FindingIdentifiers[0]
		if aws.ToString(id.Id) != f.Arn || aws.ToString(id.ProductArn) != "arn:aws:securityhub:us-east-1::product/aws/guardduty" ||
			in.Workflow.Status != status || !strings.Contains(aws.ToString(in.Note.Text), execARN) {
			t.Errorf("%s: input %+v %+v %+v", outcome, id, in.Workflow, in.Note)
		}
	}
}

func TestClose_SecurityHubUnprocessedFindingIsAnError(t *testing.T) {
	f := inputFinding()
	f.Source, f.Arn = "securityhub", "arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/f-1"
	s := world()
	c := closer(s, false)
	s.respond["BatchUpdateFindings"] = func(any) (any, error) {
		return &securityhub.BatchUpdateFindingsOutput{UnprocessedFindings: []shtypes.BatchUpdateFindingsUnprocessedFinding{
			{ErrorCode: aws.String("FindingNotFound"), ErrorMessage: aws.String("no such finding")}}}, nil
	}
	if _, err := c.Close(context.Background(), f, verified, "remediated", execARN); err == nil || !strings.Contains(err.Error(), "FindingNotFound") {
		t.Fatalf("err %v", err)
	}
}

// Only GuardDuty's own copy is touched. An input that was never read back (match's notify decision, a
// rejected forgery, verification off) can name any real finding with a type of its choosing: marking it
// handled would hide a real finding from the people triaging.
func TestClose_FindingNotReadBackFromGuardDutyIsNeverTouched(t *testing.T) {
	sh := inputFinding()
	sh.Source, sh.Arn = "securityhub", "arn:aws:guardduty:us-east-1:111122223333:detector/"+detector+"/finding/f-1"
	for _, c := range []struct {
		name    string
		f       *finding.Finding
		d       *mapping.Decision
		outcome string
	}{
		{"GuardDuty, no decision", inputFinding(), nil, "remediated"},
		{"GuardDuty, match's decision", inputFinding(), &mapping.Decision{Outcome: mapping.Remediate}, "remediated"},
		{"Security Hub, notify decision of match", sh, &mapping.Decision{Outcome: mapping.NotifyOnly, Reason: "mapping entry x is NOTIFY"}, "notify-only"},
		{"Security Hub, verification off", sh, &mapping.Decision{Outcome: mapping.Remediate, Verification: "not checked"}, "remediated"},
	} {
		s := world()
		done, err := closer(s, true).Close(context.Background(), c.f, c.d, c.outcome, execARN)
		if len(s.calls) != 0 || len(done) != 0 {
			t.Errorf("%s: calls %v, done %v", c.name, s.calls, done)
		}
		if err == nil || !strings.Contains(err.Error(), "not read back from GuardDuty") {
			t.Errorf("%s: err %v, want it to say why nothing was recorded", c.name, err)
		}
	}
	// A verified notify-only Security Hub finding (GuardDuty's copy decided notify) is marked NOTIFIED.
	s := world()
	done, err := closer(s, false).Close(context.Background(), sh, &mapping.Decision{Outcome: mapping.NotifyOnly, Verified: true}, "notify-only", execARN)
	if err != nil || !slices.Equal(done, []string{"Security Hub workflow NOTIFIED"}) {
		t.Errorf("verified notify-only: done %v err %v", done, err)
	}
}
