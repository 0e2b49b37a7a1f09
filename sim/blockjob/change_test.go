package blockjob

import (
	"bytes"
	"errors"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// newEnv10 is newEnv speaking QEMU 10.0 (block-job-change, actively-synced).
func newEnv10(t *testing.T) *env {
	e := newEnv(t)
	e.m = sim.New(sim.Options{Version: fsm.QEMU10_0})
	e.m.Subscribe(func(ev sim.Event) { e.log = append(e.log, evString(ev)) })
	return e
}

func activelySynced(t *testing.T, j *sim.Job) bool {
	t.Helper()
	in := j.BlockInfo()
	if in.ActivelySynced == nil {
		t.Fatalf("%s: query-block-jobs without actively-synced on 10.0", j.ID())
	}
	return *in.ActivelySynced
}

// TestMirrorChangeToWriteBlocking follows block/mirror.c from
// block-job-change on: a rate-limited background mirror switched to
// write-blocking copies each later guest write to the target at once
// (do_sync_target_write), so a write into a range the mirror has not
// reached yet is on the target before the mirror gets there, and the job's
// len and offset both grow by the bytes; actively-synced stays false until
// the mirror finds nothing dirty, then is true; switching back is refused.
func TestMirrorChangeToWriteBlocking(t *testing.T) {
	e := newEnv10(t)
	const size = 64 << 20
	e.mem("src", size)
	e.mem("tgt", size)
	j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), Speed: i64(16 << 20)}, Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.m.Settle() // the first 16 MiB buffer, then the rate limit's sleep
	cur, total := j.Progress()
	if cur != 16<<20 || total != size {
		t.Fatalf("before the change: progress %d/%d, want %d/%d", cur, total, 16<<20, size)
	}
	if err := e.m.Change(j, sim.ChangeOptions{Type: sim.TypeMirror, CopyMode: CopyWriteBlocking}); err != nil {
		t.Fatal(err)
	}
	// a granule-aligned write far beyond what the mirror copied
	p := bytes.Repeat([]byte{0xab}, 128<<10)
	const off = 48 << 20
	if _, err := e.g.Write("src", off, p); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(p))
	if _, err := e.g.Node("tgt").Read(off, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("write-blocking: the guest write is not on the target at once")
	}
	if c, tot := j.Progress(); c != cur+int64(len(p)) || tot != total+int64(len(p)) {
		t.Errorf("after an active write: progress %d/%d, want %d/%d", c, tot, cur+int64(len(p)), total+int64(len(p)))
	}
	if activelySynced(t, j) {
		t.Errorf("actively-synced before the mirror found nothing dirty")
	}
	e.m.RunUntil(func() bool { return j.Status() == fsm.Ready }, e.m.Now()+int64(10e9))
	e.m.Advance(200e6)
	if !activelySynced(t, j) {
		t.Errorf("write-blocking mirror in sync: actively-synced false")
	}
	wantErr(t, e.m.Change(j, sim.ChangeOptions{Type: sim.TypeMirror, CopyMode: CopyBackground}),
		"GenericError", "Change to copy mode 'background' is not implemented")
	// an unaligned write inside clean granules: both sides get it, the
	// bitmap stays clean
	q := []byte("hello, mirror")
	if _, err := e.g.Write("src", 5<<20+7, q); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(q))
	if _, err := e.g.Node("tgt").Read(5<<20+7, got); err != nil || !bytes.Equal(got, q) {
		t.Errorf("unaligned active write: target has %q (%v), want %q", got, err, q)
	}
	if !activelySynced(t, j) {
		t.Errorf("an active write into clean granules lost actively-synced")
	}
	if err := e.m.Complete(j); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if ret, msg, _ := j.Result(); ret != 0 {
		t.Fatal(msg)
	}
}

// TestChangeRefusedWhereQEMURefuses: a backup has no change, a mirror told
// another job type gets the empty branch (background), and a finished job
// fails the verb check (texts measured on 10.0.13, spec/qemu-10.0.md §5).
func TestChangeRefusedWhereQEMURefuses(t *testing.T) {
	e := newEnv10(t)
	e.null("s", 1<<30)
	e.null("t", 1<<30)
	e.null("s1", 1<<30)
	e.null("t1", 1<<30)
	b, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("b"), Speed: i64(1)}, Device: "s1", Target: "t1", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.m.Change(b, sim.ChangeOptions{Type: sim.TypeMirror, CopyMode: CopyWriteBlocking}),
		"GenericError", "Job type does not support change")
	m, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), Speed: i64(1)}, Device: "s", Target: "t", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	// QEMU reads the mirror branch whatever the type: background, the
	// current mode, so nothing to do
	if err := e.m.Change(m, sim.ChangeOptions{Type: sim.TypeCommit}); err != nil {
		t.Errorf("type commit on a background mirror: %v, want success", err)
	}
	if err := e.m.Cancel(m, true); err != nil {
		t.Fatal(err)
	}
	e.settle()
	err = e.m.Change(m, sim.ChangeOptions{Type: sim.TypeMirror, CopyMode: CopyWriteBlocking})
	var ve *fsm.VerbError
	if !errors.As(err, &ve) || err.Error() != "Job 'm' in state 'null' cannot accept command verb 'change'" {
		t.Errorf("change on a finished job: %v, want the verb error", err)
	}
}
