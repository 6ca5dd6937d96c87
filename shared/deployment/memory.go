package deployment

import "fmt"

// MeasuredPeakRSSMiB is the largest peak resident memory of any guardbots bootstrap, measured by
// `make bench` (README, Performance: 19.8 MB, iam_revoke_role_sessions): the workflow's functions after
// 1,100 executions on the local stack, every bot after 101 calls, parse and transform flat from 1,000 to
// 10,000 calls. Re-measure and update it when a change adds a dependency or a cache.
const MeasuredPeakRSSMiB = 20

// Lambda's memory sizes: at least 128 MB, at most 10,240 MB, in 1 MB steps.
const (
	LambdaMinMemoryMiB = 128
	LambdaMaxMemoryMiB = 10240
)

// MemoryHeadroom is how many times its measured peak a function's memory must hold.
const MemoryHeadroom = 3

// MemorySizeFor is the memory size for a function whose measured peak is peakMiB: three times the peak
// (a larger finding, the SDK's buffers on a slow network and Go's heap growing to twice its live size
// between collections all fit), rounded up to 64 MB, never under Lambda's minimum. Every guardbots
// function peaks far below 128/3 MB, so each gets the minimum, which is also the cheapest.
func MemorySizeFor(peakMiB int) int {
	need := (MemoryHeadroom*peakMiB + 63) / 64 * 64
	return max(LambdaMinMemoryMiB, need)
}

// GoMemLimit is GOMEMLIMIT for a function of memoryMiB: a soft limit 10% under the function's memory,
// so the Go collector works harder as the heap nears it instead of the runtime being killed out of
// memory (Lambda's own runtime client shares the memory).
func GoMemLimit(memoryMiB int) string {
	return fmt.Sprintf("%dMiB", memoryMiB*9/10)
}
