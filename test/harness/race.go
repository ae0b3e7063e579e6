//go:build race

package harness

// RaceEnabled: the binary is built with the race detector, which slows decoding and
// parsing tenfold, so wall-clock figures under it are printed, not held to a budget; the
// benchmarks and the load tool measure them without it.
const RaceEnabled = true
