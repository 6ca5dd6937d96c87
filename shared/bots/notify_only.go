package bots

import (
	"context"
	"slices"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

func init() {
	Register(Bot{
		Name:      "notify_only",
		Summary:   "Change nothing; the notification is the action (EKS, runtime, malware and root findings).",
		Resources: slices.Clone(finding.ResourceKinds),
		Impact:    ImpactNone,
		Run:       runNotifyOnly,
	})
}

func runNotifyOnly(_ context.Context, req Request) (Result, error) {
	if req.Finding == nil {
		return Result{}, faults.Rejectf("notify_only: no finding in the request")
	}
	return Result{
		Bot:     "notify_only",
		Status:  StatusNotified,
		Reason:  "notify only: no change made; the notification is the action",
		Account: req.Finding.AccountID,
		Region:  req.Finding.Region,
		DryRun:  req.DryRun,
	}, nil
}
