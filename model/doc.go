// Package model is jobfsm's independent reference model of QEMU 7.2's job
// manager, the numbered invariant catalogue (spec/invariants.md), and the
// random-sequence harness that checks sim.Manager against both.
//
// # The model
//
// Model is a small, readable, pure-Go statement of what a correct job manager
// must do: per job its status, creation flags, user pause and pause count,
// cancel request, readiness and result; the transactions with their member
// order; and what the user may expect to see next. It asks fsm.Allows and
// fsm.Permits for legality (the one table) and shares no code with sim's
// manager, so a bug there is not silently mirrored here.
//
// The model is a judge, not a second simulator. A job may reach a pause
// point, become ready, finish or fail "at any time" its driver allows; those
// steps are explicit nondeterminism: Observe accepts such an event when it is
// enabled in the model's state and rejects it otherwise. Everything QEMU does
// synchronously (a command's result, the pending/finalize cascade of a
// transaction, the per-member finalization of an aborting transaction) is
// deterministic: the model computes the exact events and requires them next,
// in order.
//
// # The harness
//
// Runner drives a sim.Manager and a Model with the same actions (create jobs
// alone or in grouped transactions, start, every verb in right and wrong
// states and on unknown or malformed ids, advance time, disconnect and
// reconnect a monitor, queries) and, after every action, feeds the emitted
// events to the model, compares query-jobs and query-block-jobs with the
// model (go-cmp diffs), and evaluates every invariant of Catalogue. Actions
// are plain data, so a failing sequence replays exactly and shrinks: the
// rapid property tests draw them with pgregory.net/rapid; Campaign draws them
// from a seeded generator for `jobsim check` and minimizes a counterexample by
// itself.
//
// In block mode (NewBlockRunner) the runner also creates real sim/blockjob
// jobs (backup, mirror, commit, stream; backups also as grouped QMP
// transactions, rolled back when a prepare fails) on their own simulated
// images, issues guest writes and arms one-shot I/O faults; the model then
// uses a looser spec for those jobs (they may fail or succeed, and hit I/O
// errors any number of times). The data invariants are checked there: I12
// compares images with the guest's shadow when a real job completes, I10
// checks a backup's dirty bitmap against the reference's table (§6.2) when
// the backup concludes, and I11 tries bitmap commands on the bitmap a running
// backup holds.
//
// Sequences under testdata/regress must pass (TestRegressions): each is a
// campaign's minimized failure, kept once its bug was fixed.
//
// The mutation proof (TestPlantedBugsAreCaught) rebuilds the package's tests
// with -tags jobfsm_mutation, which lets sim plant one of eight known bugs
// (sim/bugs.go), and requires TestRandomSequences to fail for each.
package model

//go:generate go run ./internal/geninv ../spec/invariants.md
