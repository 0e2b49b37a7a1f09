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
