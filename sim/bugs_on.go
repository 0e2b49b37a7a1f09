//go:build jobfsm_mutation

package sim

import (
	"fmt"
	"os"

	"github.com/jobfsm/jobfsm/fsm"
)

// activeBug is the bug JOBFSM_PLANTED_BUG names; an unknown name stops the
// test binary at once, so a typo cannot pass for a bug that went unnoticed.
var activeBug = func() plantedBugID {
	name := os.Getenv("JOBFSM_PLANTED_BUG")
	for i, n := range plantedBugNames {
		if n == name {
			return plantedBugID(i)
		}
	}
	panic(fmt.Sprintf("sim: JOBFSM_PLANTED_BUG=%q names no planted bug (have %v)", name, plantedBugNames[1:]))
}()

func plantedBug(b plantedBugID) bool { return b == activeBug }

// PlantedBugs lists the names JOBFSM_PLANTED_BUG accepts (mutation builds
// only).
func PlantedBugs() []string { return append([]string(nil), plantedBugNames[1:]...) }

// plantedReadyToPaused moves a ready job to paused behind the machine's back
// (the table has no such edge) and announces it.
func (m *Manager) plantedReadyToPaused(j *Job) {
	j.status = fsm.Paused
	m.emit(Event{Name: EventJobStatusChange, Job: j.id, Status: fsm.Paused})
}

// plantedEarlyCommit lets every member's driver commit now.
func (m *Manager) plantedEarlyCommit(t *Txn) {
	for o := t.head; o != nil; o = o.txnNext {
		if c, ok := o.driver.(Committer); ok {
			c.Commit(o)
		}
	}
}
