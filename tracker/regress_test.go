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
