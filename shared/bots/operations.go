package bots

import (
	"maps"
	"slices"

	"github.com/guardbots/guardbots/shared/finding"
)

// operationActions maps each AWS operation a bot may call ("service:Operation", the SDK's names) to the
// IAM actions it needs. They are not always the same name (S3's PutPublicAccessBlock needs
// s3:PutBucketPublicAccessBlock), so the table is explicit and a bot that declares an operation missing
// here fails to register. Every action is exact: no wildcards.
//
// Each service keeps its rows in its own file (operations_<service>.go). The reads the runner makes on
// targets before a bot (exemption tags, related targets) come from the target table in shared/finding.
// Package-level variables are initialized before any init function, so the merged table is complete
// when bots register.
var operationActions = mergeOperations(ec2Operations, iamOperations, s3Operations, lambdaRDSOperations, cloudtrailOperations, finding.ReadActions())

func mergeOperations(tables ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, t := range tables {
		for op, actions := range t {
			// A bot's own read may also be the runner's lookup of a related target (ec2:DescribeInstances).
			if have, dup := out[op]; dup && !slices.Equal(have, actions) {
				panic("bots: operation " + op + " is in two operation tables with different actions")
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
