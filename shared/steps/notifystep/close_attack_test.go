package notifystep

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/sivchari/kumo"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/notify"
	"github.com/guardbots/guardbots/shared/plan/plantest"
	"github.com/guardbots/guardbots/shared/steps"
)

// gdWriter is GuardDuty at the SDK level (kumo does not serve it): it records every write.
type gdWriter struct {
	GuardDutyWriter
	mu     sync.Mutex
	writes []string
}

func (g *gdWriter) ListDetectors(context.Context, *guardduty.ListDetectorsInput, ...func(*guardduty.Options)) (*guardduty.ListDetectorsOutput, error) {
	return &guardduty.ListDetectorsOutput{DetectorIds: []string{"det-1"}}, nil
}

func (g *gdWriter) UpdateFindingsFeedback(_ context.Context, in *guardduty.UpdateFindingsFeedbackInput, _ ...func(*guardduty.Options)) (*guardduty.UpdateFindingsFeedbackOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, "UpdateFindingsFeedback "+strings.Join(in.FindingIds, ","))
	return &guardduty.UpdateFindingsFeedbackOutput{}, nil
}

func (g *gdWriter) ArchiveFindings(_ context.Context, in *guardduty.ArchiveFindingsInput, _ ...func(*guardduty.Options)) (*guardduty.ArchiveFindingsOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, "ArchiveFindings "+strings.Join(in.FindingIds, ","))
	return &guardduty.ArchiveFindingsOutput{}, nil
}

// closing is notify with closeFindings=archive, as the Lambda wires it: the plan checked with the key in
// kumo's KMS and the executions in kumo's Step Functions.
type closing struct {
	t         *testing.T
	local     *plantest.Local
	gd        *gdWriter
	pub       *fakePublisher
	handler   func(payload any) (Notified, error)
	execution string
	ended     string
}

func newClosing(t *testing.T) *closing {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}
	l, err := plantest.New(t.Context(), cfg, "guardbots-remediation")
	if err != nil {
		t.Fatal(err)
	}
	c := &closing{t: t, local: l, gd: &gdWriter{}, pub: &fakePublisher{}}
	name := strings.ReplaceAll(t.Name(), "/", "-")
	if c.execution, err = l.Start(t.Context(), name+"-running"); err != nil {
		t.Fatal(err)
	}
	if c.ended, err = l.Start(t.Context(), name+"-ended"); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(t.Context(), c.ended); err != nil {
		t.Fatal(err)
	}
	n := Notifier{Publisher: c.pub, Closer: &Closer{
		GuardDuty: func(string) GuardDutyWriter { return c.gd },
		Archive:   true,
		Vouch:     Vouch(l.Verifier()),
	}}
	h := steps.Lambda("notify", n.Notify)
	c.handler = func(payload any) (Notified, error) {
		b, _ := json.Marshal(payload)
		out, err := h.Invoke(context.Background(), b)
		if err != nil {
			return Notified{}, err
		}
		var r Notified
		_ = json.Unmarshal(out, &r)
		return r, nil
	}
	return c
}

// someone's finding: a real finding of the organization the attacker wants archived.
func victim() *finding.Finding {
	return &finding.Finding{ID: "b2d4f6a8c0e2b4d6f8a0c2e4b6d8f062", Type: "CryptoCurrency:EC2/BitcoinTool.B!DNS", AccountID: "444455556666",
		Region: "eu-west-1", Partition: "aws", Severity: 8, ResourceKind: finding.KindInstance, Instance: &finding.Instance{ID: "i-0123456789abcdef0"}, Source: "eventbridge"}
}

func decision() *mapping.Decision {
	return &mapping.Decision{Outcome: mapping.Remediate, Verified: true, Key: "CryptoCurrency:EC2/*",
		Actions: []mapping.Action{{Bot: "ec2_stop_instance", Params: map[string]any{}, OnError: mapping.Continue, Mode: "AUTO"}}}
}

// signedFor signs d's actions for f in execution, as verify does.
func (c *closing) signedFor(f *finding.Finding, execution string) *mapping.Decision {
	c.t.Helper()
	d := decision()
	if err := c.local.Signer().Sign(c.t.Context(), f, d, execution); err != nil {
		c.t.Fatal(err)
	}
	return d
}

func input(f *finding.Finding, d *mapping.Decision, execution string) notify.Input {
	return notify.Input{Finding: f, Decision: d, Execution: notify.Execution{ID: execution},
		Results: []bots.Result{{Bot: "ec2_stop_instance", Status: bots.StatusRemediated}}}
}

// notArchived: notify ran and told the team, but wrote nothing to GuardDuty, and the message says why.
func (c *closing) notArchived(what string, in notify.Input) {
	c.t.Helper()
	before := len(c.pub.msgs)
	if _, err := c.handler(in); err != nil {
		c.t.Fatalf("%s: notify failed: %v", what, err)
	}
	if len(c.gd.writes) != 0 {
		c.t.Errorf("%s: GuardDuty writes %v", what, c.gd.writes)
	}
	if len(c.pub.msgs) != before+1 || !strings.Contains(string(c.pub.msgs[len(c.pub.msgs)-1].Body), "nothing is recorded on finding") {
		c.t.Errorf("%s: the message does not say the finding was left alone", what)
	}
}

// The attack: notify invoked directly with close-the-loop on, to archive a finding nobody remediated.
func TestAttack_DirectInvokeOfNotifyCannotArchiveAFinding(t *testing.T) {
	c := newClosing(t)
	f := victim()
	c.notArchived("a made-up verified decision, unsigned", input(f, decision(), c.execution))
	other := victim()
	other.ID = "c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3"
	c.notArchived("another finding's signed plan", input(f, c.signedFor(other, c.execution), c.execution))
	edited := victim()
	edited.Type = "Recon:EC2/Portscan"
	c.notArchived("a signed plan with the finding edited", input(edited, c.signedFor(f, c.execution), c.execution))
	c.notArchived("a signed plan of an execution that ended", input(f, c.signedFor(f, c.ended), c.ended))
	c.notArchived("a signed plan carried into another execution", input(f, c.signedFor(f, c.ended), c.execution))
	c.notArchived("a decision with no action", input(f, &mapping.Decision{Outcome: mapping.NotifyOnly, Verified: true}, c.execution))

	// The control: the workflow's own plan, in its running execution, closes the loop.
	if _, err := c.handler(input(f, c.signedFor(f, c.execution), c.execution)); err != nil {
		t.Fatal(err)
	}
	want := []string{"UpdateFindingsFeedback " + f.ID, "ArchiveFindings " + f.ID}
	if strings.Join(c.gd.writes, "|") != strings.Join(want, "|") {
		t.Errorf("signed plan: writes %v, want %v", c.gd.writes, want)
	}
}

func TestHandler_ClosingTheLoopNeedsThePlanCheck(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test") // the execution role's, as Lambda sets them
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(deployment.EnvTopicArn, "arn:aws:sns:us-east-1:111122223333:t")
	t.Setenv(deployment.EnvCloseFindings, deployment.CloseArchive)
	t.Setenv(deployment.EnvSigningKey, "")
	if _, err := Handler(t.Context()); err == nil || !strings.Contains(err.Error(), deployment.EnvSigningKey) {
		t.Errorf("closing without the key: %v", err)
	}
	t.Setenv(deployment.EnvCloseFindings, deployment.CloseOff)
	if _, err := Handler(t.Context()); err != nil {
		t.Errorf("not closing, no key needed: %v", err)
	}
}
