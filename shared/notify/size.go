package notify

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
)

// MaxBody keeps the whole Publish (body, subject, attributes) under SNS's 256 KiB message limit.
const MaxBody = 256*1024 - 8*1024

// fitBody encodes body, dropping bulky parts step by step while it exceeds MaxBody.
func fitBody(body Body) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil || len(b) <= MaxBody {
		return b, err
	}
	body.Truncated = true
	steps := []struct {
		name string
		cut  func(*Body)
	}{
		{"finding.tags, finding.networkInterfaces, finding.containers, long remote IP lists", func(b *Body) { b.Finding = slimFinding(b.Finding) }},
		{"long errors, causes, reasons and change lists", func(b *Body) {
			b.Actions = cutResults(b.Actions, 4096, 50)
			if b.Error != nil {
				e := *b.Error
				e.Cause, e.Error = truncateUTF8(e.Cause, 4096), truncateUTF8(e.Error, 512)
				b.Error = &e
			}
			if b.Decision != nil {
				d := *b.Decision
				d.Reason = truncateUTF8(d.Reason, 1024)
				b.Decision = &d
			}
		}},
		{"finding details beyond its identifiers", func(b *Body) { b.Finding = coreFinding(b.Finding) }},
		{"decision action parameters", func(b *Body) {
			if b.Decision != nil {
				d := *b.Decision
				d.Actions = nil
				b.Decision = &d
			}
		}},
		{"action details beyond bot, status and reason", func(b *Body) { b.Actions = cutResults(b.Actions, 512, 0) }},
		{"error cause", func(b *Body) {
			if b.Error != nil {
				e := *b.Error
				e.Cause = truncateUTF8(e.Cause, 256)
				b.Error = &e
			}
		}},
	}
	for _, s := range steps {
		s.cut(&body)
		body.Omitted = append(body.Omitted, s.name)
		if b, err = json.Marshal(body); err != nil || len(b) <= MaxBody {
			return b, err
		}
	}
	// Pathological input (thousands of actions): keep what identifies the execution.
	body.Finding, body.Decision, body.Actions = coreFinding(body.Finding), nil, body.Actions[:min(len(body.Actions), 100)]
	body.Omitted = append(body.Omitted, "decision, actions beyond the first 100")
	return json.Marshal(body)
}

// slimFinding copies f without tags, interfaces, containers and long lists.
func slimFinding(f *finding.Finding) *finding.Finding {
	if f == nil {
		return nil
	}
	c := *f
	if f.Instance != nil {
		i := *f.Instance
		i.Tags, i.NetworkInterfaces = nil, nil
		c.Instance = &i
	}
	if f.Buckets != nil {
		c.Buckets = make([]finding.Bucket, len(f.Buckets))
		for i, b := range f.Buckets {
			b.Tags = nil
			c.Buckets[i] = b
		}
	}
	if f.EKS != nil {
		e := *f.EKS
		e.Tags = nil
		if len(e.UserGroups) > 20 {
			e.UserGroups = e.UserGroups[:20]
		}
		c.EKS = &e
	}
	if f.RDS != nil {
		r := *f.RDS
		r.Tags = nil
		c.RDS = &r
	}
	if f.Lambda != nil {
		l := *f.Lambda
		l.Tags = nil
		c.Lambda = &l
	}
	if f.Action != nil {
		a := *f.Action
		if len(a.RemoteIPs) > 20 {
			a.RemoteIPs = a.RemoteIPs[:20]
		}
		if len(a.LocalPorts) > 50 {
			a.LocalPorts = a.LocalPorts[:50]
		}
		if len(a.RemotePorts) > 50 {
			a.RemotePorts = a.RemotePorts[:50]
		}
		c.Action = &a
	}
	c.Containers = nil
	return &c
}

// coreFinding keeps what identifies the finding and its resource.
func coreFinding(f *finding.Finding) *finding.Finding {
	if f == nil {
		return nil
	}
	c := finding.Finding{
		ID: truncateUTF8(f.ID, 256), Arn: truncateUTF8(f.Arn, 512), Type: truncateUTF8(f.Type, 256),
		Severity: f.Severity, SeverityLabel: f.SeverityLabel,
		AccountID: truncateUTF8(f.AccountID, 64), Region: truncateUTF8(f.Region, 64), Partition: truncateUTF8(f.Partition, 64),
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, Count: f.Count,
		ResourceKind: f.ResourceKind, ResourceType: truncateUTF8(f.ResourceType, 128),
	}
	if f.Instance != nil {
		c.Instance = &finding.Instance{ID: truncateUTF8(f.Instance.ID, 64)}
	}
	if f.AccessKey != nil {
		c.AccessKey = &finding.AccessKey{AccessKeyID: truncateUTF8(f.AccessKey.AccessKeyID, 128), UserName: truncateUTF8(f.AccessKey.UserName, 128), UserType: f.AccessKey.UserType}
	}
	return &c
}

// cutResults copies results with long fields cut; maxChanges 0 drops changes and before/after.
func cutResults(rs []bots.Result, maxText, maxChanges int) []bots.Result {
	out := make([]bots.Result, len(rs))
	for i, r := range rs {
		r.Reason, r.Error, r.Cause = truncateUTF8(r.Reason, maxText), truncateUTF8(r.Error, 512), truncateUTF8(r.Cause, maxText)
		if maxChanges == 0 {
			r.Changes, r.Before, r.After, r.Resources = nil, nil, nil, nil
		} else {
			if len(r.Changes) > maxChanges {
				r.Changes = r.Changes[:maxChanges]
			}
			cs := make([]string, len(r.Changes))
			for j, c := range r.Changes {
				cs[j] = truncateUTF8(c, 512)
			}
			r.Changes = cs
		}
		out[i] = r
	}
	return out
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…[truncated]"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + mark
}
