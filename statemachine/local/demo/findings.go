package demo

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// The demo's findings are GuardDuty "GuardDuty Finding" EventBridge events written for this project
// (made-up values, not GuardDuty samples). Identifiers of resources the demo creates in kumo are
// placeholders, replaced before each run (Substitute): {{instanceId}}, {{instanceProfileArn}},
// {{roleName}} and {{bucketName}}. A user's event passed with EVENT= gets the same substitution, so it
// can aim at the demo's resources too.
//
//go:embed findings/*.json
var findingFiles embed.FS

//go:embed mapping.json
var mappingDoc []byte

// Mapping is the demo mapping: the default mapping plus one rule that revokes the role sessions of
// UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS (the default only notifies it).
func Mapping() []byte { return mappingDoc }

// Finding is one committed demo finding.
type Finding struct {
	// Name is the file name without its number and extension, e.g. "ec2_malicious_ip_caller_custom".
	Name  string
	Event []byte
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
		"{{bucketName}}", r.Bucket,
	).Replace(string(event)))
}
