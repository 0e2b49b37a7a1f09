package sim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// runConcurrent runs several jobs whose steps fall due at the same instants,
// so the seeded tie-break decides their interleaving, and returns the log.
func runConcurrent(seed uint64) string {
	m := sim.New(sim.Options{Seed: seed})
	rec := m.Record()
	for i := range 4 {
		j, _ := m.Create(sim.JobSpec{ID: fmt.Sprintf("j%d", i), Driver: sim.NewTestDriver(sim.TestSpec{Steps: 3})})
		m.Start(j)
	}
	for m.Step() {
	}
	b, _ := json.Marshal(rec.Events())
	return string(b)
}

// Same seed and same commands give a byte-identical event log; the seed
// does choose among equally-timed interleavings.
//
// Checks: R51.
func TestSameSeedSameLog(t *testing.T) {
	logs := map[string]bool{}
	for seed := range uint64(8) {
		a, b := runConcurrent(seed), runConcurrent(seed)
		if a != b {
			t.Fatalf("seed %d: two runs differ", seed)
		}
		logs[a] = true
	}
	if len(logs) < 2 {
		t.Fatalf("8 seeds gave %d distinct interleavings; the scheduler ignores its seed", len(logs))
	}
}

// A disconnected monitor loses events, as a real socket would; query-jobs
// still tells it the truth (I6).
func TestMonitorLosesEventsWhileDisconnected(t *testing.T) {
	m := sim.New(sim.Options{})
	mon := m.NewMonitor()
	j, _ := m.Create(sim.JobSpec{ID: "j0", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 2}), ManualDismiss: true})
	m.Start(j)
	mon.Disconnect()
	for m.Step() {
	}
	mon.Connect()
	got := []string{}
	for _, e := range mon.Take() {
		got = append(got, e.String())
	}
	if diff := cmp.Diff([]string{"j0 created", "j0 running"}, got); diff != "" {
		t.Fatalf("events seen (-want +got):\n%s", diff)
	}
	if mon.Lost() != 4 { // waiting, pending, COMPLETED, concluded
		t.Fatalf("lost %d events, want 4", mon.Lost())
	}
	q := m.QueryJobs()
	if len(q) != 1 || q[0].Status != fsm.Concluded || q[0].Error != nil {
		t.Fatalf("query-jobs after reconnect: %+v", q)
	}
}

// query-jobs and query-block-jobs list newest first, with QEMU's fields.
//
// Checks: R11, R38, R39.
func TestQueries(t *testing.T) {
	m := sim.New(sim.Options{})
	a, _ := m.Create(sim.JobSpec{ID: "a", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 4, StepBytes: 100})})
	m.Create(sim.JobSpec{ID: "b", Driver: sim.NewTestDriver(sim.TestSpec{Type: sim.TypeCreate, Steps: 1}), ManualFinalize: true, Speed: 7})
	m.Start(a)
	m.Advance(1_500_000) // one slice done, sleeping in the second
	if err := m.Pause(a); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m.QueryJobs())
	want := `[{"id":"b","type":"create","status":"created","current-progress":0,"total-progress":0},` +
		`{"id":"a","type":"backup","status":"paused","current-progress":200,"total-progress":400}]`
	if string(b) != want {
		t.Errorf("query-jobs:\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(m.QueryBlockJobs())
	want = `[{"type":"backup","device":"a","len":400,"offset":200,"busy":false,"paused":true,"speed":0,"io-status":"ok",` +
		`"ready":false,"status":"paused","auto-finalize":true,"auto-dismiss":true}]`
	if string(b) != want {
		t.Errorf("query-block-jobs:\n got %s\nwant %s", b, want)
	}
	if _, err := m.Lookup(sim.VerbCommand{Verb: fsm.VerbPause, Block: true, ID: "b"}); err == nil || err.Error() != "Block job 'b' not found" {
		t.Errorf("block-job lookup of a non-block job: %v", err)
	}
	if _, err := m.Lookup(sim.VerbCommand{Verb: fsm.VerbPause, ID: "b"}); err != nil {
		t.Errorf("job-* lookup of a non-block job: %v", err)
	}
}

// A job with no driver or a second start is refused with an error.
func TestMisuseIsAnErrorNotAPanic(t *testing.T) {
	m := sim.New(sim.Options{})
	if _, err := m.Create(sim.JobSpec{ID: "x"}); err == nil {
		t.Error("Create without a driver succeeded")
	}
	if m.Job("x") != nil {
		t.Error("a refused create left a job behind")
	}
	j, _ := m.Create(sim.JobSpec{ID: "j", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1})})
	m.Start(j)
	if err := m.Start(j); err == nil || !strings.Contains(err.Error(), "cannot start") {
		t.Errorf("second Start: %v", err)
	}
}

// A refused verb changes nothing (I2): every field of every query is the
// same before and after.
//
// Checks: R6.
func TestRefusedVerbChangesNothing(t *testing.T) {
	m := sim.New(sim.Options{})
	j, _ := m.Create(sim.JobSpec{ID: "j", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 5})})
	m.Start(j)
	m.Advance(1_500_000)
	before, _ := json.Marshal([]any{m.QueryJobs(), m.QueryBlockJobs()})
	for _, err := range []error{m.Resume(j), m.Complete(j), m.Finalize(j), m.Dismiss(j), m.SetSpeed(j, -1), m.Apply(sim.VerbCommand{Verb: fsm.VerbCancel, Block: true, ID: "nope"})} {
		if err == nil {
			t.Fatal("verb accepted in the wrong state")
		}
	}
	after, _ := json.Marshal([]any{m.QueryJobs(), m.QueryBlockJobs()})
	if string(before) != string(after) {
		t.Fatalf("refused verbs changed the job:\n%s\n%s", before, after)
	}
}
