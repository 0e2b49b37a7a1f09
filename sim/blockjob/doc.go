// Package blockjob holds the real block-job drivers of jobfsm — backup,
// mirror, commit (intermediate and active) and stream — running on the
// simulated block layer of package blockdev and the job manager of package
// sim.
//
// Each job-creating function (Backup, PrepareBackup, Mirror, Commit, Stream)
// takes an argument struct named after the QMP command's arguments and runs
// QEMU 7.2's validations in QEMU's order with QEMU's texts (reference §6.3,
// §7.2, §8.1, §8.2, §9), so a QMP layer only decodes JSON into these
// structs. Drivers copy in QEMU's chunk sizes (backup: the block-copy cluster
// and 1 MiB tasks; mirror: its granularity and 1 MiB operations; commit and
// stream: 512 KiB), limit their rate with QEMU's ratelimit algorithm on the
// virtual clock, and turn null-co latency into virtual sleeps. A copy
// borrows its buffer from pools all jobs share for the one request (jobs keep
// none), so a running backup costs about 15 KB (BenchmarkBackupMemory).
//
// Graph changes (pivot, dropping intermediate nodes, backing changes,
// removing filters) happen only in the drivers' Prepare/Commit/Abort/Clean
// callbacks (invariant I9).
package blockjob
