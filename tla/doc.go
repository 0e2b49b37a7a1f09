// Package tla holds jobfsm's TLA+ specification and its TLC model configs.
//
// The table modules are generated from fsm's per-version tables by go
// generate (the directive below): JobTable.tla (QEMU 7.2), JobTable10_0.tla
// (10.0) and JobTables.tla, which answers every table operator from the
// module of the version its constant QemuVersion names. So the TLA+ mirror of
// the transition and verb tables cannot drift from the Go code: `make
// check-generated` fails when one is stale. JobLifecycle.tla is the
// hand-written lifecycle spec that uses JobTables for every legality check
// (each MC_*.cfg sets QemuVersion; MC_*_10_0.cfg are 10.0's); Tracker.tla
// composes a cut-down lifecycle with 7.2's JobTable and the management
// tracker's protocol (issue 13, invariants T1-T5). MC_*.cfg are
// the TLC model configs, each stating its expected outcome in one `\* Expect:`
// line; the Go explorer (model/explore, `jobsim explore`) reads the CONSTANTS
// of the JobLifecycle ones (the Tracker ones say `\* Explorer: none`).
// TraceJobLifecycle.tla validates simulator traces and TraceQemu.tla the
// QMP transcripts recorded on real QEMU, converted by tla/qemutrace (see
// README.md).
package tla

//go:generate go run gen_jobtable.go
