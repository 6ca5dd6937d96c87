package bots

// operationActions maps each AWS operation a bot may call ("service:Operation", the SDK's names) to the
// IAM actions it needs. They are not always the same name (S3's PutPublicAccessBlock needs
// s3:PutBucketPublicAccessBlock), so the table is explicit and a bot that declares an operation missing
// here fails to register. Every action is exact: no wildcards.
var operationActions = map[string][]string{
	"ec2:DescribeInstances": {"ec2:DescribeInstances"},
	"ec2:StopInstances":     {"ec2:StopInstances"},
	"ec2:CreateTags":        {"ec2:CreateTags"},
}

// OperationActions returns the IAM actions for an operation, and whether the table knows it.
func OperationActions(op string) ([]string, bool) {
	a, ok := operationActions[op]
	return a, ok
}
