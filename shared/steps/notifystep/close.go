package notifystep

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/mapping"
	"github.com/guardbots/guardbots/shared/verify"
)

// GuardDutyWriter is what closing a GuardDuty finding calls: its detector, then the two writes.
type GuardDutyWriter interface {
	verify.DetectorLister
	UpdateFindingsFeedback(ctx context.Context, in *guardduty.UpdateFindingsFeedbackInput, optFns ...func(*guardduty.Options)) (*guardduty.UpdateFindingsFeedbackOutput, error)
	ArchiveFindings(ctx context.Context, in *guardduty.ArchiveFindingsInput, optFns ...func(*guardduty.Options)) (*guardduty.ArchiveFindingsOutput, error)
}

// SecurityHubAPI is the one Security Hub call.
type SecurityHubAPI interface {
	BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// Closer records the workflow's outcome on the finding itself, so the GuardDuty and Security Hub
// consoles show it was handled ("closing the loop"). It runs in the notify step, once the outcome is
// known; the modes are deployment.CloseOff, CloseFeedback and CloseArchive.
type Closer struct {
	GuardDuty   func(region string) GuardDutyWriter
	SecurityHub func(region string) SecurityHubAPI
	// Archive also archives the GuardDuty finding after a remediation (deployment.CloseArchive).
	Archive bool
	// Vouch says whether the workflow vouched for this execution's plan on f (the notify step checks
	// verify's signatures and that the execution is running): a direct invoke of notify records nothing.
	// Nil records nothing either.
	Vouch func(ctx context.Context, f *finding.Finding, d *mapping.Decision, execution string) error

	detectors verify.Detectors
}

// Close records outcome ("remediated", "already-done", "notify-only", …) for f; it returns what it
// recorded. Only a remediation (or a resource found already remediated) resolves a finding; a
// notify-only outcome marks a Security Hub finding NOTIFIED; anything else records nothing.
//
// Only GuardDuty's own copy is ever touched: f must be the verify step's output, which d says
// (d.Verified). An input finding that was not read back from GuardDuty (a notify or skip decision of
// match, a rejection, verification switched off) could name any real finding with any type, and marking
// it handled would hide it from the people triaging: for it Close records nothing and says so.
func (c *Closer) Close(ctx context.Context, f *finding.Finding, d *mapping.Decision, outcome, execution string) ([]string, error) {
	if f == nil || f.ID == "" {
		return nil, nil
	}
	resolved := outcome == "remediated" || outcome == "already-done"
	var status shtypes.WorkflowStatus
	switch {
	case f.Source == "securityhub" && resolved:
		status = shtypes.WorkflowStatusResolved
	case f.Source == "securityhub" && outcome == "notify-only":
		status = shtypes.WorkflowStatusNotified
	case f.Source == "securityhub", !resolved:
		return nil, nil
	}
	if d == nil || !d.Verified {
		return nil, fmt.Errorf("close: finding %.128s was not read back from GuardDuty in this execution (only a remediate decision is), so nothing is recorded on it", f.ID)
	}
	if c.Vouch == nil {
		return nil, fmt.Errorf("close: no check of the signed plan is configured, so nothing is recorded on finding %.128s", f.ID)
	}
	if err := c.Vouch(ctx, f, d, execution); err != nil {
		return nil, fmt.Errorf("close: nothing is recorded on finding %.128s: %w", f.ID, err)
	}
	if status != "" {
		return c.securityHub(ctx, f, status, execution)
	}
	return c.guardDuty(ctx, f, execution)
}

func (c *Closer) guardDuty(ctx context.Context, f *finding.Finding, execution string) ([]string, error) {
	if !verify.ValidRegion(f.Region) {
		return nil, fmt.Errorf("close: finding %s: region %.128q is not an AWS region", f.ID, f.Region)
	}
	gd := c.GuardDuty(f.Region)
	det, err := c.detectors.Of(ctx, gd, f.Region)
	if err != nil {
		return nil, err
	}
	var done []string
	_, err = gd.UpdateFindingsFeedback(ctx, &guardduty.UpdateFindingsFeedbackInput{
		DetectorId: aws.String(det),
		FindingIds: []string{f.ID},
		Feedback:   gdtypes.FeedbackUseful,
		Comments:   aws.String(note("remediated by guardbots", execution)),
	})
	if err != nil {
		return nil, fmt.Errorf("close: GuardDuty UpdateFindingsFeedback %s on detector %s in %s: %w", f.ID, det, f.Region, err)
	}
	done = append(done, "GuardDuty feedback USEFUL")
	if c.Archive {
		if _, err := gd.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: aws.String(det), FindingIds: []string{f.ID}}); err != nil {
			return done, fmt.Errorf("close: GuardDuty ArchiveFindings %s on detector %s in %s: %w", f.ID, det, f.Region, err)
		}
		done = append(done, "GuardDuty finding archived")
	}
	return done, nil
}

func (c *Closer) securityHub(ctx context.Context, f *finding.Finding, status shtypes.WorkflowStatus, execution string) ([]string, error) {
	if !verify.ValidRegion(f.Region) || f.Arn == "" {
		return nil, fmt.Errorf("close: Security Hub finding %s has no GuardDuty ARN or region", f.ID)
	}
	partition := f.Partition
	if partition == "" {
		partition = "aws"
	}
	// GuardDuty's findings in Security Hub keep the GuardDuty finding ARN as their Id.
	id := shtypes.AwsSecurityFindingIdentifier{
		Id:         aws.String(f.Arn),
		ProductArn: aws.String(fmt.Sprintf("arn:%s:securityhub:%s::product/aws/guardduty", partition, f.Region)),
	}
	text := "remediated by guardbots"
	if status == shtypes.WorkflowStatusNotified {
		text = "notified by guardbots (mapping says notify only)"
	}
	out, err := c.SecurityHub(f.Region).BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
		FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{id},
		Workflow:           &shtypes.WorkflowUpdate{Status: status},
		Note:               &shtypes.NoteUpdate{Text: aws.String(note(text, execution)), UpdatedBy: aws.String("guardbots")},
	})
	if err != nil {
		return nil, fmt.Errorf("close: Security Hub BatchUpdateFindings %s in %s: %w", f.Arn, f.Region, err)
	}
	if len(out.UnprocessedFindings) > 0 {
		u := out.UnprocessedFindings[0]
		return nil, errors.New("close: Security Hub did not update " + f.Arn + ": " +
			aws.ToString(u.ErrorCode) + " " + aws.ToString(u.ErrorMessage))
	}
	return []string{"Security Hub workflow " + string(status)}, nil
}

// note fits Security Hub's 512-character note and GuardDuty's comment limit.
func note(text, execution string) string {
	s := text
	if execution != "" {
		s += ": " + execution
	}
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
