package ec2bots

import (
	"fmt"
	"testing"

	"github.com/aws/smithy-go/middleware"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/bots/bottest"
	"github.com/guardbots/guardbots/shared/bots/bottest/ec2test"
)

// containWorld is the bot contract's view of a containment bot in env e: the ENIs' groups, the state
// store and the quarantine's groups are what it may change, and the instance going away is its
// target going missing.
func containWorld(e *ec2test.ContainEnv, bot string, stubs []func(*middleware.Stack) error, extra ...func(*bots.Request)) bottest.World {
	return bottest.World{
		Request: func(dryRun bool) bots.Request {
			req := e.Request(bot, dryRun, stubs...)
			for _, f := range extra {
				f(&req)
			}
			return req
		},
		Rec:   e.Rec(bot),
		State: func(t *testing.T) string { return fmt.Sprint(e.State(t), " quarantine groups: ", quarantineGroups(e)) },
		Gone:  func(*bots.Request) { e.Inst.Gone = true },
	}
}

// quarantineGroups counts the quarantine's groups in the env's VPC.
func quarantineGroups(e *ec2test.ContainEnv) int {
	n := 0
	for _, name := range []string{isolationGroupPrefix + e.VPC, untrackGroupPrefix + e.VPC} {
		if e.Group(name) != nil {
			n++
		}
	}
	return n
}
