// Package explore is the exhaustive explorer of jobfsm's lifecycle model: a
// breadth-first search over every state of tla/JobLifecycle.tla reachable
// under the bounds of a TLC model config (tla/MC_*.cfg, CONSTANTS section).
//
// Its state variables are the spec's, one for one (State packs them into 32
// comparable bytes), and Successors is the spec's Next written in Go, asking
// fsm.Allows and fsm.Permits for every legality decision, so the explorer and
// TLC must find the same number of distinct states on the same config: `make
// tlc` compares them, and TestCountsMatchREADME pins the counts recorded in
// tla/README.md. Every invariant and step property of the spec is checked in
// every state and on every transition (Invariants, StepProperties), together
// with the spec's Hop assertion and, unless the config says CHECK_DEADLOCK
// FALSE, deadlock; a violation comes with a shortest trace. What a config
// must report is its `\* Expect:` line (ReadExpectation), the one statement of
// that fact for TLC (tla/check.sh), jobsim check and this package's tests.
//
// The search is level-synchronous and parallel: each level's frontier is
// split among the workers, and the visited set is sharded with a lock per
// shard. Liveness (MC_live's temporal properties) is TLC's job.
package explore
