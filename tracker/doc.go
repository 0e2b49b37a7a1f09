// Package tracker is the management side of QEMU's job protocol for
// backups: a library a management tool embeds to start blockdev-backup
// jobs and to learn, after missed events, disconnects, its own crashes and
// QEMU restarts, whether each backup's target is valid and whether each
// dirty bitmap it used can still drive an incremental backup. `jobsim
// tracker` is its command line.
//
// The protocol (rules T1–T5 in spec/tracker.md):
//
//   - Every job it starts has auto-finalize and auto-dismiss false, so a
//     finished job waits in pending and then in concluded until the
//     tracker has looked at it.
//   - It journals its intent (Journal, bbolt: each write one committed
//     transaction) before it sends the command, and the answer after.
//   - It never depends on events. Reconcile, run on every (re)connect and
//     every status, reads query-jobs and query-named-block-nodes, finalizes
//     tracked jobs waiting in pending, decides every verdict it can and
//     journals it together with the bitmap state it implies (one
//     transaction), and only then dismisses. Events only make Watch
//     reconcile sooner.
//   - It finalizes and dismisses only jobs in its journal.
//
// Verdicts: running, succeeded, failed (QEMU's error text), cancelled
// ("Operation canceled"), unknown (QEMU no longer has the job and no
// verdict was journaled). A bitmap is ok only when the tracker can prove
// its state from what it journaled and what QEMU shows: QEMU did not
// restart since the tracker's marker bitmap (a disabled, non-persistent
// bitmap named after the journal) was created, the bitmap is present,
// recording, not held by a job the tracker did not start, and nothing but
// guest writes explains its change since the last observation (its count
// did not fall, granularity and persistence did not change). Otherwise it
// is needs-full-backup, with the reason.
//
// Client is a small synchronous QMP client; a monitor serves one client,
// so the tracker owns its connection and shares no monitor.
//
// Options.View records what the tracker saw and did (job events, commands,
// connects, verdicts) as NDJSON that timeline.Load reads: `jobsim tracker
// --view FILE` and `jobsim replay FILE` draw a tracker's run as job lanes.
package tracker
