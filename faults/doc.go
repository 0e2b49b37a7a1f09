// Package faults is jobsim's fault plans: one JSON format, shared by
// qmptest and `jobsim qmp --faults FILE`, for the failures a management
// client must survive and that real QEMU cannot produce on demand:
//
//   - drop an event (by name, job id, monitor) before it reaches the client;
//   - delay an event until N further messages went out on that monitor;
//   - close a monitor's connection after N messages, or when a given event
//     is due (the event is not delivered);
//   - restart the daemon (qmp.Server.Restart) after N messages or when a
//     given event is due;
//   - fail I/O on a node at a given offset (blockdev's blkdebug-style
//     injection, armed as soon as the node is created).
//
// A rule may fire with a probability, drawn from the plan's seed with one
// random stream per rule, and at most Count times, so a plan replays
// exactly for a client that sends the same messages. Every fault that
// fires is a Record in the Injector's log, and the log is what qmptest
// puts on a failing test's timeline.
//
// The event-stream faults work on the wire, as a net.Conn wrapper around
// each monitor's connection (WrapListener), which is also how they apply to
// real QEMU: Proxy puts the same plan between a client and a
// qemu-storage-daemon socket.
//
//	{"seed": 7, "rules": [
//	  {"drop":    {"event": "BLOCK_JOB_COMPLETED", "job": "j0"}},
//	  {"delay":   {"event": "BLOCK_JOB_READY", "messages": 2}},
//	  {"close":   {"monitor": 1, "after_messages": 5}},
//	  {"restart": {"before_event": "BLOCK_JOB_READY", "job": "m0"}},
//	  {"io":      {"node": "src", "offset": 65536, "op": "read", "errno": 5}}
//	]}
package faults
