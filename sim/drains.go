package sim

import (
	"fmt"

	"github.com/jobfsm/jobfsm/fsm"
)

// Drains of every node.
//
// Some steps of QMP commands and of job completion drain every node of the
// graph, and each drain makes every running job pass a pause point: a
// visible paused/running (or standby/ready) pair of JOB_STATUS_CHANGE
// events, none for a job that is user-paused, not started or finished. In
// 7.2 only qmp_transaction does it (bdrv_drain_all). In 10.0 every graph
// change also takes the graph write lock, and bdrv_graph_wrlock
// (block/graph-lock.c) begins and ends a drain of all nodes each time, so
// the same commands give running jobs several blips, also jobs on nodes the
// command does not touch. How many each step takes is measured data, per
// version (spec/qemu-10.0.md §1; conformance/testdata/drains), not code.

// DrainStep is a step of a command or of a job's completion that drains
// every node some number of times, depending on the version.
type DrainStep uint8

// The steps. Each names the QEMU function in which the graph changes; the
// counts are in drainsPerStep.
const (
	// DrainTransaction is qmp_transaction's bdrv_drain_all_begin/end,
	// before any action is prepared (also for blockdev-backup, a
	// one-action transaction).
	DrainTransaction DrainStep = iota
	// DrainOpenChild is blockdev-add opening one child that is not a
	// backing file (bdrv_open_child: file, image; an existing node or one
	// it creates inline).
	DrainOpenChild
	// DrainOpenBacking is blockdev-add attaching a backing child.
	DrainOpenBacking
	// DrainCloseNode is blockdev-del closing one node (bdrv_close), the
	// deleted node and each inline child that goes with it.
	DrainCloseNode
	// DrainBackupFilter is backup_job_create before the job exists:
	// bdrv_cbw_append opens the copy-before-write filter with its two
	// children and puts it above the source.
	DrainBackupFilter
	// DrainBackupJobNodes is backup_job_create after the job exists
	// (block_job_create: the job takes its nodes).
	DrainBackupJobNodes
	// DrainBackupFilterUndo is backup_job_create failing after the
	// filter went in (block_job_create refused the job): the filter goes.
	DrainBackupFilterUndo
	// DrainBackupClean is backup_clean: bdrv_cbw_drop.
	DrainBackupClean
	// DrainMirrorTopAppend is mirror_start_job inserting mirror_top above
	// the source, before the job is created.
	DrainMirrorTopAppend
	// DrainMirrorAttach is mirror_start_job after job creation: the job's
	// nodes and its BlockBackend on the target.
	DrainMirrorAttach
	// DrainMirrorTopDrop is mirror_start_job taking mirror_top out again
	// when the job could not be created.
	DrainMirrorTopDrop
	// DrainMirrorExit is mirror_exit_common without a pivot (cancelled,
	// failed, or completed without replacing).
	DrainMirrorExit
	// DrainMirrorPivot is mirror_exit_common replacing the source by the
	// target (job-complete of a mirror).
	DrainMirrorPivot
	// DrainCommitBeforeJob is commit_start before the job exists.
	DrainCommitBeforeJob
	// DrainCommitJobNodes is commit_start after the job exists (commit_top
	// goes in, the job takes its nodes and a BlockBackend on base).
	DrainCommitJobNodes
	// DrainCommitDone is commit_prepare and commit_clean (success).
	DrainCommitDone
	// DrainCommitAbort is commit_abort and commit_clean (cancel, failure).
	DrainCommitAbort
	// DrainStreamFilter is stream_start before the job exists: the
	// copy-on-read filter goes in.
	DrainStreamFilter
	// DrainStreamJobNodes is stream_start after the job exists.
	DrainStreamJobNodes
	// DrainStreamFilterUndo is stream_start taking the copy-on-read filter
	// out again when the job could not be created.
	DrainStreamFilterUndo
	// DrainStreamDone is stream_prepare and stream_clean (success).
	DrainStreamDone
	// DrainStreamAbort is stream_clean alone (cancel, failure).
	DrainStreamAbort
	// DrainStreamFree is what a stream job's freeing drains on top of
	// DrainJobFree (measured: one pair more after `null` than other
	// jobs; presumably the copy-on-read node's last reference closing it).
	DrainStreamFree
	// DrainJobFree is block_job_free's block_job_remove_all_bdrv, when a
	// block job is dismissed (by auto-dismiss or job-dismiss).
	DrainJobFree
	numDrainSteps
)

var drainStepNames = [numDrainSteps]string{
	DrainTransaction:      "transaction: before any action (qmp_transaction)",
	DrainOpenChild:        "blockdev-add: each child that is not a backing file (bdrv_open_child)",
	DrainOpenBacking:      "blockdev-add: a backing child",
	DrainCloseNode:        "blockdev-del: each node closed (bdrv_close)",
	DrainBackupFilter:     "backup created: copy-before-write filter in (bdrv_cbw_append)",
	DrainBackupJobNodes:   "backup created: the job takes its nodes (block_job_create)",
	DrainBackupFilterUndo: "backup refused after the filter went in",
	DrainBackupClean:      "backup ends: filter out (backup_clean)",
	DrainMirrorTopAppend:  "mirror created: mirror_top in (mirror_start_job)",
	DrainMirrorAttach:     "mirror created: the job takes its nodes",
	DrainMirrorTopDrop:    "mirror refused after mirror_top went in",
	DrainMirrorExit:       "mirror ends without pivot (mirror_exit_common)",
	DrainMirrorPivot:      "mirror ends with pivot (mirror_exit_common)",
	DrainCommitBeforeJob:  "commit created: before the job exists (commit_start)",
	DrainCommitJobNodes:   "commit created: commit_top in, the job takes its nodes",
	DrainCommitDone:       "commit succeeds (commit_prepare, commit_clean)",
	DrainCommitAbort:      "commit cancelled or failed (commit_abort, commit_clean)",
	DrainStreamFilter:     "stream created: copy-on-read filter in (stream_start)",
	DrainStreamJobNodes:   "stream created: the job takes its nodes",
	DrainStreamFilterUndo: "stream refused after the filter went in",
	DrainStreamDone:       "stream succeeds (stream_prepare, stream_clean)",
	DrainStreamAbort:      "stream cancelled or failed (stream_clean)",
	DrainStreamFree:       "stream freed: on top of every job's freeing",
	DrainJobFree:          "any block job freed after null (block_job_remove_all_bdrv)",
}

// String says which step of which command or completion drains.
func (s DrainStep) String() string {
	if s < numDrainSteps {
		return drainStepNames[s]
	}
	return fmt.Sprintf("DrainStep(%d)", uint8(s))
}

// DrainSteps returns every step, in declaration order.
func DrainSteps() []DrainStep {
	out := make([]DrainStep, numDrainSteps)
	for i := range out {
		out[i] = DrainStep(i)
	}
	return out
}

// drainsPerStep is how many drains of every node each step causes, per
// version. Measured on qemu-storage-daemon 7.2.22 and 10.0.13 with a
// running job on other nodes (scripts/probe-drains10); a zero is a step
// that drains nothing in that version.
var drainsPerStep = [...][numDrainSteps]int{
	fsm.QEMU7_2: {DrainTransaction: 1},
	fsm.QEMU10_0: {
		DrainTransaction:      1,
		DrainOpenChild:        3,
		DrainOpenBacking:      1,
		DrainCloseNode:        1,
		DrainBackupFilter:     4,
		DrainBackupJobNodes:   1,
		DrainBackupFilterUndo: 2,
		DrainBackupClean:      3,
		DrainMirrorTopAppend:  2,
		DrainMirrorAttach:     2,
		DrainMirrorTopDrop:    2,
		DrainMirrorExit:       4,
		DrainMirrorPivot:      5,
		DrainCommitBeforeJob:  1,
		DrainCommitJobNodes:   4,
		DrainCommitDone:       4,
		DrainCommitAbort:      5,
		DrainStreamFilter:     3,
		DrainStreamJobNodes:   2,
		DrainStreamFilterUndo: 2,
		DrainStreamDone:       3,
		DrainStreamAbort:      2,
		DrainStreamFree:       1,
		DrainJobFree:          1,
	},
}

// DrainsFor is how many times step drains every node in version v.
func DrainsFor(v fsm.Version, step DrainStep) int {
	if int(v) >= len(drainsPerStep) || step >= numDrainSteps {
		return 0
	}
	return drainsPerStep[v][step]
}

// DrainAllFor drains every node as often as step does in the manager's
// version: each time, every started job that has not finished is paused
// and then resumed.
//
// A drain polls until every job sits at its pause point, so a job busy
// with I/O shows its pair too (measured on 10.0 for the graph lock's
// drains as well: conformance/testdata/drains/busy_mirror, a mirror
// without speed limit). The transaction's drain runs everything due now
// (as it always has); the graph lock's run the loop only until each
// drained job has paused, because with instant simulated I/O "everything
// due now" would be the rest of a busy job's copy. Called from a bottom
// half (a job's completion) jobsim cannot run the loop again; there only a
// job that the pause enters at once, one sleeping or yielding, shows its
// pair.
func (m *Manager) DrainAllFor(step DrainStep) {
	for i := DrainsFor(m.Version(), step); i > 0; i-- {
		m.drainAll(step == DrainTransaction)
	}
}

// drainAll is one bdrv_drain_all_begin and end: every running job passes
// its pause point, a paused/running (or standby/ready) blip; user-paused
// and finished jobs show nothing. settle runs everything due now while
// the jobs are drained; otherwise the loop runs only until each drained
// job has reached its pause point, and not at all inside a bottom half.
func (m *Manager) drainAll(settle bool) {
	var drained []*Job
	for _, j := range m.Jobs() {
		if j.Started() && !j.Deferred() {
			m.DrainBegin(j)
			drained = append(drained, j)
		}
	}
	if len(drained) == 0 {
		return
	}
	switch {
	case settle:
		// bdrv_drain_all_begin polls until every job sits at its pause point
		m.Settle()
	case !m.eng.running:
		m.RunUntil(func() bool {
			for _, j := range drained {
				if j.busy && !j.paused && !j.deferred {
					return false
				}
			}
			return true
		}, m.eng.now)
	}
	for _, j := range drained {
		m.DrainEnd(j)
	}
}
