package bots

// lambdaRDSOperations are the Lambda and RDS operations bots call.
var lambdaRDSOperations = map[string][]string{
	"lambda:GetFunctionConcurrency": {"lambda:GetFunctionConcurrency"},
	"lambda:PutFunctionConcurrency": {"lambda:PutFunctionConcurrency"},
	"lambda:TagResource":            {"lambda:TagResource"},
	"rds:DescribeDBInstances":       {"rds:DescribeDBInstances"},
	"rds:ModifyDBInstance":          {"rds:ModifyDBInstance"},
	"rds:AddTagsToResource":         {"rds:AddTagsToResource"},
}
