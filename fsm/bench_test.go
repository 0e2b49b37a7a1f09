package fsm_test

import (
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// BenchmarkTransition is one stateless transition through a job's machine
// (pause point and back, so the machine returns to its start).
func BenchmarkTransition(b *testing.B) {
	j := &job{status: fsm.Running}
	m := fsm.NewMachine(j)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t := fsm.TriggerPausePoint
		if i%2 == 1 {
			t = fsm.TriggerUnpause
		}
		if _, _, err := m.Fire(t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPermits(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		fsm.Permits(fsm.Status(i%11), fsm.Verb(i%7))
	}
}

// machineSink keeps BenchmarkNewMachine's machines alive, so the compiler
// cannot drop the allocation being measured.
var machineSink *fsm.Machine

// BenchmarkNewMachine is a job's share of the machinery: one small handle,
// since the table is configured once for every job.
func BenchmarkNewMachine(b *testing.B) {
	b.ReportAllocs()
	j := &job{}
	for b.Loop() {
		machineSink = fsm.NewMachine(j)
	}
}
