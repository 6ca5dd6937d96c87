package bots

import (
	"errors"

	"github.com/aws/smithy-go"
)

// What the bot families share and is free of any AWS service package: the tags bots write, the skip
// result and AWS error codes.

// Tag keys a bot writes on what it touches, so whoever looks at the resource sees why it changed.
const (
	TagFindingID = "guardbots:finding-id"
	TagBot       = "guardbots:bot"
	TagExecution = "guardbots:execution"
	// MaxTagValue is EC2's limit on a tag value (IAM, Lambda and RDS allow as much).
	MaxTagValue = 256
)

// TruncateTag cuts v to MaxTagValue.
func TruncateTag(v string) string {
	if len(v) > MaxTagValue {
		return v[:MaxTagValue]
	}
	return v
}

// SkipBecause sets res to skipped for reason.
func SkipBecause(res Result, reason string) Result {
	res.Status = StatusSkipped
	res.Reason = reason
	return res
}

// APIErrorCode is the AWS error code of err, or "".
func APIErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
