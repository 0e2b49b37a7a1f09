package sim_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/sim"
)

func startTestJob(t *testing.T, m *sim.Manager, spec sim.JobSpec) *sim.Job {
	t.Helper()
	j, err := m.Create(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(j); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestCancelAllOrder: the order qemu-storage-daemon 7.2 emits on SIGTERM
// with two speed-limited backups running (measured: both pause for the
// drain, oldest first; then the newest is cancelled to its end, then the
// next), and a concluded job kept by auto-dismiss=false is dismissed.
func TestCancelAllOrder(t *testing.T) {
	for _, seed := range []uint64{0, 1, 2} {
		m := sim.New(sim.Options{Seed: seed})
		kept := startTestJob(t, m, sim.JobSpec{ID: "k", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1}), ManualDismiss: true})
		m.Advance(5_000_000)
		if kept.Status().String() != "concluded" {
			t.Fatalf("setup: k is %s", kept.Status())
		}
		startTestJob(t, m, sim.JobSpec{ID: "j0", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1000})})
		startTestJob(t, m, sim.JobSpec{ID: "j1", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1000})})
		m.Advance(2_500_000)
		rec := m.Record()
		if left := m.CancelAll(sim.ShutdownBudget); len(left) != 0 {
			t.Fatalf("seed %d: jobs left: %v", seed, left)
		}
		want := []string{
			"j0 paused", "j1 paused",
			"j1 running", "j1 aborting", "BLOCK_JOB_CANCELLED j1", "j1 concluded", "j1 null",
			"j0 running", "j0 aborting", "BLOCK_JOB_CANCELLED j0", "j0 concluded", "j0 null",
			"k null",
		}
		var got []string
		for _, e := range rec.Events() {
			got = append(got, e.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("seed %d: events (-want +got):\n%s", seed, diff)
		}
	}
}

// TestCancelAllUnstartedAndReady: a created job that never started and a
// ready job (a mirror waiting for complete) both end; a ready job pauses to
// standby for the drain.
func TestCancelAllUnstartedAndReady(t *testing.T) {
	m := sim.New(sim.Options{})
	if _, err := m.Create(sim.JobSpec{ID: "c", Driver: sim.NewTestDriver(sim.TestSpec{})}); err != nil {
		t.Fatal(err)
	}
	startTestJob(t, m, sim.JobSpec{ID: "r", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1, Ready: true})})
	m.Advance(5_000_000)
	rec := m.Record()
	if left := m.CancelAll(sim.ShutdownBudget); len(left) != 0 {
		t.Fatalf("jobs left: %v", left)
	}
	want := []string{
		"r standby",
		"r ready", "r aborting", "BLOCK_JOB_CANCELLED r", "r concluded", "r null",
		"c aborting", "c concluded", "c null",
	}
	var got []string
	for _, e := range rec.Events() {
		got = append(got, e.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
