package demo

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/guardbots/guardbots/shared/guardduty"
	"github.com/guardbots/guardbots/shared/mapping"
)

// The demo's findings are GuardDuty "GuardDuty Finding" EventBridge events written for this project
// (made-up values, not GuardDuty samples). Identifiers of resources the demo creates in kumo are
// placeholders, replaced before each run (Substitute): {{instanceId}}, {{instanceProfileArn}},
// {{roleName}}, {{roleId}}, {{bucketName}}, and the uploaded object's {{uploadsBucket}}, {{objectKey}},
// {{objectVersion}} and {{objectETag}}. A user's event passed with EVENT= gets the same substitution, so it
// can aim at the demo's resources too.
//
// The instance-credential finding is in the assumed-role shape GuardDuty documents for the type — the
// access key of a session of the instance's role, principalId "<role id>:<instance id>" (EC2 names the
// session after the instance), userType AssumedRole — which the public corpus has no example of: its
// samples of the type carry userType IAMUser and placeholder ids.
//
//go:embed findings/*.json
var findingFiles embed.FS

//go:embed mapping.json
var mappingDoc []byte

// Mapping is the demo mapping: the default mapping with the instance-credential rule's chain on the
// instance cut to ec2_tag_instance — kumo lacks calls the other EC2 bots make (they are tested with SDK
// stubs) — so the two IAM deny bots and the related instance run end to end.
func Mapping() []byte { return mappingDoc }

// Finding is one committed demo finding.
type Finding struct {
	// Name is the file name without its number and extension, e.g. "ec2_malicious_ip_caller_custom".
	Name  string
	Event []byte
	// Note says what the scene shows, when it needs saying.
	Note string
}

// Findings returns the demo findings in file order.
func Findings() ([]Finding, error) {
	paths, err := fs.Glob(findingFiles, "findings/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Finding
	for _, p := range paths {
		b, err := findingFiles.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".json")
		if i := strings.IndexByte(name, '_'); i > 0 {
			name = name[i+1:]
		}
		out = append(out, Finding{Name: name, Event: b})
	}
	return out, nil
}

// FindingNamed returns the demo finding called name.
func FindingNamed(name string) (Finding, error) {
	all, err := Findings()
	if err != nil {
		return Finding{}, err
	}
	for _, f := range all {
		if f.Name == name {
			return f, nil
		}
	}
	return Finding{}, fmt.Errorf("demo: no finding %q", name)
}

// Substitute replaces the placeholders in event with the stack's resources.
func (r Resources) Substitute(event []byte) []byte {
	return []byte(strings.NewReplacer(
		"{{instanceId}}", r.InstanceID,
		"{{instanceProfileArn}}", r.InstanceProfileArn,
		"{{roleName}}", r.RoleName,
		"{{roleId}}", r.RoleID,
		"{{bucketName}}", r.Bucket,
		"{{uploadsBucket}}", r.Uploads,
		"{{objectKey}}", r.Object,
		"{{objectVersion}}", r.ObjectVersion,
		// The ETag is a quoted string inside a JSON string: its quotes are escaped there.
		"{{objectETag}}", strings.ReplaceAll(r.ObjectETag, `"`, `\"`),
	).Replace(string(event)))
}

// EditedReplay is the demo's last scene: the first demo finding sent again with fields an attacker would
// edit (another instance, severity raised to HIGH, the instance made the TARGET). GuardDuty (the stand-in)
// already holds that finding, so verify reads back the copy it holds and the bots act on it: on the
// demo's instance, which the first scene already handled, never on the instance the replay names.
func EditedReplay() (Finding, error) {
	f, err := FindingNamed(ReplayOf)
	if err != nil {
		return Finding{}, err
	}
	var e map[string]any
	if err := json.Unmarshal(f.Event, &e); err != nil {
		return Finding{}, fmt.Errorf("demo: %s: %w", f.Name, err)
	}
	d := e["detail"].(map[string]any)
	d["severity"] = 8.0
	d["resource"].(map[string]any)["instanceDetails"].(map[string]any)["instanceId"] = ReplayInstance
	d["service"].(map[string]any)["resourceRole"] = "TARGET"
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return Finding{}, err
	}
	return Finding{Name: "replay_edited_" + f.Name, Event: b,
		Note: fmt.Sprintf("%s sent again, edited: instance %s, severity 8.0, resourceRole TARGET; GuardDuty (the stand-in) already holds the finding", f.Name, ReplayInstance)}, nil
}

// ReplayOf is the demo finding EditedReplay edits; ReplayInstance the instance its edit names.
const (
	ReplayOf       = "ec2_malicious_ip_caller_custom"
	ReplayInstance = "i-0feedfacefeedface"
)

// FloorNote says when event's finding is under the default severityFloor ("" otherwise): the demo hands
// each event to the execution, so the EventBridge rule that keeps such findings out in AWS is not there.
func FloorNote(event []byte) string {
	p, err := guardduty.Parse(event)
	if err != nil || p.Finding.Severity >= mapping.DefaultSeverityFloor {
		return ""
	}
	return fmt.Sprintf("severity %g is under the default severityFloor %d: in AWS the EventBridge rule would not start the workflow for it (the demo hands events to the execution); a deployment acts on it only with severityFloor %g or lower",
		p.Finding.Severity, mapping.DefaultSeverityFloor, p.Finding.Severity)
}
