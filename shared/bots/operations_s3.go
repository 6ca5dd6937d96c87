package bots

// s3Operations are the S3 and S3 Control operations bots call. Their IAM actions do not share the
// operations' names: bucket-level and account-level public access blocks are different actions.
var s3Operations = map[string][]string{
	"s3:GetPublicAccessBlock": {"s3:GetBucketPublicAccessBlock"},
	"s3:PutPublicAccessBlock": {"s3:PutBucketPublicAccessBlock"},
	// S3 Control's operations have the same names as S3's; they are keyed by the SDK's service name so
	// the account-level block never grants the bucket-level action, or the reverse.
	"s3control:GetPublicAccessBlock": {"s3:GetAccountPublicAccessBlock"},
	"s3control:PutPublicAccessBlock": {"s3:PutAccountPublicAccessBlock"},
}
