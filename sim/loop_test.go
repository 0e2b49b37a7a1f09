package sim_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/sim"
)

// runJobs starts three test jobs (one with zero-length slices, which is
// due again on the same instant after every slice) and moves the clock
// with advance; it returns the event log and the final time.
func runJobs(t *testing.T, advance func(m *sim.Manager, d int64)) ([]string, int64) {
	t.Helper()
	m := sim.New(sim.Options{Seed: 7})
	rec := m.Record()
	startTestJob(t, m, sim.JobSpec{ID: "a", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 50, StepTime: 1})})
	startTestJob(t, m, sim.JobSpec{ID: "b", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 5})})
	startTestJob(t, m, sim.JobSpec{ID: "c", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 3, Ready: true})})
	advance(m, 2_500_000)
	advance(m, 10_000_000)
	var ev []string
	for _, e := range rec.Events() {
		ev = append(ev, e.String())
	}
	return ev, m.Now()
}

// TestAdvanceAtMostIsAdvanceInPieces: AdvanceAtMost with a budget of one
// entry, called until it reports nothing more, gives exactly the run of
// Advance: the same events in the same order and the same final clock.
func TestAdvanceAtMostIsAdvanceInPieces(t *testing.T) {
	want, wantNow := runJobs(t, func(m *sim.Manager, d int64) { m.Advance(d) })
	got, gotNow := runJobs(t, func(m *sim.Manager, d int64) {
		end := m.Now() + d
		pieces := 0
		for m.AdvanceAtMost(end-m.Now(), 1) {
			pieces++
		}
		if pieces == 0 {
			t.Error("AdvanceAtMost(…, 1) never stopped early: the budget is not applied")
		}
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-Advance +AdvanceAtMost):\n%s", diff)
	}
	if gotNow != wantNow {
		t.Errorf("clock %d, want %d", gotNow, wantNow)
	}
}

// TestSettleAtMostStopsAndResumes: entries due now (three jobs failing at
// once, each with its exit queued on the same instant) run at most n per call,
// and the calls together run what Settle runs.
func TestSettleAtMostStopsAndResumes(t *testing.T) {
	m := sim.New(sim.Options{})
	rec := m.Record()
	for _, id := range []string{"x", "y", "z"} {
		startTestJob(t, m, sim.JobSpec{ID: id, Driver: sim.NewTestDriver(sim.TestSpec{Steps: 2, FailAt: 1})})
	}
	calls := 1
	for m.SettleAtMost(1) {
		calls++
	}
	if calls < 2 {
		t.Errorf("SettleAtMost(1) ran everything in one call")
	}
	m2 := sim.New(sim.Options{})
	rec2 := m2.Record()
	for _, id := range []string{"x", "y", "z"} {
		startTestJob(t, m2, sim.JobSpec{ID: id, Driver: sim.NewTestDriver(sim.TestSpec{Steps: 2, FailAt: 1})})
	}
	m2.Settle()
	str := func(r *sim.Recorder) []string {
		var out []string
		for _, e := range r.Events() {
			out = append(out, e.String())
		}
		return out
	}
	if diff := cmp.Diff(str(rec2), str(rec)); diff != "" {
		t.Errorf("events (-Settle +SettleAtMost):\n%s", diff)
	}
}
