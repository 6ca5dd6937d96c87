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

	// Object quarantine and release. HeadObject shows an object's Object Lock retention and legal hold
	// only to a caller allowed to read them, so it needs those actions too; a version's reads and
	// deletes are actions of their own.
	"s3:HeadObject":              {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"},
	"s3:CopyObject":              {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
	"s3:CreateMultipartUpload":   {"s3:PutObject"},
	"s3:UploadPartCopy":          {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
	"s3:CompleteMultipartUpload": {"s3:PutObject"},
	"s3:AbortMultipartUpload":    {"s3:AbortMultipartUpload"},
	"s3:DeleteObject":            {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"s3:GetBucketVersioning":     {"s3:GetBucketVersioning"},
	// The quarantine bucket, created on first use in each account and region. CreateBucket with
	// ObjectOwnership needs s3:PutBucketOwnershipControls too.
	"s3:HeadBucket":          {"s3:ListBucket"},
	"s3:CreateBucket":        {"s3:CreateBucket", "s3:PutBucketOwnershipControls"},
	"s3:PutBucketVersioning": {"s3:PutBucketVersioning"},
	"s3:GetBucketEncryption": {"s3:GetEncryptionConfiguration"},
	"s3:PutBucketEncryption": {"s3:PutEncryptionConfiguration"},
	"s3:GetBucketPolicy":     {"s3:GetBucketPolicy"},
	"s3:PutBucketPolicy":     {"s3:PutBucketPolicy"},
}
