// Package tla holds jobfsm's TLA+ specification and its TLC model configs.
//
// JobTable.tla is generated from fsm's canonical table by go generate (the
// directive below), so the TLA+ mirror of the transition and verb tables
// cannot drift from the Go code: `make check-generated` fails when it is
// stale. JobLifecycle.tla is the hand-written lifecycle spec that uses it for
// every legality check; Tracker.tla composes a cut-down lifecycle with the
// management tracker's protocol (issue 13, invariants T1-T5). MC_*.cfg are
// the TLC model configs, each stating its expected outcome in one `\* Expect:`
// line; the Go explorer (model/explore, `jobsim explore`) reads the CONSTANTS
// of the JobLifecycle ones (the Tracker ones say `\* Explorer: none`), and
// TraceJobLifecycle.tla validates simulator traces (see README.md).
package tla

//go:generate go run gen_jobtable.go
