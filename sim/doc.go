// Package sim is jobfsm's job manager: QEMU 7.2's job.c and blockjob.c
// semantics (creation and id rules, pause counting and pause points, soft
// and forced cancel, error policies, completion through waiting, pending,
// finalize and conclude, grouped transactions, events and queries) on a
// deterministic discrete-event loop.
//
// Determinism. Nothing here reads the wall clock or starts a goroutine. A
// job's run is a Driver whose Run method does one slice of work and returns
// a Step (Continue, Sleep, Yield, Finish); what QEMU defers to its main loop
// (job_exit, timers) is queued on a virtual clock, and entries due at the
// same instant run in an order drawn from a seeded generator. The same seed
// and the same calls give a byte-identical event log.
//
// Legality. The manager never decides on its own whether a status change or
// a verb is legal: every change goes through the job's fsm.Machine (an
// illegal trigger is a bug and panics, as QEMU's assert does) and every verb
// is checked by fsm's verb table before the command's extra conditions
// ("Job is already paused", …), in QEMU's order.
//
// Following a command: Manager.Pause(j) checks the verb, counts the user
// pause and wakes the job; at its next pause point the manager fires
// fsm.TriggerPausePoint and the job moves to paused (standby when ready);
// each real status change emits JOB_STATUS_CHANGE to every subscriber.
//
// Commands and their return: a verb runs synchronously; if it entered a
// waiting job whose run then ended without waiting again (a forced cancel
// of a sleeping or paused job), the job's exit runs before the verb
// returns, so its whole ending precedes the command's return, as on QEMU
// (command.go; spec rule R52).
//
// Where jobfsm differs from QEMU 7.2 on purpose, spec/deviations.md says so
// (D1: the grouped-transaction rollback hang is fixed; D2: a prepare failure
// aborts on behalf of the failing member).
package sim
