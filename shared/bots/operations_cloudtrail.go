package bots

// cloudtrailOperations are the CloudTrail operations bots call. Their operation and action names coincide.
var cloudtrailOperations = map[string][]string{
	"cloudtrail:GetTrail":       {"cloudtrail:GetTrail"},
	"cloudtrail:GetTrailStatus": {"cloudtrail:GetTrailStatus"},
	"cloudtrail:StartLogging":   {"cloudtrail:StartLogging"},
}
