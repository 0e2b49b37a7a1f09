// Package qemutrace turns QMP transcripts recorded on real
// qemu-storage-daemon (the conformance corpus, its QEMU 10.0 recordings and
// the reference transcripts) into NDJSON traces that tla/TraceQemu.tla
// checks against the TLA+ job lifecycle (JobLifecycle.tla) with TLC.
//
// A transcript keeps QEMU's events in order and its command responses in
// order, but not how the two interleave (the recorder reads one stream and
// stores two lists). So a converted trace has two sequences that TLC
// interleaves, and the only order between them that the converter asserts is
// the one the scenario forced: a command sent after a wait_event step comes
// after the event that wait took ("after": the number of status events
// that precede it). Everything else (which event a command caused, where
// internal steps fall) is left to TLC's search.
//
// Lines of a converted trace (one transcript):
//
//   - {"op":"trigger","job":"j2","from":"running","to":"paused"}: one
//     JOB_STATUS_CHANGE; jobs are renamed j1..jN in the order of their
//     created events, so a reused QEMU id becomes two spec jobs;
//   - {"op":"create","jobs":["j1","j2"],"after":k}: a command that created
//     these jobs (a grouped transaction's members in one line);
//   - {"op":"verb","job":"j1","id":"j0","verb":"cancel","force":true,
//     "api":"job"|"block","after":k[,"err":"…"][,"rollback":true]}: a job
//     verb with QEMU's exact error text, or a failed transaction's rollback
//     cancelling a job it had created;
//   - {"op":"query","jobs":{"j1":"running"},"after":k}: what query-jobs or
//     query-block-jobs listed (a job not listed does not exist).
//
// Commands TLA+ does not model (blockdev-add, bitmaps, observations) and
// errors raised before QEMU looks at a job (argument validation: "Parameter
// 'x' is missing", "Invalid parameter type …", unknown commands) produce no
// line; Trace.Skipped counts them. BLOCK_JOB_* events produce no line either:
// they place wait anchors and decide which jobs are mirror-like (Ready).
//
// Traces are checked in groups that share the spec's CONSTANTS (WriteGroups),
// all traces of a group in one TLC run; Verdicts reads TLC's state dump and
// says, per trace, whether TLC reached its end.
package qemutrace
