package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
)

// The hourly clean-up of expired IAM denies, on this machine: kumo has no clock to move, so the demo
// writes on its role what iam_deny_session would have written 13 hours ago — a session deny whose tokens
// have all expired, and its state-table record — and then starts the workflow with the schedule's
// request (steps.ScheduleRequest), as the deployment's hourly rule does.

// CleanupScene names the demo's clean-up execution and its expectation.
const CleanupScene = "hourly_cleanup_of_expired_iam_denies"

// ExpiredDenyFinding is the finding id of the deny PlantExpiredDeny writes.
const ExpiredDenyFinding = "c0ffee00c0ffee00c0ffee00c0ffee00"

// ExpiredDenyPolicy is the inline policy PlantExpiredDeny writes.
const ExpiredDenyPolicy = DenyPolicyPrefix + "session-" + ExpiredDenyFinding

// PlantExpiredDeny writes the expired session deny on the demo role, and its record, as the bot would
// have 13 hours ago (the role's sessions last an hour: its tokens all expired an hour ago).
func (s *Stack) PlantExpiredDeny(ctx context.Context) error {
	r := s.Resources
	issued := time.Now().UTC().Truncate(time.Second).Add(-13 * time.Hour)
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"GuardbotsDenySession%s","Effect":"Deny","Action":"*","Resource":"*",`+
		`"Condition":{"StringEquals":{"aws:userId":"%s:i-0aaaabbbbccccdddd"},"DateLessThan":{"aws:TokenIssueTime":"%s"}}}]}`,
		ExpiredDenyFinding, r.RoleID, issued.Format(time.RFC3339))
	if _, err := iam.NewFromConfig(s.AWS).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r.RoleName),
		PolicyName: aws.String(ExpiredDenyPolicy), PolicyDocument: aws.String(doc)}); err != nil {
		return fmt.Errorf("demo: plant the expired deny on role %s: %w", r.RoleName, err)
	}
	expires := issued.Add(12 * time.Hour)
	rec, err := json.Marshal(bots.DenyRecord{Bot: "iam_deny_session", FindingID: ExpiredDenyFinding, Account: Account, Region: "us-east-1",
		Partition: "aws", Principal: "role", Name: r.RoleName, Policy: ExpiredDenyPolicy, Document: doc, AddedAt: issued, ExpiresAt: expires})
	if err != nil {
		return err
	}
	key := bots.DenyRecordKey("session", "aws", Account, "role", r.RoleName, ExpiredDenyFinding)
	if err := s.StateTable().PutExpiring(ctx, key, rec, expires.Add(bots.DenyRecordGrace)); err != nil {
		return fmt.Errorf("demo: record the expired deny: %w", err)
	}
	return nil
}
