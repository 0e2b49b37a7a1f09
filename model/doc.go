// Package model is jobfsm's independent reference model of QEMU 7.2's job
// manager and the numbered invariant catalogue (spec/invariants.md): the
// judge that model/harness's random sequences check sim.Manager against.
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
// model/harness drives sim against this model and the catalogue (Runner,
// block mode, Campaign, Minimize); the judge here knows nothing of it.
package model

//go:generate go run ./internal/geninv ../spec/invariants.md
