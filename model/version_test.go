package model

import (
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// block-job-change (QEMU 10.0, spec/qemu-10.0.md §5): the verb check of
// JobVerbTable's change row first (a paused mirror passes it, a concluded
// one is refused with QEMU's text), then the driver: only a mirror has a
// .change ("Job type does not support change" for a backup). QEMU 7.2 has no
// such command: the model of 7.2 refuses the verb as unknown. Texts from
// spec/qemu-10.0.md, not from the model.
func TestChangeVerbPerVersion(t *testing.T) {
	m := NewAt(fsm.QEMU10_0)
	m.NoCalls = true
	if m.Version() != fsm.QEMU10_0 {
		t.Fatalf("Version() = %s", m.Version())
	}
	mirror := Spec{ID: "m0", Type: "mirror", Block: true, AutoFinalize: true, AutoDismiss: false, Ready: true, HasComplete: true, HasChange: true}
	startAll(t, m, mirror, backup("b0", 0))
	j, b := m.Job("m0"), m.Job("b0")
	change := Action{Op: OpVerb, Verb: fsm.VerbChange, Block: true}
	if err := m.Verb(j, change); err != nil {
		t.Errorf("change on a running mirror: %v", err)
	}
	if err := m.Verb(b, change); err == nil || err.Error() != "Job type does not support change" {
		t.Errorf("change on a backup: %v", err)
	}
	if err := m.Pause(j); err != nil {
		t.Fatal(err)
	}
	feed(t, m, "m0 paused")
	if err := m.Verb(j, change); err != nil {
		t.Errorf("change on a paused mirror: %v", err)
	}
	if err := m.Cancel(j, false, true); err != nil {
		t.Fatal(err)
	}
	feed(t, m, "m0 running", "m0 aborting", "CANCELLED m0", "m0 concluded")
	want := "Job 'm0' in state 'concluded' cannot accept command verb 'change'"
	if err := m.Verb(j, change); err == nil || err.Error() != want {
		t.Errorf("change on a concluded mirror: %v, want %q", err, want)
	}

	m72 := newRefModel()
	startAll(t, m72, mirror)
	if err := m72.Verb(m72.Job("m0"), change); err == nil || err.Error() != "model: change is not a job verb of QEMU 7.2" {
		t.Errorf("change under 7.2: %v", err)
	}
}

// I2 judges an accepted verb by the history's version's table: change
// accepted in running is a violation under 7.2's and fine under 10.0's.
func TestHistoryJudgesVerbsByVersion(t *testing.T) {
	for _, c := range []struct {
		v    fsm.Version
		fail bool
	}{{fsm.QEMU7_2, true}, {fsm.QEMU10_0, false}} {
		o := &Obs{Hist: NewHistoryAt(c.v), Verb: &VerbTry{Cmd: "block-job-change", ID: "m0", Verb: fsm.VerbChange, Found: true, Before: fsm.Running}}
		if err := checkI2(o); (err != nil) != c.fail {
			t.Errorf("%s: checkI2 = %v, want failure %v", c.v, err, c.fail)
		}
	}
}

// Drain blips (spec/qemu-10.0.md §1): in 10.0 the graph operations of a
// block job drain every node, and each drain gives every other running job
// a paused/running pair. The events after job-cancel j0 are
// spec/conformance/qemu-10.0/txn_individual_cancel.transcript.json's, in
// their order (backup_clean's three drains before CANCELLED, the freeing's
// one after null). 10.0's model accepts them; 7.2's refuses the first pair,
// as 7.2 gave none there. A fifth pair (more than the step's graph
// operations drain), a pause with no graph operation in the step, and a
// drain that never ends are refused at 10.0 too.
func TestDrainBlipsPerVersion(t *testing.T) {
	afterCancel := []string{"j0 aborting",
		"j1 paused", "j1 running", "j1 paused", "j1 running", "j1 paused", "j1 running",
		"CANCELLED j0", "j0 concluded", "j0 null", "j1 paused", "j1 running"}
	setup := func(v fsm.Version) *Model {
		m := NewAt(v)
		m.NoCalls = true
		startAll(t, m, backup("j0", 0), backup("j1", 0))
		if err := m.Quiesce(); err != nil {
			t.Fatal(err)
		}
		if err := m.Cancel(m.Job("j0"), false, true); err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := setup(fsm.QEMU10_0)
	feed(t, m, afterCancel...)
	// A backup's cancel drains 3 (backup_clean) + 1 (freeing) times: a
	// fifth pair in the same step is one too many.
	mustRefuse(t, m, "j1 paused")
	if err := m.Quiesce(); err != nil {
		t.Errorf("10.0 at rest after the blips: %v", err)
	}
	if m.DrainBlips() != 4 {
		t.Errorf("10.0 accepted %d drain pauses, want the transcript's 4", m.DrainBlips())
	}
	if q := m.QueryBlockJobs(nil); len(q) != 1 || q[0].Paused || q[0].Status != "running" {
		t.Errorf("j1 after the blips: %+v, want running and not paused", q)
	}
	// A new step without a graph operation: no drain, so no pause.
	mustRefuse(t, m, "j1 paused")

	m72 := setup(fsm.QEMU7_2)
	feed(t, m72, "j0 aborting")
	mustRefuse(t, m72, "j1 paused")

	// A drain that pauses j1 and never ends is caught at rest.
	m = setup(fsm.QEMU10_0)
	feed(t, m, afterCancel[:2]...)
	feed(t, m, afterCancel[7:10]...)
	if err := m.Quiesce(); err == nil || !strings.Contains(err.Error(), "j1 is still held by a drain") {
		t.Errorf("Quiesce with j1 held by a drain: %v", err)
	}
}

// An accepted change runs the driver's change callback (mirror_change; the
// test driver's with .change): where callbacks are observed, the model
// requires it before the command returns; a refused change calls nothing.
func TestChangeCallsTheDriver(t *testing.T) {
	m := NewAt(fsm.QEMU10_0)
	withChange := Spec{ID: "t0", Type: "mirror", Block: true, AutoFinalize: true, Ready: true, HasComplete: true, HasChange: true}
	without := Spec{ID: "t1", Type: "mirror", Block: true, AutoFinalize: true, Ready: true, HasComplete: true}
	for _, s := range []Spec{withChange, without} {
		if err := m.Create(s); err != nil {
			t.Fatal(err)
		}
		feed(t, m, s.ID+" created")
		if err := m.Start(s.ID); err != nil {
			t.Fatal(err)
		}
		feed(t, m, s.ID+" running")
	}
	change := Action{Op: OpVerb, Verb: fsm.VerbChange, Block: true}
	if err := m.Verb(m.Job("t1"), change); err == nil || err.Error() != "Job type does not support change" {
		t.Fatalf("change without .change: %v", err)
	}
	if err := m.Quiesce(); err != nil {
		t.Fatalf("a refused change requires %v", err)
	}
	if err := m.Verb(m.Job("t0"), change); err != nil {
		t.Fatal(err)
	}
	if err := m.Quiesce(); err == nil {
		t.Fatal("an accepted change returned without its driver callback")
	}
	if err := m.Observe(Event{Kind: EvCall, Job: "t0", Call: "change"}); err != nil {
		t.Fatalf("the change callback: %v", err)
	}
	if err := m.Quiesce(); err != nil {
		t.Fatal(err)
	}
}
