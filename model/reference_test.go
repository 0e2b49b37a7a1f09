package model

import (
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// These tests judge QEMU 7.2's own verified event sequences (reference
// qemu-jobs.md §3.2, §4.3, §4.4) with the model alone: the model must accept
// what real QEMU did and reject the same sequence with a step out of place.
// The expected sequences are copied from the reference, not produced by code.

// ev parses "j0 running", "ERROR a write report", "CANCELLED c",
// "COMPLETED a" and "COMPLETED a: <error text>", "PENDING a", "READY a".
func ev(s string) Event {
	f := strings.Fields(s)
	switch f[0] {
	case "ERROR":
		return Event{Kind: EvError, Job: f[1], Op: f[2], Action: f[3]}
	case "CANCELLED":
		return Event{Kind: EvCancelled, Job: f[1]}
	case "PENDING":
		return Event{Kind: EvPending, Job: f[1]}
	case "READY":
		return Event{Kind: EvReady, Job: f[1]}
	case "COMPLETED":
		if id, msg, ok := strings.Cut(strings.TrimPrefix(s, "COMPLETED "), ": "); ok {
			return Event{Kind: EvCompleted, Job: id, HasError: true, Error: msg}
		}
		return Event{Kind: EvCompleted, Job: f[1]}
	}
	st, ok := fsm.ParseStatus(f[1])
	if !ok {
		panic("bad status in " + s)
	}
	return Event{Kind: EvStatus, Job: f[0], Status: st}
}

func feed(t *testing.T, m *Model, events ...string) {
	t.Helper()
	for _, s := range events {
		if err := m.Observe(ev(s)); err != nil {
			t.Fatalf("model rejects %q: %v", s, err)
		}
	}
}

func mustRefuse(t *testing.T, m *Model, s string) {
	t.Helper()
	if err := m.Observe(ev(s)); err == nil {
		t.Fatalf("model accepted %q", s)
	}
}

func backup(id string, txn int) Spec {
	return Spec{ID: id, Type: "backup", Block: true, Txn: txn, AutoFinalize: true, AutoDismiss: true, HasPrepare: false}
}

func startAll(t *testing.T, m *Model, specs ...Spec) {
	t.Helper()
	for _, s := range specs {
		if err := m.Create(s); err != nil {
			t.Fatal(err)
		}
		feed(t, m, s.ID+" created")
	}
	for _, s := range specs {
		if err := m.Start(s.ID); err != nil {
			t.Fatal(err)
		}
		feed(t, m, s.ID+" running")
	}
}

func newRefModel() *Model { m := New(); m.NoCalls = true; return m }

// §4.3 verified: grouped backups a, b, c (action order); a's target fails.
func TestReferenceGroupedFailure(t *testing.T) {
	for _, wrong := range []bool{false, true} {
		m := newRefModel()
		a := backup("a", 1)
		a.Fails, a.FailText = true, "Input/output error"
		a.IOError = &IOError{Op: "write", Action: "report"}
		startAll(t, m, a, backup("b", 1), backup("c", 1))
		feed(t, m, "ERROR a write report", "a aborting", "c aborting")
		if wrong {
			// b is finalized before c: c is newer, so it goes first.
			mustRefuse(t, m, "CANCELLED b")
			continue
		}
		feed(t, m, "CANCELLED c", "c concluded", "c null",
			"b aborting", "CANCELLED b", "b concluded", "b null",
			"COMPLETED a: Input/output error", "a concluded", "a null")
		if err := m.Quiesce(); err != nil {
			t.Fatal(err)
		}
	}
}

// §4.3 verified: b and c already waiting when a fails (actions b, a, c).
func TestReferenceGroupedFailureWithWaitingMembers(t *testing.T) {
	m := newRefModel()
	a := backup("a", 1)
	a.Fails, a.FailText = true, "Input/output error"
	startAll(t, m, backup("b", 1), a, backup("c", 1))
	feed(t, m, "b waiting", "c waiting", "a aborting",
		"c aborting", "CANCELLED c", "c concluded", "c null",
		"COMPLETED a: Input/output error", "a concluded", "a null",
		"b aborting", "CANCELLED b", "b concluded", "b null")
	if err := m.Quiesce(); err != nil {
		t.Fatal(err)
	}
}

// §4.3 verified: job-cancel b in grouped {b, c}, both running.
func TestReferenceGroupedUserCancel(t *testing.T) {
	m := newRefModel()
	startAll(t, m, backup("b", 1), backup("c", 1))
	b := m.Job("b")
	if err := m.Cancel(b, false, true); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, m, "c aborting") // c is cancelled only once b's exit aborts the transaction
	feed(t, m, "b aborting", "c aborting", "CANCELLED c", "c concluded", "c null",
		"CANCELLED b", "b concluded", "b null")
}

// §3.2 verified: backup auto-finalize=false (and auto-dismiss=false).
func TestReferenceManualFinalize(t *testing.T) {
	m := newRefModel()
	s := backup("j0", 0)
	s.AutoFinalize, s.AutoDismiss = false, false
	startAll(t, m, s)
	feed(t, m, "j0 waiting", "j0 pending", "PENDING j0")
	j := m.Job("j0")
	mustRefuse(t, m, "j0 concluded")
	if err := m.Dismiss(j); err == nil || err.Error() != "Job 'j0' in state 'pending' cannot accept command verb 'dismiss'" {
		t.Fatalf("dismiss in pending: %v", err)
	}
	if err := m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	feed(t, m, "COMPLETED j0", "j0 concluded")
	if err := m.Quiesce(); err != nil {
		t.Fatal(err)
	}
	if err := m.Dismiss(j); err != nil {
		t.Fatal(err)
	}
	feed(t, m, "j0 null")
}

// §3.2 verified: a READY mirror cancelled softly completes without error.
func TestReferenceMirrorSoftCancel(t *testing.T) {
	m := newRefModel()
	s := Spec{ID: "m0", Type: "mirror", Block: true, AutoFinalize: true, AutoDismiss: true, Ready: true, HasComplete: true}
	startAll(t, m, s)
	feed(t, m, "m0 ready", "READY m0")
	j := m.Job("m0")
	if err := m.Cancel(j, true, false); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, m, "m0 aborting")
	feed(t, m, "m0 waiting", "m0 pending", "COMPLETED m0", "m0 concluded", "m0 null")
}

// §2.2 verified error texts and the checks' order.
func TestReferenceVerbErrors(t *testing.T) {
	m := newRefModel()
	s := Spec{ID: "m0", Type: "mirror", Block: true, AutoFinalize: true, AutoDismiss: false, Ready: true, HasComplete: true}
	startAll(t, m, s)
	j := m.Job("m0")
	check := func(err error, want string) {
		t.Helper()
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %q", err, want)
		}
	}
	check(m.Resume(j), "Can't resume a job that was not paused")
	if err := m.Pause(j); err != nil {
		t.Fatal(err)
	}
	feed(t, m, "m0 paused")
	check(m.Pause(j), "Job is already paused")
	check(m.Cancel(j, true, false), "The block job for device 'm0' is currently paused")
	check(m.Complete(j), "Job 'm0' in state 'paused' cannot accept command verb 'complete'")
	_, err := m.Lookup("nope", true)
	check(err, "Block job 'nope' not found")
	_, err = m.Lookup("nope", false)
	check(err, "Job not found")
	check(m.SetSpeed(j, -1), "Parameter 'speed' expects a non-negative value")
	check(m.Create(Spec{ID: "1m"}), "Invalid job ID '1m'")
	check(m.Create(Spec{ID: "m0"}), "Job ID 'm0' already in use")
	// A forced cancel of the paused job (§3.3): it is woken and runs to its
	// exit: running, aborting, CANCELLED, concluded.
	if err := m.Cancel(j, false, true); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, m, "m0 ready")
	feed(t, m, "m0 running", "m0 aborting", "CANCELLED m0", "m0 concluded")
	check(m.Cancel(j, false, true), "Job 'm0' in state 'concluded' cannot accept command verb 'cancel'")
}
