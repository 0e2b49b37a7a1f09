package tracker

import (
	"testing"
)

// Scripted sequences that found real tracker bugs in TestTrackerProperty,
// kept so that they replay on every run whatever rapid draws.

// TestRegressBitmapOwnedByRunningJob (seed 4, shrunk): a tracked backup
// holds the bitmap while it runs, so guest writes go to the bitmap's
// successor; status used to show the bitmap's previous "ok" with its old
// chain although an incremental backup from it then would miss those
// writes. A bitmap held by a running tracked job is reported
// needs-full-backup until the job is decided.
func TestRegressBitmapOwnedByRunningJob(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("g1", w.spec("s0", "g1", "full", "always"), w.spec("s1", "g1", "full", "always"))
	w.write("s0")
	w.write("s0")
	if err := w.adminDo("job-cancel", map[string]any{"id": "b2"}); err != nil {
		t.Fatal(err)
	}
	w.killIn = 1
	w.write("s0")
	w.status(t)
	w.start("", w.spec("s0", "", "full", "on-success"))
	w.status(t)
	w.write("s0")
	w.start("", w.spec("s1", "", "incremental", ""))
	w.status(t)
	w.drain(t)
}

// TestRegressRestartWhileBitmapOwned (seeds 5 and 10, rebuilt by hand): a
// tracked backup held the bitmap when QEMU restarted, and the tracker
// started the next backup on it before reconciling. Observation skipped
// the held bitmap, the new backup re-created the marker, and the next
// decision built on the state from before the restart: "ok" although the
// restart had lost the writes recorded since. Missing-marker evidence now
// applies to held bitmaps too.
func TestRegressRestartWhileBitmapOwned(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("", w.spec("s1", "", "full", "on-success"))
	w.d.Advance(1e9)
	w.status(t)
	if st := w.tr.status(nil).Bitmaps["s1/bm"]; st.Verdict != BitmapOK {
		t.Fatalf("after a full backup: s1/bm is %+v, want ok", st)
	}
	w.write("s1")
	w.start("", w.spec("s1", "", "incremental", ""))
	w.restart()
	w.start("", w.spec("s1", "", "incremental", ""))
	if err := w.adminDo("job-cancel", map[string]any{"id": "b3"}); err != nil {
		t.Fatal(err)
	}
	w.status(t)
	if st := w.tr.status(nil).Bitmaps["s1/bm"]; st.Verdict != BitmapNeedsFull {
		t.Fatalf("after a restart: s1/bm is %+v, want needs-full-backup", st)
	}
	w.drain(t)
}

// TestRegressTwoBackupsOfOneSource (seed 1, shrunk): two backups of one
// source, then a guest write. The simulator sent the write through the
// newer job's copy-before-write filter only, so the older job's target got
// the new data and its "succeeded" broke T1. A bug in blockdev's
// ReplaceNode (QEMU chains both filters), fixed there.
func TestRegressTwoBackupsOfOneSource(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("", w.spec("s1", "", "full", ""))
	w.start("g1", w.spec("s0", "g1", "full", "always"), w.spec("s1", "g1", "full", ""))
	for range 8 {
		w.write("s1")
	}
	w.drain(t)
}

// TestRegressKillAfterMarker (review, then scripted): after a QEMU restart,
// starting a backup finds the tracker's marker gone and creates it anew.
// Killed right after that, a tracker that had not yet journaled the
// restart evidence would find the new marker on reopening and keep the
// bitmap's pre-restart "ok". The evidence is journaled before the marker
// is created.
func TestRegressKillAfterMarker(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("", w.spec("s0", "", "full", "on-success"))
	w.d.Advance(1e9)
	w.status(t)
	if st := w.tr.status(nil).Bitmaps["s0/bm"]; st.Verdict != BitmapOK {
		t.Fatalf("after a full backup: s0/bm is %+v, want ok", st)
	}
	w.write("s0")
	w.restart()
	w.killIn = 0 // at the first kill point: right after the marker
	w.start("", w.spec("s0", "", "incremental", ""))
	if w.killIn != -1 {
		t.Fatal("the tracker was not killed")
	}
	w.status(t)
	if st := w.tr.status(nil).Bitmaps["s0/bm"]; st.Verdict != BitmapNeedsFull {
		t.Fatalf("after a restart: s0/bm is %+v, want needs-full-backup", st)
	}
	w.drain(t)
}

// TestReusedJobIDIsNotTouched: after the tracker decided and dismissed
// b1, another client starts a job of its own under the same id. The
// tracker's journal still names b1, but the job is not the tracker's: it
// must neither finalize nor dismiss it (T5).
func TestReusedJobIDIsNotTouched(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("", w.spec("s0", "", "full", ""))
	w.d.Advance(1e9)
	w.status(t)
	if r, _ := w.tr.Journal().Job("b1"); r.Verdict != Succeeded || !r.Gone {
		t.Fatalf("b1 after status: %+v, want succeeded and gone", r)
	}
	if err := w.adminDo("x-jobsim-test-job", map[string]any{"id": "b1", "steps": 1,
		"auto-finalize": false, "auto-dismiss": false}); err != nil {
		t.Fatal(err)
	}
	w.d.Advance(1e9)
	if err := w.adminDo("job-finalize", map[string]any{"id": "b1"}); err != nil {
		t.Fatal(err)
	}
	w.status(t)
	if j := w.d.Job("b1"); j == nil || j.Status().String() != "concluded" {
		t.Fatalf("the other client's job b1 was touched by the tracker: %v", j)
	}
	if r, _ := w.tr.Journal().Job("b1"); r.Verdict != Succeeded {
		t.Fatalf("b1's verdict changed: %+v", r)
	}
}
