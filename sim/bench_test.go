package sim_test

import (
	"fmt"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// BenchmarkLifecycle is one job from create to dismiss: created, running,
// waiting, pending, finalize, concluded, dismiss, with auto-finalize and
// auto-dismiss off.
func BenchmarkLifecycle(b *testing.B) {
	b.ReportAllocs()
	m := sim.New(sim.Options{Seed: 1})
	for i := 0; b.Loop(); i++ {
		j, err := m.Create(sim.JobSpec{ID: "j", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1}), ManualFinalize: true, ManualDismiss: true})
		if err != nil {
			b.Fatal(err)
		}
		m.Start(j)
		m.RunUntil(func() bool { return j.Status() == fsm.Pending }, 1<<62)
		if err := m.Finalize(j); err != nil {
			b.Fatal(err)
		}
		if err := m.Dismiss(j); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxnOneFails runs a grouped transaction of N test jobs in which
// one fails; every other member is cancelled and the whole group concludes.
// ns/job must stay flat as N grows (the manager is O(N) per transaction).
func BenchmarkTxnOneFails(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("j%d", i)
		}
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := sim.New(sim.Options{Seed: 1})
				txn := m.NewTxn()
				jobs := make([]*sim.Job, n)
				for i := range jobs {
					spec := sim.TestSpec{Steps: 4}
					if i == n/2 {
						spec.FailAt = 2
					}
					j, err := m.Create(sim.JobSpec{ID: ids[i], Driver: sim.NewTestDriver(spec), Txn: txn})
					if err != nil {
						b.Fatal(err)
					}
					jobs[i] = j
				}
				for _, j := range jobs {
					m.Start(j)
				}
				for m.Step() {
				}
				if len(m.Jobs()) != 0 {
					b.Fatalf("%d jobs left", len(m.Jobs()))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/job")
		})
	}
}
