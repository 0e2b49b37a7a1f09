// Package harness checks sim.Manager against the reference model and the
// invariant catalogue of package model with random action sequences.
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
// Runners, sequences and campaigns run at QEMU 7.2 by default; NewRunnerAt,
// NewBlockRunnerAt, RunSequenceAt and CampaignAt put sim and the model at
// another version (10.0: block-job-change among the verbs, drain blips of
// block jobs' graph operations), and a Sequence replays at its Version.
//
// Sequences under testdata/regress must pass (TestRegressions): each is a
// campaign's minimized failure, kept once its bug was fixed.
//
// The mutation proof (TestPlantedBugsAreCaught) rebuilds the package's tests
// with -tags jobfsm_mutation, which lets sim plant one of eight known bugs
// (sim/bugs.go), and requires TestRandomSequences and TestRandomSequences10
// (at QEMU 10.0) to fail for each.
package harness
