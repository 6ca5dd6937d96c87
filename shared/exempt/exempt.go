// Package exempt reads the exemption tag (bots.ExemptionTag, "guardbots:exempt", any value) on the live
// resources a finding names, in the finding's account, with the bot's own (assumed-role) configuration.
// The tags in the finding are a snapshot taken when GuardDuty saw the activity: an owner who tagged the
// resource since, or removed the tag, must be obeyed, so they are never used here.
//
// The reads per resource kind are exactly bots.ExemptionOperationsFor(kind); the registry adds them to
// every bot that changes something, so the member roles grant them. Each kind's read lives in a small
// package beside its AWS service (ec2tags, iamtags, s3tags, lambdatags, rdstags) that registers it with
// RegisterReader: a bot family imports those of the kinds its bots act on, so a bot's Lambda links only
// the SDK clients it needs. This package imports none.
package exempt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/guardbots/guardbots/shared/finding"
)

// Target is one resource a finding names, as the rails key and report it.
type Target struct {
	// Kind is "instance", "iam-user", "iam-role", "access-key", "bucket", "lambda-function" or "rds-db".
	Kind string
	ID   string
	// arn is the resource's ARN where its tag read needs one (Lambda, RDS).
	arn string
}

// String reads well in a notification: "instance i-0abc", "bucket logs".
func (t Target) String() string { return t.Kind + " " + t.ID }

// ARN is the resource's ARN where its tag read needs one (Lambda, RDS), else "".
func (t Target) ARN() string { return t.arn }

// Reader reports whether target t, named by a finding of the kind the reader is registered for,
// carries the exemption tag now. A resource that no longer exists is not exempt (no error).
type Reader func(ctx context.Context, cfg aws.Config, t Target) (bool, error)

// readers are the tag reads linked into this binary, by resource kind; registered at init only.
var readers = map[finding.ResourceKind]Reader{}

// RegisterReader links the exemption tag read of resources of kind k; the per-kind packages call it
// from init.
func RegisterReader(k finding.ResourceKind, r Reader) {
	if _, dup := readers[k]; dup {
		panic(fmt.Sprintf("exempt: a reader for %s resources is registered twice", k))
	}
	readers[k] = r
}

// ReaderLinked reports whether the exemption tag read of resources of kind k is linked into this binary.
func ReaderLinked(k finding.ResourceKind) bool { return readers[k] != nil }

// Targets returns the resources the finding names for its resource kind, in a stable order. A root or
// federated principal has no taggable resource: it is named by its access key.
func Targets(f *finding.Finding) []Target {
	if f == nil {
		return nil
	}
	switch f.ResourceKind {
	case finding.KindInstance:
		if f.Instance != nil && f.Instance.ID != "" {
			return []Target{{Kind: "instance", ID: f.Instance.ID}}
		}
	case finding.KindAccessKey:
		k := f.AccessKey
		if k == nil {
			return nil
		}
		switch {
		case k.UserType == finding.UserTypeIAMUser && k.UserName != "":
			return []Target{{Kind: "iam-user", ID: k.UserName}}
		case (k.UserType == finding.UserTypeAssumedRole || k.UserType == finding.UserTypeRole) && k.UserName != "":
			return []Target{{Kind: "iam-role", ID: k.UserName}}
		case k.AccessKeyID != "":
			return []Target{{Kind: "access-key", ID: k.AccessKeyID}}
		}
	case finding.KindS3Bucket:
		var out []Target
		for _, b := range f.Buckets {
			if b.Name != "" {
				out = append(out, Target{Kind: "bucket", ID: b.Name})
			}
		}
		return out
	case finding.KindLambdaFunction:
		if l := f.Lambda; l != nil && (l.FunctionName != "" || l.FunctionArn != "") {
			arn := unqualifiedFunctionArn(l.FunctionArn)
			name := l.FunctionName
			if name == "" {
				name = arn[strings.LastIndex(arn, ":")+1:]
			}
			if arn == "" {
				arn = fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition(f), f.Region, f.AccountID, name)
			}
			return []Target{{Kind: "lambda-function", ID: name, arn: arn}}
		}
	case finding.KindRDSDBInstance:
		if r := f.RDS; r != nil {
			switch {
			case r.InstanceID != "":
				return []Target{{Kind: "rds-db", ID: r.InstanceID,
					arn: fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", partition(f), f.Region, f.AccountID, r.InstanceID)}}
			case r.ClusterID != "":
				return []Target{{Kind: "rds-cluster", ID: r.ClusterID,
					arn: fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", partition(f), f.Region, f.AccountID, r.ClusterID)}}
			}
		}
	}
	return nil
}

// Check returns the first of the finding's resources that carries the exemption tag now, or ok=false.
// A resource that no longer exists is not exempt (the bot then finds it gone and skips); any other
// read error is returned, and the caller must not act (fail closed) — as when the binary links no
// reader for the finding's resource kind.
func Check(ctx context.Context, cfg aws.Config, f *finding.Finding) (exempt Target, ok bool, err error) {
	for _, t := range Targets(f) {
		read := readers[f.ResourceKind]
		if read == nil {
			return Target{}, false, fmt.Errorf("exemption check of %s in account %s (%s): no exemption tag reader for %s resources is linked into this binary (import its shared/exempt/… package)", t, f.AccountID, f.Region, f.ResourceKind)
		}
		tagged, err := read(ctx, cfg, t)
		if err != nil {
			return Target{}, false, fmt.Errorf("exemption check of %s in account %s (%s): %w", t, f.AccountID, f.Region, err)
		}
		if tagged {
			return t, true, nil
		}
	}
	return Target{}, false, nil
}

// Ignore turns the listed "resource is gone / has no tags" error codes into no error, for readers.
func Ignore(err error, codes ...string) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		for _, c := range codes {
			if api.ErrorCode() == c {
				return nil
			}
		}
	}
	return err
}

// unqualifiedFunctionArn drops a version or alias: ListTags takes the function's own ARN.
func unqualifiedFunctionArn(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[5] != "function" {
		return ""
	}
	return strings.Join(parts[:7], ":")
}

func partition(f *finding.Finding) string {
	if f.Partition != "" {
		return f.Partition
	}
	return "aws"
}
