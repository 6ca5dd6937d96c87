package iambots

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// undoSourceIPBot is the bot's name, in its messages and its declaration: it undoes iam_deny_source_ip, for a person who
// decided the finding was wrong.
const undoSourceIPBot = "iam_undo_deny_source_ip"

func init() {
	bots.Register(bots.Bot{
		Name: undoSourceIPBot,
		Summary: "Undo iam_deny_source_ip: remove exactly the address deny iam_deny_source_ip added for the finding (its inline policy, when its Sid " +
			"still names the finding) and its state-table record.",
		Resources:  []finding.ResourceKind{finding.KindAccessKey},
		Targets:    []finding.TargetKind{finding.TargetIAMRole, finding.TargetIAMUser},
		Impact:     bots.ImpactDisruptive,
		Operations: []string{"iam:GetRole", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:GetUser", "iam:GetUserPolicy", "iam:DeleteUserPolicy"},
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			return undoDeny(ctx, iam.NewFromConfig(req.AWS), addressDeny, req)
		},
	})
}
