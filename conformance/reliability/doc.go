// Package reliability is `make reliability`: it runs `jobsim qmp --socket`
// as a process under the conditions issue 16 found fatal or freezing and
// checks that it keeps serving, keeps its memory bounded and shuts down as
// qemu-storage-daemon does, and runs the single-client cases against
// qemu-storage-daemon 7.2 to show what QEMU answers:
//
//   - silent clients that flood requests and never read (1 and 5 of them):
//     another monitor's latency (p50/p99/max), the server's RSS, and how
//     many bytes the server took from a silent client before it stopped
//     reading;
//   - descriptor exhaustion: a child process with a low RLIMIT_NOFILE
//     (16 and 24) runs out of descriptors in accept, then serves again;
//   - a stale socket file left by kill -9 is replaced; a live one refused;
//   - SIGTERM and SIGINT at seeded points during each job type (backup,
//     mirror, commit, stream), with two monitors watching; and with N
//     speed-limited backups, the time from the signal to exit;
//   - an unthrottled backup between 1 TiB null-co nodes: latency of
//     commands meanwhile and the time from SIGTERM to exit.
//
// Every wait is on a line the server writes (its "listening" announcement,
// a greeting, a reply, an event) with a deadline that only tells a stuck
// server from a working one. Seeds are fixed (RELIABILITY_SEED overrides).
// The suite needs JOBFSM_RELIABILITY=1 so that `go test ./...` stays fast;
// the QEMU cases need qemu-storage-daemon and qemu-img.
package reliability
