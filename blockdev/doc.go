// Package blockdev is jobfsm's simulated block layer: sparse cluster-granular
// images (in memory, in a raw file, or in a qcow2 file that qemu-img made and
// can read back), named nodes in a graph (raw over file/memory, null-co,
// blkdebug, copy-on-write overlays, and the filters the block jobs insert:
// copy-before-write, mirror-top, commit-top and copy-on-read), op blockers
// and permissions, drained sections that pause the jobs using a node (and
// holds that make guest writes wait for a drained section to end), dirty
// bitmaps with QEMU's successor mechanism, guest writes (GuestWriter keeps a
// shadow copy as a data oracle) and blkdebug-style fault injection.
//
// A Graph is not safe for concurrent use: like sim.Manager, one goroutine
// drives it. Everything is deterministic and synchronous: an I/O call returns the data
// and the virtual latency it costs, and the job drivers in sim/blockjob turn
// that latency into virtual sleeps. Errors returned to a QMP client are
// *qerr.Error values carrying QEMU 7.2's class and exact text (reference
// §6.4, §9); I/O failures are *IOError carrying a POSIX errno.
//
// Memory follows the data, never a node's nominal size: images are sparse,
// bitmaps are sparse trees in which all-set and all-clear runs cost one
// pointer (a 2^62-byte node's bitmap is bytes, where QEMU aborts), and
// sizes are checked where QEMU checks them, with its texts (BDRV_MAX_LENGTH,
// sector rounding, qcow2's L1 limits, regular files only).
//
// The Graph mirrors the QMP commands: AddNode (blockdev-add), DelNode
// (blockdev-del), the Bitmap* commands, NamedNodes (query-named-block-nodes),
// and Write/Read for a guest. Graph edits the jobs need (insert and remove a
// filter, replace a node, change a backing link) are exported so that the job
// layer can call them from its prepare/commit/abort/clean phases only.
package blockdev
