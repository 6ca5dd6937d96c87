package bots

import "maps"

// operationActions maps each AWS operation a bot may call ("service:Operation", the SDK's names) to the
// IAM actions it needs. They are not always the same name (S3's PutPublicAccessBlock needs
// s3:PutBucketPublicAccessBlock), so the table is explicit and a bot that declares an operation missing
// here fails to register. Every action is exact: no wildcards.
//
// Each service family keeps its rows in its own file (iam_<family>.go); package-level variables are
// initialized before any init function, so the merged table is complete when bots register.
var operationActions = mergeOperations(ec2Operations, iamOperations, s3Operations, otherOperations)

// ec2Operations are the EC2 (and EC2-adjacent: Auto Scaling, ELB) operations bots call.
var ec2Operations = map[string][]string{
	"ec2:DescribeInstances": {"ec2:DescribeInstances"},
	"ec2:DescribeTags":      {"ec2:DescribeTags"}, // exemption check
	"ec2:StopInstances":     {"ec2:StopInstances"},
	"ec2:CreateTags":        {"ec2:CreateTags"},
	// Containment bots (quarantine, remote-IP block). Groups are created with tags: ec2:CreateTags too.
	"ec2:DescribeSecurityGroups":          {"ec2:DescribeSecurityGroups"},
	"ec2:CreateSecurityGroup":             {"ec2:CreateSecurityGroup", "ec2:CreateTags"},
	"ec2:AuthorizeSecurityGroupIngress":   {"ec2:AuthorizeSecurityGroupIngress"},
	"ec2:AuthorizeSecurityGroupEgress":    {"ec2:AuthorizeSecurityGroupEgress"},
	"ec2:RevokeSecurityGroupIngress":      {"ec2:RevokeSecurityGroupIngress"},
	"ec2:RevokeSecurityGroupEgress":       {"ec2:RevokeSecurityGroupEgress"},
	"ec2:ModifyNetworkInterfaceAttribute": {"ec2:ModifyNetworkInterfaceAttribute"},
	"ec2:DescribeNetworkAcls":             {"ec2:DescribeNetworkAcls"},
	"ec2:CreateNetworkAclEntry":           {"ec2:CreateNetworkAclEntry"},
	"ec2:DeleteNetworkAclEntry":           {"ec2:DeleteNetworkAclEntry"},
	// Evidence and detachment bots. Tag-on-create needs ec2:CreateTags beside ec2:CreateSnapshot.
	"ec2:DescribeSnapshots":                      {"ec2:DescribeSnapshots"},
	"ec2:CreateSnapshot":                         {"ec2:CreateSnapshot", "ec2:CreateTags"},
	"ec2:DescribeIamInstanceProfileAssociations": {"ec2:DescribeIamInstanceProfileAssociations"},
	"ec2:DisassociateIamInstanceProfile":         {"ec2:DisassociateIamInstanceProfile"},
	"ec2:DescribeInstanceAttribute":              {"ec2:DescribeInstanceAttribute"},
	"ec2:ModifyInstanceAttribute":                {"ec2:ModifyInstanceAttribute"},
	"ec2:TerminateInstances":                     {"ec2:TerminateInstances"},
	"autoscaling:DescribeAutoScalingInstances":   {"autoscaling:DescribeAutoScalingInstances"},
	"autoscaling:DetachInstances":                {"autoscaling:DetachInstances"},
	"elasticloadbalancing:DescribeTargetGroups":  {"elasticloadbalancing:DescribeTargetGroups"},
	"elasticloadbalancing:DescribeTargetHealth":  {"elasticloadbalancing:DescribeTargetHealth"},
	"elasticloadbalancing:DeregisterTargets":     {"elasticloadbalancing:DeregisterTargets"},
}

func mergeOperations(tables ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, t := range tables {
		for op := range t {
			if _, dup := out[op]; dup {
				panic("bots: operation " + op + " is in two operation tables")
			}
		}
		maps.Copy(out, t)
	}
	return out
}

// OperationActions returns the IAM actions for an operation, and whether the table knows it.
func OperationActions(op string) ([]string, bool) {
	a, ok := operationActions[op]
	return a, ok
}
