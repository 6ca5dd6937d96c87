package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/finding"
	"github.com/guardbots/guardbots/shared/notify"
)

// The attacks of issue 11, performed on the local stack: the demo's GuardDuty stand-in holds the real
// finding, and the event on the bus (or the execution's input) is the attacker's edit of it. Every Lambda
// is the real bootstrap; what a bot acted on is read back from kumo and from the bot's own input.

// edited is the named demo finding, substituted for the stack, with edits to its detail.
func edited(t *testing.T, s *Stack, name string, edits ...func(map[string]any)) []byte {
	t.Helper()
	f, err := FindingNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(s.Resources.Substitute(f.Event), &e); err != nil {
		t.Fatal(err)
	}
	for _, edit := range edits {
		edit(e["detail"].(map[string]any))
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// field sets detail's member at a dotted path.
func field(path string, v any) func(map[string]any) {
	return func(d map[string]any) {
		keys := strings.Split(path, ".")
		for _, k := range keys[:len(keys)-1] {
			d = d[k].(map[string]any)
		}
		d[keys[len(keys)-1]] = v
	}
}

// hold makes the stand-in hold the real finding first: the event the test runs afterwards cannot replace it.
func hold(t *testing.T, s *Stack, real []byte) {
	t.Helper()
	h, err := s.guardDuty.Hold(real)
	if err != nil || !h.Stored {
		t.Fatalf("hold: %+v %v", h, err)
	}
}

// runRaw runs event as it is (no placeholder substitution) and returns the execution.
func runRaw(t *testing.T, s *Stack, name string, event []byte) *Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := s.Run(ctx, tools(t), name, event, RunOptions{InstantRetries: true})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// botInput is the finding the named bot was invoked with (its first invocation).
func botInput(t *testing.T, ex *Execution, bot string) *finding.Finding {
	t.Helper()
	for _, in := range ex.Invokes {
		if in.Function != bot {
			continue
		}
		var b struct {
			Finding *finding.Finding `json:"finding"`
		}
		if err := json.Unmarshal(in.Input, &b); err != nil || b.Finding == nil {
			t.Fatalf("%s input %s: %v", bot, in.Input, err)
		}
		return b.Finding
	}
	t.Fatalf("%s was not invoked; calls %v", bot, ex.Calls())
	return nil
}

func botResult(t *testing.T, ex *Execution, bot string) bots.Result {
	t.Helper()
	for _, in := range ex.Invokes {
		if in.Function == bot {
			var r bots.Result
			if err := json.Unmarshal(in.Output, &r); err != nil {
				t.Fatalf("%s output %s: %v", bot, in.Output, err)
			}
			return r
		}
	}
	t.Fatalf("%s was not invoked; calls %v", bot, ex.Calls())
	return bots.Result{}
}

// matchDecision is what match decided on the input.
func matchDecision(t *testing.T, ex *Execution) string {
	t.Helper()
	for _, in := range ex.Invokes {
		if in.Function == "match" {
			var m struct {
				Decision struct{ Decision string } `json:"decision"`
			}
			_ = json.Unmarshal(in.Output, &m)
			return m.Decision.Decision
		}
	}
	return ""
}

// Attack: a real LOW finding of a type the default mapping isolates, its severity raised to 8 in the
// event. Match decides remediate on the input; verify decides again on GuardDuty's copy: below the floor.
func TestWorkflow_LowFindingWithItsSeverityRaisedIsNotQuarantined(t *testing.T) {
	s := newStack(t, Options{})
	asBackdoor := field("type", "Backdoor:EC2/C&CActivity.B")
	hold(t, s, edited(t, s, "ec2_malicious_ip_caller_custom", asBackdoor, field("severity", 2.0)))
	ex := runRaw(t, s, "raised-severity", edited(t, s, "ec2_malicious_ip_caller_custom", asBackdoor, field("severity", 8.0)))
	wantCalls(t, ex, "parse", "transform", "match", "verify", "notify")
	if d := matchDecision(t, ex); d != "remediate" {
		t.Fatalf("match decided %s on the forged input; the test needs remediate", d)
	}
	n := oneNotification(t, ex)
	if ex.Status != "SUCCEEDED" || n.Outcome != notify.OutcomeSkipped || !strings.Contains(n.Body.Summary, "severity 2 is below the floor 5") {
		t.Fatalf("execution %s, notified %s: %s", ex.Status, n.Outcome, n.Body.Summary)
	}
	if n.Body.FindingFrom != "guardduty" || n.Body.Finding.Severity != 2 || n.Body.Decision == nil || !n.Body.Decision.Verified ||
		!strings.Contains(n.Body.Decision.Verification, `severity (input "8", GuardDuty "2")`) {
		t.Errorf("notified finding from %s, severity %v, decision %+v", n.Body.FindingFrom, n.Body.Finding.Severity, n.Body.Decision)
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("instance is %s", st.Instance)
	}
}

// Attack: an ACTOR finding (the instance connects out to a threat-list IP) rewritten as TARGET with the
// VPC's NAT gateway as the remote address, under a mapping that blocks remote IPs. The bot gets
// GuardDuty's copy: the instance is the ACTOR, and the NAT address is in no input it sees.
func TestWorkflow_ActorRewrittenAsTargetDoesNotBlockTheNATAddress(t *testing.T) {
	s := newStack(t, Options{Mapping: []byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
	  "actions": [{"bot": "ec2_block_remote_ip"}]}]}`)})
	const nat = "10.40.0.5"
	hold(t, s, edited(t, s, "ec2_malicious_ip_caller_custom"))
	ex := runRaw(t, s, "actor-as-target", edited(t, s, "ec2_malicious_ip_caller_custom", field("service.resourceRole", "TARGET"),
		field("service.action.networkConnectionAction.remoteIpDetails.ipAddressV4", nat)))
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_block_remote_ip", "notify")
	in := botInput(t, ex, "ec2_block_remote_ip")
	if in.ResourceRole != "ACTOR" || in.Action == nil || slices.ContainsFunc(in.Action.RemoteIPs, func(r finding.RemoteIP) bool { return r.Address == nat }) {
		t.Fatalf("ec2_block_remote_ip got role %s, action %+v: the input's", in.ResourceRole, in.Action)
	}
	if r := botResult(t, ex, "ec2_block_remote_ip"); r.Status != bots.StatusSkipped || !strings.Contains(r.Reason, "ACTOR") {
		t.Errorf("ec2_block_remote_ip: %s (%s), want skipped: the instance is the ACTOR", r.Status, r.Reason)
	}
	for _, in := range ex.Invokes {
		if in.Function == "ec2_block_remote_ip" && (bytes.Contains(in.Input, []byte(nat)) || bytes.Contains(in.Output, []byte(nat))) {
			t.Errorf("the NAT address reached ec2_block_remote_ip: input %s, output %s", in.Input, in.Output)
		}
	}
}

// Attack: the instance profile in the event is a break-glass role's. iam_revoke_role_sessions revokes
// the sessions of the role GuardDuty named, and the break-glass role keeps its sessions.
func TestWorkflow_ForgedInstanceProfileDoesNotReachRevokeRoleSessions(t *testing.T) {
	s := newStack(t, Options{Mapping: []byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
	  "actions": [{"bot": "iam_revoke_role_sessions"}]}]}`)})
	ctx := context.Background()
	iamc := iam.NewFromConfig(s.AWS)
	breakGlass := "break-glass" + strings.TrimPrefix(s.Resources.RoleName, "web-app-role")
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(breakGlass), AssumeRolePolicyDocument: aws.String(trustEC2)}); err != nil {
		t.Fatal(err)
	}
	ip, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(breakGlass)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(breakGlass), RoleName: aws.String(breakGlass)}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, edited(t, s, "ec2_malicious_ip_caller_custom"))
	ex := runRaw(t, s, "forged-profile", edited(t, s, "ec2_malicious_ip_caller_custom",
		field("resource.instanceDetails.iamInstanceProfile.arn", InAccount(aws.ToString(ip.InstanceProfile.Arn)))))
	if in := botInput(t, ex, "iam_revoke_role_sessions"); in.Instance.InstanceProfileArn != s.Resources.InstanceProfileArn {
		t.Fatalf("iam_revoke_role_sessions got instance profile %s, want GuardDuty's %s", in.Instance.InstanceProfileArn, s.Resources.InstanceProfileArn)
	}
	if _, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(breakGlass), PolicyName: aws.String(RevokePolicyName)}); err == nil {
		t.Errorf("the break-glass role %s got %s", breakGlass, RevokePolicyName)
	}
	if st := readBack(t, s); st.RevokedBefore == "" {
		t.Errorf("the role GuardDuty named (%s) was not revoked: %v", s.Resources.RoleName, ex.Calls())
	}
}

// Attack: GuardDuty says the key is an assumed role's; the event says an IAM user's, and a user shares
// the role's name. The IAM-user bots see GuardDuty's user type and leave the user alone.
func TestWorkflow_ForgedUserTypeDoesNotMoveTheIAMBotsOntoAUser(t *testing.T) {
	s := newStack(t, Options{Mapping: []byte(`{"version": 1, "rules": [{"match": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
	  "actions": [{"bot": "iam_quarantine_user"}]}]}`)})
	if _, err := iam.NewFromConfig(s.AWS).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(s.Resources.RoleName)}); err != nil {
		t.Fatal(err)
	}
	hold(t, s, edited(t, s, "iam_instance_credential_exfiltration"))
	ex := runRaw(t, s, "forged-user-type", edited(t, s, "iam_instance_credential_exfiltration", field("resource.accessKeyDetails.userType", "IAMUser")))
	if in := botInput(t, ex, "iam_quarantine_user"); in.AccessKey.UserType != finding.UserTypeAssumedRole {
		t.Fatalf("iam_quarantine_user got user type %s, want GuardDuty's AssumedRole", in.AccessKey.UserType)
	}
	if r := botResult(t, ex, "iam_quarantine_user"); r.Status != bots.StatusSkipped || !strings.Contains(r.Reason, "not on iam-role "+s.Resources.RoleName) {
		t.Errorf("iam_quarantine_user: %s (%s), want skipped: an assumed role's session", r.Status, r.Reason)
	}
}

// Attack: a finding GuardDuty last updated 7 hours ago is replayed. The state table holds no claim for it
// (as after the duplicate-suppression window), so only its age stops it: verify skips it stale.
func TestWorkflow_OldFindingReplayedAfterTheDedupWindowIsSkippedStale(t *testing.T) {
	s := newStack(t, Options{})
	event := edited(t, s, "ec2_malicious_ip_caller_custom")
	if _, err := s.guardDuty.HoldAt(event, time.Now().Add(-7*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The replay says it is fresh; GuardDuty's copy says otherwise.
	ex := runRaw(t, s, "stale-replay", edited(t, s, "ec2_malicious_ip_caller_custom", field("updatedAt", time.Now().UTC().Format(time.RFC3339))))
	wantCalls(t, ex, "parse", "transform", "match", "verify", "notify")
	n := oneNotification(t, ex)
	if ex.Status != "SUCCEEDED" || n.Outcome != notify.OutcomeSkipped || !strings.Contains(n.Body.Summary, "stale: GuardDuty last updated the finding at") ||
		!strings.Contains(n.Body.Summary, "longer than the maximum finding age of 6h0m0s") {
		t.Fatalf("execution %s, notified %s: %s", ex.Status, n.Outcome, n.Body.Summary)
	}
	if st := readBack(t, s); st.Instance != "running" {
		t.Errorf("instance is %s", st.Instance)
	}
}

// The Security Hub route verifies through GuardDuty the same way: the ASFF event names the finding, the
// bots act on GuardDuty's copy, and the route is kept for closing the loop.
func TestWorkflow_SecurityHubEventActsOnGuardDutysCopy(t *testing.T) {
	s := newStack(t, Options{})
	real := edited(t, s, "ec2_malicious_ip_caller_custom")
	hold(t, s, real)
	raw, err := os.ReadFile(filepath.Join(moduleRoot, "shared", "finding", "testdata", "events", "envelope_securityhub_imported.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The fixture, naming the demo finding's id but another instance (a forged resource).
	const forged = "i-0bbbbbbbbbbbbbbbb"
	sh := bytes.ReplaceAll(raw, []byte("a2c4e6f8a0b2c4e6f8a0b2c4e6f8a0b2"), []byte(findingIDOf(real)))
	sh = bytes.ReplaceAll(sh, []byte("i-0abc1234def567890"), []byte(forged))
	ex := runRaw(t, s, "securityhub", sh)
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_tag_instance", "ec2_stop_instance", "notify")
	for _, bot := range []string{"ec2_tag_instance", "ec2_stop_instance"} {
		if in := botInput(t, ex, bot); in.Instance.ID != s.Resources.InstanceID || in.Source != "securityhub" {
			t.Errorf("%s got instance %s (source %s), want GuardDuty's %s by the Security Hub route", bot, in.Instance.ID, in.Source, s.Resources.InstanceID)
		}
	}
	n := oneNotification(t, ex)
	if n.Outcome != notify.OutcomeRemediated || !strings.Contains(n.Body.Decision.Verification, `instance (input "`+forged+`", GuardDuty "`+s.Resources.InstanceID+`")`) {
		t.Errorf("notified %s, verification %q", n.Outcome, n.Body.Decision.Verification)
	}
	if st := readBack(t, s); st.Instance != "stopped" && st.Instance != "stopping" {
		t.Errorf("instance is %s", st.Instance)
	}
}

// The stand-in stamps updatedAt when it stores a finding and keeps what it stored: a replay with edited
// fields acts on the first copy, and the trace says which happened.
func TestGuardDutyStandIn_StampsUpdatedAtAndKeepsItsFirstCopy(t *testing.T) {
	g := newGuardDutyStandIn()
	defer g.Close()
	f, err := FindingNamed("ec2_malicious_ip_caller_custom")
	if err != nil {
		t.Fatal(err)
	}
	r := Resources{InstanceID: "i-0123456789abcdef0", InstanceProfileArn: "arn:aws:iam::111122223333:instance-profile/p", RoleName: "r", Bucket: "b-b-b"}
	event := r.Substitute(f.Event)
	before := time.Now().Add(-time.Second)
	first, err := g.Hold(event)
	if err != nil || !first.Stored || first.UpdatedAt.Before(before) || !strings.Contains(first.String(), "stored finding 7ac8e41d2b9f4c6a8d3e5f7a9b1c3d51 as GuardDuty's copy, updatedAt stamped") {
		t.Fatalf("first hold %+v (%s), %v", first, first, err)
	}
	held, _ := g.Copy(first.ID)
	var copyOf struct {
		UpdatedAt string  `json:"updatedAt"`
		Severity  float64 `json:"severity"`
	}
	if err := json.Unmarshal(held, &copyOf); err != nil || copyOf.UpdatedAt != first.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00") || copyOf.Severity != 5 {
		t.Fatalf("held copy %s", held)
	}
	again, err := g.Hold(bytes.Replace(event, []byte(`"severity": 5.0`), []byte(`"severity": 8.0`), 1))
	if err != nil || again.Stored || !again.UpdatedAt.Equal(first.UpdatedAt) || !strings.Contains(again.String(), "already holds finding") {
		t.Fatalf("second hold %+v, %v", again, err)
	}
	if now, _ := g.Copy(first.ID); !bytes.Equal(now, held) {
		t.Errorf("the edited event replaced the copy: %s", now)
	}
	if _, err := g.Hold([]byte(`{"not":"a finding"}`)); err == nil {
		t.Error("an event parse rejects was held")
	}
}
