package demo

import (
	"strings"
	"testing"
)

// attackSequenceEvent is an attack sequence (written from the GuardDuty API model, like the project's
// fixtures) naming the demo's instance, bucket and role's access key, a bucket in a protected account,
// and a VPC.
const attackSequenceEvent = `{"version": "0", "id": "5c1e8b7a-0c43-4f2e-9a55-a4c6e8a0c2e4", "detail-type": "GuardDuty Finding",
 "source": "aws.guardduty", "account": "111122223333", "time": "2026-01-14T10:07:46Z", "region": "us-east-1", "resources": [],
 "detail": {"schemaVersion": "2.0", "accountId": "111122223333", "region": "us-east-1", "partition": "aws",
  "id": "b4c6e8a0c2e4a6c8e0a2b4c6d8e0f2b8",
  "arn": "arn:aws:guardduty:us-east-1:111122223333:detector/9e2f4a6c8b0d1e3f5a7c9e1b3d5f7a90/finding/b4c6e8a0c2e4a6c8e0a2b4c6d8e0f2b8",
  "type": "AttackSequence:S3/CompromisedData", "resource": {"resourceType": "AttackSequence"},
  "service": {"serviceName": "guardduty", "detectorId": "9e2f4a6c8b0d1e3f5a7c9e1b3d5f7a90", "action": {}, "resourceRole": "TARGET",
   "eventFirstSeen": "2026-01-14T09:12:41.000Z", "eventLastSeen": "2026-01-14T10:02:13.000Z", "archived": false, "count": 3,
   "detection": {"sequence": {"uid": "c2a7f1e0-59d3-4d7a-9b0f-2b1e3f4a5c6e", "description": "written for guardbots' workflow test",
    "resources": [
     {"uid": "{{instanceId}}", "name": "web-app-01", "accountId": "111122223333", "resourceType": "EC2_INSTANCE", "region": "us-east-1"},
     {"uid": "arn:aws:s3:::{{bucketName}}", "name": "{{bucketName}}", "accountId": "111122223333", "resourceType": "S3_BUCKET", "region": "us-east-1"},
     {"uid": "ASIAQEXAMPLE7DEMO001", "name": "{{roleName}}", "accountId": "111122223333", "resourceType": "ACCESS_KEY", "region": "us-east-1"},
     {"uid": "arn:aws:s3:::audit-logs-999988887777", "name": "audit-logs-999988887777", "accountId": "999988887777", "resourceType": "S3_BUCKET", "region": "us-east-1"},
     {"uid": "vpc-0a1b2c3d", "resourceType": "EC2_VPC", "accountId": "111122223333", "region": "us-east-1"}],
    "signals": [{"uid": "s-1", "type": "FINDING", "name": "UnauthorizedAccess:IAMUser/TorIPCaller", "severity": 5.0, "count": 3}],
    "actors": [{"id": "actor-1", "user": {"name": "{{roleName}}", "uid": "AROAQEXAMPLEROLEID001:i-demo", "type": "AssumedRole",
      "credentialUid": "ASIAQEXAMPLE7DEMO001", "account": {"uid": "111122223333"}},
     "session": {"uid": "AROAQEXAMPLEROLEID001:i-demo", "mfaStatus": "DISABLED"}}]}}},
  "severity": 9.2, "createdAt": "2026-01-14T09:20:11.512Z", "updatedAt": "2026-01-14T10:07:45.090Z",
  "title": "Potential data compromise of S3 buckets", "description": "written for guardbots' workflow test"}}`

// Every pair through the real bootstraps: verify signs each (action, member) pair on GuardDuty's copy
// (the stand-in), each bot acts on its member alone, and the notification lists every member with what
// was done to it. The rule sets AUTO itself (APPROVE is the default, and nobody approves locally).
func TestWorkflow_AttackSequenceActsOnEachMemberAndListsEveryMember(t *testing.T) {
	s := newStack(t, Options{Mapping: []byte(`{"version": 1, "defaults": {"protectedAccounts": ["999988887777"]}, "rules": [
	  {"match": "AttackSequence:*", "mode": "AUTO", "actions": [{"bot": "ec2_stop_instance"}, {"bot": "s3_block_public_access"}, {"bot": "iam_revoke_role_sessions"}]}]}`)})
	ex := run(t, s, "attack_sequence", []byte(attackSequenceEvent))
	wantCalls(t, ex, "parse", "transform", "match", "verify", "ec2_stop_instance", "s3_block_public_access", "iam_revoke_role_sessions", "notify")
	st := readBack(t, s)
	if st.Instance != "stopped" && st.Instance != "stopping" || !st.BucketBlocked || st.RevokedBefore == "" {
		t.Errorf("read back %+v: want the instance stopped, the bucket blocked, the role's sessions revoked", st)
	}
	n := oneNotification(t, ex)
	if n.Outcome != "remediated" {
		t.Errorf("outcome %s", n.Outcome)
	}
	got := map[string]string{}
	for _, m := range n.Body.Members {
		got[strings.SplitN(m.Member, " ", 3)[1]] = strings.Join(m.Done, "; ")
	}
	r := s.Resources
	for id, want := range map[string]string{
		r.InstanceID:                           "ec2_stop_instance: remediated",
		"arn:aws:s3:::" + r.Bucket:             "s3_block_public_access: remediated",
		"ASIAQEXAMPLE7DEMO001":                 "iam_revoke_role_sessions: remediated",
		"arn:aws:s3:::audit-logs-999988887777": "exempt: account 999988887777 is protected",
		"vpc-0a1b2c3d":                         "no action of mapping entry AttackSequence:* acts on Other members",
	} {
		if !strings.HasPrefix(got[id], want) {
			t.Errorf("member %s: %q, want it to start %q", id, got[id], want)
		}
	}
	if len(got) != 5 {
		t.Errorf("members %v", got)
	}
	if d := n.Body.Decision; d == nil || !d.Verified || len(d.Actions) != 3 || d.Actions[0].Member == nil || d.Actions[0].Member.ID != r.InstanceID {
		t.Errorf("decision %+v", n.Body.Decision)
	}
}
