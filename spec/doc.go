// Package spec ties jobfsm's normative specification (spec/README.md) to the
// code that checks it.
//
// The specification states the job lifecycle as numbered rules, R1, R2, …,
// each a paragraph that starts with "**R<n> <title>.**". Every test, model
// invariant and TLA+ property that checks a rule says so in a comment line
// directly above its declaration:
//
//	// Checks: R12, R13          (Go)
//	\* Checks: R12               (TLA+ modules and TLC .cfg files)
//
// Model invariants and TLA+ properties are numbered after the reference's
// invariants I1–I15 instead; the specification maps each invariant id to
// rules (InvariantMap) and DerivedChecks turns model.Catalogue and the
// TLA+ properties mirrored by model/explore into checks through that map.
//
// ScanChecks finds the annotations in a source tree and Verify reports every
// rule that no check names and every check that names a rule the
// specification does not have. The repository test in this package runs
// both on the real tree, so CI fails as soon as a rule loses its last check
// or a check refers to a rule that was renumbered away.
//
// The generator (internal/gen, run by go generate) writes the traceability
// table (traceability.md), the lifecycle diagrams (lifecycle.dot rendered by
// stateless, lifecycle.svg by Graphviz) and the generated blocks of
// spec/README.md and the root README.md. All of it derives from fsm and from
// the annotations, so a stale artifact shows up as a diff in CI.
package spec

//go:generate go run ./internal/gen -root ..
