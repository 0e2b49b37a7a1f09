// Package qmp makes the simulator speak QMP like qemu-storage-daemon 7.2
// (or 10.0, Options.Version) with `--chardev stdio,id=m --monitor m`: the
// greeting, capabilities negotiation, QEMU's request checks and error
// texts, the job and block commands, and asynchronous events with
// timestamps.
//
// What differs between versions is data looked up by fsm.Version: the
// recorded schema (schema/qemu-VERSION.json: argument checks, greeting,
// query-version, query-commands, and which commands exist, e.g.
// block-job-change on 10.0), fsm's verb table, and sim.Behaviours
// (Manager.Has). spec/versions.md is generated from the three.
//
// Three layers:
//
//   - Decoder and Encode are QEMU's JSON streamer and writer: messages are
//     split by balanced braces (no newline needed), single-quoted strings are
//     accepted, integers stay apart from doubles, malformed input gets
//     QEMU's "JSON parse error, ..." and the stream resynchronizes.
//   - Dispatcher owns one sim.Manager and the block graph and executes
//     commands for any number of Sessions (monitors). Arguments are checked
//     against the QEMU version's own introspected schema
//     (schema/qemu-7.2.json, schema/qemu-10.0.json, from query-qmp-schema), so missing, unexpected and mistyped members get
//     QEMU's texts in QEMU's order. It is single-goroutine and
//     deterministic: the in-process conformance runner drives it directly.
//   - Server runs a Dispatcher in one goroutine, serializing commands from
//     stdio or Unix-socket connections through a channel, and moves the
//     virtual clock: with ClockWall it follows the wall clock (timers fire
//     at real time, so speed limits behave as in QEMU); with ClockVirtual it
//     jumps to the next timer whenever nothing is runnable and no client has
//     spoken for a short grace period (Grace, 1 ms), so scripts that wait
//     for events run at CPU speed with the same transcript. Virtual time
//     never runs more than Rate (10⁵) times faster than the wall clock, so a
//     job QEMU keeps running for decades (speed 1) still looks running to a
//     client that takes a moment to act.
//
// The loop never waits for a client: each connection has a reader that
// hands it one request at a time and stops reading while 64 KiB of replies
// wait unread (MaxUnreadOutput), and a writer that drains its queue; a
// connection whose unread output passes MaxQueuedOutput is closed. The
// simulator runs at most a few queued entries between two looks at the
// clients, so an unthrottled job cannot hold commands or signals. When
// Run's context ends (SIGTERM, SIGINT) or a client sends quit, every job
// is cancelled as qemu-storage-daemon cancels it (sim.Manager.CancelAll)
// and its events reach every monitor before the connections close.
//
// Every connection is its own monitor: events reach only monitors that
// finished capabilities negotiation and are connected; a closed connection
// loses the events emitted meanwhile, as on a real socket. The x-jobsim-*
// commands (Options.TestCommands) create scriptable test jobs without a
// block device, for management tools' own test suites.
//
// FuzzDispatch (go test -fuzz FuzzDispatch ./qmp; seed corpus in
// testdata/fuzz) checks that no input makes the decoder or dispatcher
// panic and that every answer is a QMP message.
package qmp
