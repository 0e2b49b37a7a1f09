package sim

import (
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// A manager's jobs fire through its version's table: a created job accepts
// the verb change (block-job-change) under QEMU 10.0 and not under 7.2.
func TestJobsFireThroughTheirVersionsTable(t *testing.T) {
	for _, c := range []struct {
		v      fsm.Version
		change bool
	}{{fsm.QEMU7_2, false}, {fsm.QEMU10_0, true}} {
		m := New(Options{Seed: 1, Version: c.v})
		j, err := m.Create(JobSpec{ID: "j", Driver: NewTestDriver(TestSpec{Steps: 1})})
		if err != nil {
			t.Fatal(err)
		}
		if j.machine.Table().Version() != c.v || j.machine.Accepts(fsm.VerbChange) != c.change {
			t.Errorf("%s: job's table is %s's, change accepted in created: %v (want %v)",
				c.v, j.machine.Table().Version(), j.machine.Accepts(fsm.VerbChange), c.change)
		}
	}
}
