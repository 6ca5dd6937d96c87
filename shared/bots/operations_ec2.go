package bots

// ec2Operations are the EC2 (and EC2-adjacent: Auto Scaling, ELB) operations bots call.
var ec2Operations = map[string][]string{
	"ec2:DescribeInstances": {"ec2:DescribeInstances"},
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
