package bots

// otherOperations are the operations of the remaining services bots call (Lambda, RDS, …).
var otherOperations = map[string][]string{
	"lambda:GetFunctionConcurrency": {"lambda:GetFunctionConcurrency"},
	"lambda:PutFunctionConcurrency": {"lambda:PutFunctionConcurrency"},
	"lambda:TagResource":            {"lambda:TagResource"},
	"rds:DescribeDBInstances":       {"rds:DescribeDBInstances"},
	"rds:ModifyDBInstance":          {"rds:ModifyDBInstance"},
	"rds:AddTagsToResource":         {"rds:AddTagsToResource"},
	// Exemption check.
	"lambda:ListTags":         {"lambda:ListTags"},
	"rds:ListTagsForResource": {"rds:ListTagsForResource"},
}
