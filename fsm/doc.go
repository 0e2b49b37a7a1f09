// Package fsm is the canonical statement of QEMU 7.2's job lifecycle: the
// eleven job statuses, the seven QMP verbs, the internal triggers that move a
// job, and the one declarative table from which everything else is derived.
//
// The table (see table.go) is loaded once into one github.com/qmuntal/stateless
// machine, shared by every job: it keeps no status of its own (external
// storage) and finds the job to read and change in the context of each fire.
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
//	err := m.Fire(fsm.TriggerStart)              // created -> running, or a *TransitionError
package fsm
