package steps

import (
	"bytes"
	"encoding/json"
	"regexp"

	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/guardduty"
)

// A release request asks the workflow to undo guardbots' containment of one finding (the chat's Release
// button starts an execution with it). Whoever may start an execution can send one, with anything in it:
// it only names a finding. Parse checks its form, transform and match pass it on as a finding with only
// those three fields, and the verify step plans the release from GuardDuty's own copy of the finding and
// the bot registry's undo bots (bots.UndoBot) — never from the request — each action in APPROVE mode, so
// nothing changes until a person with the approver's rights approves it, and signs the plan. The undo
// bots then act only on what their own containment recorded in the state table.
const (
	// TaskRelease is a release request's task ("guardbots": "release").
	TaskRelease = "release"
	// SourceRelease is parse's source for a release request, and the source of the finding it names.
	SourceRelease guardduty.Source = "release"
	// ReleaseKey is the mapping key a release's actions are signed and audited under.
	ReleaseKey = "release request"
)

// ReleaseRequest is a release request: {"guardbots":"release","findingId":…,"accountId":…,"region":…}.
type ReleaseRequest struct {
	Task      string `json:"guardbots"`
	FindingID string `json:"findingId"`
	AccountID string `json:"accountId"`
	Region    string `json:"region"`
}

var (
	releaseIDRE      = regexp.MustCompile(`^[A-Za-z0-9:/._-]+$`)
	releaseAccountRE = regexp.MustCompile(`^\d{12}$`)
	releaseRegionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
)

// releaseRequest reports whether raw asks for a release ("guardbots": "release" at the top), and if so
// the parsed request, or a Rejected error naming what is wrong with it: only the four members, each of
// its strict form.
func releaseRequest(raw []byte) (*ReleaseRequest, bool, error) {
	if !bytes.Contains(raw, []byte(`"guardbots"`)) {
		return nil, false, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false, nil
	}
	var task string
	if json.Unmarshal(m["guardbots"], &task) != nil || task != TaskRelease {
		return nil, false, nil
	}
	var r ReleaseRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, true, faults.Rejectf("parse: release request: %v (want only guardbots, findingId, accountId and region)", err)
	}
	switch {
	case len(r.FindingID) == 0 || len(r.FindingID) > 512 || !releaseIDRE.MatchString(r.FindingID):
		return nil, true, faults.Rejectf("parse: release request: findingId is not a finding id")
	case !releaseAccountRE.MatchString(r.AccountID):
		return nil, true, faults.Rejectf("parse: release request: accountId is not a 12-digit account id")
	case !releaseRegionRE.MatchString(r.Region):
		return nil, true, faults.Rejectf("parse: release request: region is not a region name")
	}
	return &r, true, nil
}

// releaseFinding is the finding a release request names: its id, account and region, nothing else.
func releaseFinding(p *guardduty.Parsed) *finding.Finding {
	return &finding.Finding{ID: p.Finding.ID, AccountID: p.Finding.AccountID, Region: p.Finding.Region, Source: string(SourceRelease)}
}

// IsRelease reports whether f is the finding of a release request (match and verify route on it).
func IsRelease(f *finding.Finding) bool { return f != nil && f.Source == string(SourceRelease) }
