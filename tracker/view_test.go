package tracker_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/qmptest"
	"github.com/jobfsm/jobfsm/timeline"
	"github.com/jobfsm/jobfsm/tracker"
)

// stepClock is a fake clock for views: each reading is 1ms after the last,
// so a view's times count its records.
func stepClock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Millisecond); return t }
}

// TestViewDrawsWhatTheTrackerSaw runs a backup whose end nobody watches,
// under a fault plan that drops its BLOCK_JOB_COMPLETED, and reads the
// tracker's view back with timeline.Load: the lane shows the status
// changes the tracker's monitor delivered (none while it was away), its
// commands naming the job, its verdict, and no COMPLETED event.
func TestViewDrawsWhatTheTrackerSaw(t *testing.T) {
	srv := qmptest.NewServer(t, qmptest.Options{Faults: qmptest.MustPlan(t,
		`{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED", "job": "b0"}}]}`)})
	for _, node := range []string{"src", "dst"} {
		srv.MustExec(t, "blockdev-add", map[string]any{"driver": "null-co", "node-name": node, "size": 4 << 20})
	}
	srv.MustExec(t, "block-dirty-bitmap-add", map[string]any{"node": "src", "name": "bm"})
	j, err := tracker.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var view bytes.Buffer
	opts := tracker.Options{View: tracker.NewView(&view, stepClock())}
	dial := func() *tracker.Client {
		c, err := tracker.Dial(srv.Path, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// another monitor, open before the job starts, sees it reach pending
	admin := dial()
	defer admin.Close()
	// the tool starts the backup and goes away
	c := dial()
	tr := tracker.New(j, c, opts)
	if err := tr.Backup(tracker.BackupSpec{JobID: "b0", Device: "src", Target: "dst", Sync: "full", Bitmap: "bm", BitmapMode: "on-success"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// the job runs to pending while the tool is away
	for pending := false; !pending; {
		got, err := admin.WaitEvent(10 * time.Second)
		if err != nil || !got {
			t.Fatalf("b0 never reached pending (err %v)", err)
		}
		for _, e := range admin.TakeEvents() {
			pending = pending || (e.Name == "JOB_STATUS_CHANGE" && strings.Contains(string(e.Data), `"pending"`))
		}
	}
	// the tool comes back and reconciles
	c = dial()
	defer c.Close()
	tr = tracker.New(j, c, opts)
	st, err := tr.Reconcile()
	if err != nil {
		t.Fatal(err)
	}
	if st.Jobs["b0"].Verdict != tracker.Succeeded {
		t.Fatalf("verdict %+v, want succeeded", st.Jobs["b0"])
	}
	if err := opts.View.Err(); err != nil {
		t.Fatal(err)
	}

	run, err := timeline.Load(view.Bytes())
	if err != nil {
		t.Fatalf("timeline.Load of the view: %v\n%s", err, view.String())
	}
	var text strings.Builder
	if err := timeline.Text(&text, run); err != nil {
		t.Fatal(err)
	}
	// Hand-written from the protocol: the marker bitmap is added before
	// the backup; blockdev-backup's status changes arrive before its
	// return (the transaction's drain pauses the new job once, as QEMU
	// 7.2's does); waiting and pending happen while the tracker is away,
	// so its view lacks them; job-finalize brings concluded (its
	// BLOCK_JOB_COMPLETED is dropped), the verdict is journaled before
	// job-dismiss, which brings null.
	want := `time  b0
----  -------------------
   0                       -- > connect
 1ms                       -- > query-named-block-nodes
 2ms                       -- > block-dirty-bitmap-add
 3ms  > blockdev-backup
 4ms  created
 5ms  running
 6ms  paused
 7ms  running
 8ms  |                    -- > connect
 9ms  |                    -- > query-jobs
10ms  > job-finalize
11ms  concluded
12ms  |                    -- > query-named-block-nodes
13ms  |                    -- > query-jobs
14ms  > verdict succeeded
15ms  > bitmap src/bm ok
16ms  > job-dismiss
17ms  null

b0: created -> running -> paused -> running -> concluded -> null
`
	if text.String() != want {
		t.Fatalf("the view's timeline:\n%s\nwant:\n%s\nview:\n%s", text.String(), want, view.String())
	}
	if strings.Contains(view.String(), "BLOCK_JOB_COMPLETED") {
		t.Fatalf("the dropped BLOCK_JOB_COMPLETED is in the view:\n%s", view.String())
	}
	if len(srv.Faults()) == 0 {
		t.Fatal("the fault plan never dropped BLOCK_JOB_COMPLETED: the run proved nothing")
	}
	var header map[string]any
	first, _, _ := strings.Cut(view.String(), "\n")
	if err := json.Unmarshal([]byte(first), &header); err != nil || header["op"] != "config" || header["view"] != "tracker" {
		t.Fatalf("first line %s is not the view header", first)
	}
}

// TestOpenViewContinuesTheTimeAxis: a second run appending to a view file
// continues its times from the first record's, writes no second header,
// and a file that is not a view is refused as it was.
func TestOpenViewContinuesTheTimeAxis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "view.ndjson")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	for run := 0; run < 2; run++ {
		v, err := tracker.OpenView(path, clock)
		if err != nil {
			t.Fatal(err)
		}
		// a tracker with a client records its connect
		c, err := tracker.NewClient(greeter(t), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		tracker.New(nil, c, tracker.Options{View: v})
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		at = at.Add(5 * time.Second)
	}
	data, _ := os.ReadFile(path)
	want := `{"op":"config","view":"tracker","start_unix_ns":1767225600000000000}
{"t":0,"op":"connect"}
{"t":5000000000,"op":"connect"}
`
	if string(data) != want {
		t.Fatalf("view file:\n%s\nwant:\n%s", data, want)
	}

	other := filepath.Join(t.TempDir(), "notes")
	if err := os.WriteFile(other, []byte("{\"op\":\"verb\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fe *tracker.ViewFileError
	if _, err := tracker.OpenView(other, clock); !errors.As(err, &fe) || !strings.Contains(err.Error(), "not a tracker view") {
		t.Fatalf("OpenView of a non-view: %v, want a *ViewFileError saying it is not a tracker view", err)
	}
	if got, _ := os.ReadFile(other); string(got) != "{\"op\":\"verb\"}\n" {
		t.Fatalf("the non-view file changed: %q", got)
	}
}

// greeter is a connection to a QMP peer that greets and accepts
// qmp_capabilities.
func greeter(t *testing.T) net.Conn {
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		b.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\n"))
		buf := make([]byte, 512)
		if _, err := b.Read(buf); err != nil {
			return
		}
		b.Write([]byte(`{"return": {}, "id": "t1"}` + "\n"))
	}()
	t.Cleanup(func() { a.Close() })
	return a
}
