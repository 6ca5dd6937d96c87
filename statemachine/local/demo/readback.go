package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// RevokePolicyName is the inline policy iam_revoke_role_sessions puts on the role.
const RevokePolicyName = "guardbots-revoke-older-sessions"

// State is the demo resources as read back from kumo.
type State struct {
	Instance string // EC2 state name: running, stopping, stopped, …
	// RevokedBefore is the aws:TokenIssueTime of the role's revoke policy, "" when the role has none.
	RevokedBefore string
	// Denies are the role's guardbots deny policies (iam_deny_session, iam_deny_source_ip), one line each:
	// the policy, its Sid and its condition as IAM holds it. SessionDenied and AddressDenied are their
	// conditions' key values ("" when the role has no such deny).
	Denies                       []string
	SessionDenied, AddressDenied string
	// BucketBlocked tells whether all four public access block settings are on.
	BucketBlocked bool
	BucketBlock   string
	// ObjectQuarantined tells whether the uploaded version is gone from its bucket and its copy is in
	// the account's quarantine bucket; Object says where each is.
	ObjectQuarantined bool
	Object            string
}

// ReadBack reads the instance, the role's policy and the bucket's public access block from kumo.
func (s *Stack) ReadBack(ctx context.Context) (State, error) {
	var st State
	r := s.Resources
	d, err := ec2.NewFromConfig(s.AWS).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.InstanceID}})
	if err != nil {
		return st, fmt.Errorf("demo: read back instance %s: %w", r.InstanceID, err)
	}
	for _, res := range d.Reservations {
		for _, in := range res.Instances {
			if in.State != nil {
				st.Instance = string(in.State.Name)
			}
		}
	}
	p, err := iam.NewFromConfig(s.AWS).GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(r.RoleName), PolicyName: aws.String(RevokePolicyName)})
	switch {
	case err == nil:
		doc := aws.ToString(p.PolicyDocument)
		if u, uerr := url.QueryUnescape(doc); uerr == nil {
			doc = u // IAM returns policy documents URL-encoded
		}
		st.RevokedBefore = "(policy present)"
		if m := tokenIssueRE.FindStringSubmatch(doc); m != nil {
			st.RevokedBefore = m[1]
		}
	case apiCode(err) == "NoSuchEntity":
	default:
		return st, fmt.Errorf("demo: read back the policies of role %s: %w", r.RoleName, err)
	}
	if err := s.readDenies(ctx, &st); err != nil {
		return st, err
	}
	b, err := s3.NewFromConfig(s.AWS).GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(r.Bucket)})
	switch {
	case err == nil && b.PublicAccessBlockConfiguration != nil:
		c := b.PublicAccessBlockConfiguration
		st.BucketBlocked = aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.RestrictPublicBuckets)
		st.BucketBlock = fmt.Sprintf("BlockPublicAcls=%t IgnorePublicAcls=%t BlockPublicPolicy=%t RestrictPublicBuckets=%t",
			aws.ToBool(c.BlockPublicAcls), aws.ToBool(c.IgnorePublicAcls), aws.ToBool(c.BlockPublicPolicy), aws.ToBool(c.RestrictPublicBuckets))
	case err == nil, apiCode(err) == "NoSuchPublicAccessBlockConfiguration":
		st.BucketBlock = "no public access block"
	default:
		return st, fmt.Errorf("demo: read back the public access block of %s: %w", r.Bucket, err)
	}
	st.ObjectQuarantined, st.Object, err = s.readBackObject(ctx)
	return st, err
}

// readBackObject reads the uploaded version and its quarantine copy (s3_quarantine_object's key:
// <bucket>/<version>/<key> in guardbots-quarantine-<account>-<region>).
func (s *Stack) readBackObject(ctx context.Context) (bool, string, error) {
	r, c := s.Resources, s3.NewFromConfig(s.AWS)
	exists := func(bucket, key, version string) (bool, error) {
		in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
		if version != "" {
			in.VersionId = aws.String(version)
		}
		out, err := c.GetObject(ctx, in)
		switch code := apiCode(err); {
		case err == nil:
			out.Body.Close()
			return true, nil
		case code == "NoSuchKey" || code == "NoSuchVersion" || code == "NoSuchBucket":
			return false, nil
		}
		return false, fmt.Errorf("demo: read back s3://%s/%s: %w", bucket, key, err)
	}
	src, err := exists(r.Uploads, r.Object, r.ObjectVersion)
	if err != nil {
		return false, "", err
	}
	qb, qk := "guardbots-quarantine-"+Account+"-"+Region, r.Uploads+"/"+r.ObjectVersion+"/"+r.Object
	cp, err := exists(qb, qk, "")
	if err != nil {
		return false, "", err
	}
	where := fmt.Sprintf("s3://%s/%s version %s %s; quarantine copy s3://%s/%s %s", r.Uploads, r.Object, r.ObjectVersion,
		map[bool]string{true: "present", false: "deleted"}[src], qb, qk, map[bool]string{true: "present", false: "absent"}[cp])
	return !src && cp, where, nil
}

// DenyPolicyPrefix starts the inline policies the deny bots write ("guardbots-deny-session-<finding>").
const DenyPolicyPrefix = "guardbots-deny-"

// readDenies reads the role's guardbots deny policies back from kumo.
func (s *Stack) readDenies(ctx context.Context, st *State) error {
	r := s.Resources
	iamc := iam.NewFromConfig(s.AWS)
	names, err := iamc.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(r.RoleName)})
	if err != nil {
		return fmt.Errorf("demo: list the inline policies of role %s: %w", r.RoleName, err)
	}
	for _, n := range names.PolicyNames {
		if !strings.HasPrefix(n, DenyPolicyPrefix) {
			continue
		}
		p, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(r.RoleName), PolicyName: aws.String(n)})
		if err != nil {
			return fmt.Errorf("demo: read back policy %s of role %s: %w", n, r.RoleName, err)
		}
		doc := aws.ToString(p.PolicyDocument)
		if u, uerr := url.QueryUnescape(doc); uerr == nil {
			doc = u
		}
		var d struct {
			Statement []struct {
				Sid       string
				Effect    string
				Condition map[string]map[string]any
			}
		}
		if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Statement) != 1 {
			st.Denies = append(st.Denies, fmt.Sprintf("%s: not a deny statement guardbots wrote: %s", n, doc))
			continue
		}
		stmt := d.Statement[0]
		cond, _ := json.Marshal(stmt.Condition)
		st.Denies = append(st.Denies, fmt.Sprintf("%s: Sid %s, %s * when %s", n, stmt.Sid, stmt.Effect, cond))
		if u, ok := stmt.Condition["StringEquals"]["aws:userId"].(string); ok {
			st.SessionDenied = fmt.Sprintf("%s, tokens issued before %v", u, stmt.Condition["DateLessThan"]["aws:TokenIssueTime"])
		}
		if ips, ok := stmt.Condition["IpAddress"]["aws:SourceIp"]; ok {
			st.AddressDenied = fmt.Sprintf("%v until %v", ips, stmt.Condition["DateLessThan"]["aws:CurrentTime"])
		}
	}
	return nil
}

var tokenIssueRE = regexp.MustCompile(`"aws:TokenIssueTime"\s*:\s*"([^"]+)"`)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
