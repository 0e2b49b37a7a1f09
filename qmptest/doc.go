// Package qmptest is jobsim as a fake QEMU for a management tool's Go
// tests, in the spirit of net/http/httptest: NewServer starts an in-process
// `jobsim qmp` (QEMU 7.2's job layer on a simulated block device) on a Unix
// socket under t.TempDir(), on the virtual clock, and stops it with the
// test.
//
// A test points its client at Server.Path, sets up nodes and bitmaps with
// Exec (QMP commands on a side channel the client does not see), injects
// failures with a fault plan (package faults: lost and delayed events,
// dropped connections, a daemon restart, I/O errors), and reads the
// simulator's state with Jobs or Do. Every message on the client's
// monitors is checked against the client contract
// (spec/client-contract.md); a violation fails the test at cleanup with the
// rule, the message that broke it, the faults that fired and the run's
// timeline.
//
//	srv := qmptest.NewServer(t, qmptest.Options{Faults: qmptest.MustPlan(t,
//	        `{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED"}}]}`)})
//	srv.Exec(t, "blockdev-add", map[string]any{"driver": "null-co", "node-name": "src"})
//	err := mytool.Backup(srv.Path, "src", "dst") // your client, on the socket
//
// RunPlans runs one client function under each of a list of plans, each on
// a fresh server: how a tool shows it survives every fault.
package qmptest
