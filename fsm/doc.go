// Package fsm is the canonical statement of QEMU's job lifecycle: the eleven
// job statuses, the QMP verbs, the internal triggers that move a job, and one
// declarative table per QEMU version from which everything else is derived.
//
// Each version's Table (see table.go for the data, tables.go for the type;
// For(v) returns it) is loaded once into its own github.com/qmuntal/stateless
// machine, shared by every job of that version: it keeps no status of its own
// (external storage) and finds the job to read and change in the context of
// each fire. The versions differ in data only: QEMU 10.0's JobVerbTable is
// 7.2's plus the verb change (block-job-change), accepted where set-speed is.
// The package-level functions (Permits, Allows, Target, Drainable, Verbs,
// ParseVerb, NewMachine, Render, ...) answer for DefaultVersion, QEMU 7.2.
// The set of status changes it allows is exactly QEMU's JobSTT (job.c) and the
// verbs it accepts are exactly JobVerbTable. No other package decides whether
// a status change or a verb is legal: sim fires triggers through a Machine;
// model, the explorer and the trace generator ask Permits, Allows, Target and
// Drainable; the TLA+ table module, the spec tables and the diagrams are all
// rendered from the table.
//
// Callers never need to know about stateless:
//
//	fsm.Permits(fsm.Ready, fsm.VerbComplete)     // true: complete is accepted in ready
//	fsm.Allows(fsm.Running, fsm.Paused)          // true: running -> paused is a JobSTT edge
//	fsm.Target(fsm.Ready, fsm.TriggerPausePoint) // standby, true: where the trigger takes ready
//	fsm.Drainable(fsm.Pending)                   // false: no pause point is left to park it
//	m := fsm.NewMachine(job)                     // job implements fsm.Subject
//	m10 := fsm.For(fsm.QEMU10_0).NewMachine(job) // the same job under QEMU 10.0's table
//	err := m.Fire(fsm.TriggerStart)              // created -> running, or a *TransitionError
package fsm
