package sim

import (
	"math"

	"github.com/jobfsm/jobfsm/fsm"
)

// ShutdownBudget bounds the queued entries CancelAll may run: far more than
// any real job needs to finish after a forced cancel (a handful each), and
// small enough that a job which cannot finish (QEMU 7.2's grouped-rollback
// hang, reference §12) costs milliseconds instead of hanging the process as
// it hangs QEMU.
const ShutdownBudget = 1 << 20

// CancelAll is what qemu-storage-daemon does when SIGTERM or SIGINT ends its
// main loop (storage-daemon/qemu-storage-daemon.c main): every node is
// drained (bdrv_drain_all_begin: each job reaches a pause point, oldest job
// first, and says "paused" or "standby"), then job_cancel_sync_all takes the
// head of the job list (the newest job) again and again, force-cancels it
// and runs the loop until it has completed, so each job emits its
// "running", "aborting", BLOCK_JOB_CANCELLED, "concluded" and "null" before
// the next one starts; a concluded job kept by auto-dismiss=false is
// dismissed by the same cancel. Virtual time moves only as far as the
// remaining work needs.
//
// CancelAll returns the jobs still present when the budget of queued entries
// ran out or a job could not be made to finish; nil when every job is gone.
// The manager stays usable, but the drained jobs keep their pause (the
// process is about to exit, as QEMU's is).
func (m *Manager) CancelAll(budget int) []*Job {
	jobs := m.Jobs()
	for i := len(jobs) - 1; i >= 0; i-- {
		m.DrainBegin(jobs[i])
	}
	m.settleWithin(&budget)
	// The same job at the head twice in a row with nothing changed means it
	// cannot finish: give up on the rest rather than loop.
	var last *Job
	var lastStatus fsm.Status
	for m.head != nil && budget > 0 {
		j := m.head
		if j == last && j.status == lastStatus {
			break
		}
		last, lastStatus = j, j.status
		m.cancel(j, true)
		for budget > 0 && m.byID[j.id] == j && !j.status.IsCompleted() {
			budget--
			if !m.eng.runOne(math.MaxInt64) {
				break
			}
		}
		m.settleWithin(&budget)
	}
	return m.Jobs()
}

// settleWithin runs what is due now, spending at most *budget entries.
func (m *Manager) settleWithin(budget *int) {
	for *budget > 0 && m.eng.runOne(m.eng.now) {
		*budget--
	}
}
