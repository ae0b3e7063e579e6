//go:build race

package webhook_test

// raceEnabled: the race detector slows decoding and parsing tenfold, so wall-clock figures
// under it are printed, not held to the budget; BenchmarkCostlyObject measures them.
const raceEnabled = true
