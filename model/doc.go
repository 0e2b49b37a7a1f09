// Package model is jobfsm's independent reference model of the job manager
// of QEMU 7.2 (New) and 10.0 (NewAt) and the numbered invariant catalogue
// (spec/invariants.md): the judge that model/harness's random sequences
// check sim.Manager against.
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
// # Versions
//
// What differs between versions is data (versionRules and fsm.For's verb
// table), restated from the measurements in spec/qemu-10.0.md rather than
// taken from sim: 10.0 adds block-job-change (refused by a driver without
// .change, Spec.HasChange), and in 10.0 the graph operations of block jobs
// (creation, completion, freeing) drain every node. Such a drain gives
// every running job a paused/running (ready: standby/ready) pair and lets
// running jobs go on while it polls, also in the middle of a command's
// required events; the model allows those pairs and steps in a step with
// such a graph operation and requires each pair to be closed at rest
// (Quiesce). It does not require them: whether a drain reaches a job in
// time depends on where the job is.
//
// # The harness
//
// model/harness drives sim against this model and the catalogue (Runner,
// block mode, Campaign, Minimize); the judge here knows nothing of it.
package model

//go:generate go run ./internal/geninv ../spec/invariants.md
