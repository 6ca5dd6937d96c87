package iambots

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The policies the deny bots write are checked by evaluating them, not by comparing strings: with the
// maintained IAM simulator the repository already pins (@cloud-copilot/iam-simulate, run by
// .tools/iamcheck.mjs, which make tools installs), a request is evaluated against the role's own
// permissions (allow everything) plus the inline policies read back from the emulator.

// evalRequest is one request to evaluate: who, what context (aws:userId, aws:TokenIssueTime,
// aws:SourceIp, aws:ViaAWSService, aws:CurrentTime), and the answer IAM must give.
type evalRequest struct {
	name      string
	principal string
	context   map[string]string
	want      string // "Allowed" or "Denied"
}

// evaluate evaluates each request against allow-all plus policies (name → document) and fails the test
// for each answer that is not the one wanted.
func evaluate(t *testing.T, account string, policies map[string]string, reqs []evalRequest) {
	t.Helper()
	var identity []map[string]any
	for name, doc := range policies {
		var p any
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			t.Fatalf("policy %s is not JSON: %v\n%s", name, err, doc)
		}
		identity = append(identity, map[string]any{"name": name, "policy": p})
	}
	var sims []map[string]any
	for _, r := range reqs {
		sims = append(sims, map[string]any{
			"name": r.name, "principal": map[string]string{"arn": r.principal}, "identity": "allowAll",
			"identityPolicies": identity, "action": "s3:ListAllMyBuckets", "resource": "*",
			"resourceAccount": account, "context": r.context, "want": r.want,
		})
	}
	out := runIAMCheck(t, map[string]any{"simulations": sims})
	var report struct {
		Simulations []struct {
			Name, Want, Got, Detail string
			OK                      bool
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("iamcheck output: %v\n%s", err, out)
	}
	if len(report.Simulations) != len(reqs) {
		t.Fatalf("iamcheck evaluated %d of %d requests:\n%s", len(report.Simulations), len(reqs), out)
	}
	for _, s := range report.Simulations {
		if !s.OK {
			t.Errorf("%s: IAM says %s, want %s (%s)", s.Name, s.Got, s.Want, s.Detail)
		}
	}
}

// runIAMCheck runs .tools/iamcheck.mjs on input with the repository's Node.
func runIAMCheck(t *testing.T, input any) []byte {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tools/node_modules/@cloud-copilot/iam-simulate")); err != nil {
		t.Fatalf("evaluating the policies needs the pinned IAM simulator: run make tools (%v)", err)
	}
	node := filepath.Join(root, ".tools/node_modules/.bin/node")
	if _, err := os.Stat(node); err != nil {
		node = "node"
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(root, ".tools/iamcheck.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iamcheck: %v\n%s", err, stderr.String())
	}
	return out
}

// The simulator evaluates the condition operators the bots use as AWS documents them: AWS's own
// examples, with the answers the documentation gives.
func TestPolicyEvaluation_TheSimulatorAnswersAWSsDocumentedExamples(t *testing.T) {
	const account = "111122223333"
	session := "arn:aws:sts::" + account + ":assumed-role/web/s"
	// "Revoking IAM role temporary security credentials": the policy the console adds (AWSRevokeOlderSessions).
	revoke := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2014-05-07T23:47:00Z"}}}]}`
	evaluate(t, account, map[string]string{"AWSRevokeOlderSessions": revoke}, []evalRequest{
		{"a token issued before the revoke time", session, map[string]string{"aws:TokenIssueTime": "2014-05-07T23:46:59Z"}, "Denied"},
		{"a token issued after it", session, map[string]string{"aws:TokenIssueTime": "2014-05-07T23:47:01Z"}, "Allowed"},
		{"long-term credentials carry no token issue time", session, map[string]string{}, "Allowed"},
	})
	// "AWS: Denies access to AWS based on the source IP".
	denyIP := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}}`
	evaluate(t, account, map[string]string{"deny-ip": denyIP}, []evalRequest{
		{"from inside the listed range", session, map[string]string{"aws:SourceIp": "192.0.2.17"}, "Allowed"},
		{"from outside it", session, map[string]string{"aws:SourceIp": "198.51.100.4"}, "Denied"},
	})
	// "Revoke access for deleted users" (IAM Identity Center): a deny on one user's aws:userId.
	deleted := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:UserId":"*:deleteduser@domain.com"}}}]}`
	evaluate(t, account, map[string]string{"deleted-user": deleted}, []evalRequest{
		{"that user's session", session, map[string]string{"aws:userId": "AROAEXAMPLE:deleteduser@domain.com"}, "Denied"},
		{"another user's", session, map[string]string{"aws:userId": "AROAEXAMPLE:someone@domain.com"}, "Allowed"},
	})
}
