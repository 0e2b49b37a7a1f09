package blockjob

import (
	"bytes"
	"testing"
)

// TestGraphChangesOnlyAtFinalize (I9): with auto-finalize off, a completed
// mirror, a commit and a stream sit in pending with the graph unchanged;
// job-finalize makes the change.
func TestGraphChangesOnlyAtFinalize(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 1<<20)
	e.mem("tgt", 1<<20)
	mj, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), AutoFinalize: no()}, Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.m.Complete(mj)
	e.settle()
	if mj.Status().String() != "pending" || e.g.Node("src").Front().Driver() != "mirror_top" {
		t.Fatalf("before finalize: %s, front %s", mj.Status(), e.g.Node("src").Front().Name())
	}
	e.m.Finalize(mj)
	if e.g.Node("src").Front() != e.g.Node("tgt") {
		t.Fatal("no pivot at finalize")
	}

	e.chain()
	sj, err := Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s"), AutoFinalize: no()}, Device: "top", BaseNode: str("base")})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	if sj.Status().String() != "pending" || e.g.Node("top").Backing() != e.g.Node("mid") {
		t.Fatal("stream changed the chain before finalize")
	}
	e.m.Finalize(sj)
	if e.g.Node("top").Backing() != e.g.Node("base") {
		t.Fatal("stream did not change the chain at finalize")
	}
}

// TestBackupSyncTop: only clusters allocated in the top layer are copied,
// and the progress total shrinks to them (block_copy_reset_unallocated).
func TestBackupSyncTop(t *testing.T) {
	e := newEnv(t)
	e.overlay("low", 1<<20, "")
	e.overlay("top", 1<<20, "low")
	e.fill("low", 0, 1<<20, 3)
	e.fill("top", 65536, 100, 9)
	e.fill("top", 5*65536, 65536, 8)
	e.mem("tgt", 1<<20)
	j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("b")}, Device: "top", Target: "tgt", Sync: SyncTop})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("b created", "b running", "b paused", "b running", "b waiting", "b pending", "COMPLETED b 131072/131072", "b concluded", "b null")
	got := readAll(t, e.g.Node("tgt"))
	want := make([]byte, 1<<20)
	e.g.Node("top").Read(65536, want[65536:2*65536])
	e.g.Node("top").Read(5*65536, want[5*65536:6*65536])
	if !bytes.Equal(got, want) {
		t.Fatal("sync=top copied the wrong clusters")
	}
	_ = j
}

// TestTxnRollback: a transaction whose later action fails aborts the
// prepared backups before they start (reference §4.5): created, aborting,
// concluded, null, no BLOCK_JOB_* events; the bitmap is reclaimed, the
// filters are gone and the drains are balanced (a new backup runs).
func TestTxnRollback(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 1<<20)
	e.mem("t0", 1<<20)
	e.mem("t1", 1<<20)
	e.g.BitmapAdd(blockdevBitmap("src", "bm"))
	e.fill("src", 0, 10, 1)
	p0, err := PrepareBackup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0")}, Device: "src", Target: "t0", Sync: SyncBitmap,
		Bitmap: str("bm"), BitmapMode: str(BitmapOnSuccess)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := PrepareBackup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j1")}, Device: "src", Target: "t1", Sync: SyncFull}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the failing third action: abort in reverse order, then clean
	p1.Abort()
	p0.Abort()
	p0.Clean()
	p1.Clean()
	e.settle()
	e.expectLog("j0 created", "j1 created", "j1 aborting", "j1 concluded", "j1 null", "j0 aborting", "j0 concluded", "j0 null")
	bm, _ := e.g.LookupBitmap("src", "bm")
	if bm.Busy() || bm.Count() != 65536 || len(e.g.Node("src").Bitmaps()) != 1 {
		t.Fatal("bitmap not reclaimed")
	}
	if len(e.g.NamedNodes()) != 6 || e.g.Node("src").Front() != e.g.Node("src") {
		t.Fatal("filters left behind")
	}
	if _, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j2")}, Device: "src", Target: "t0", Sync: SyncFull}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("j2 created", "j2 running", "j2 paused", "j2 running", "j2 waiting", "j2 pending", "COMPLETED j2 1048576/1048576", "j2 concluded", "j2 null")
}

// TestActiveCommitGrowsBase: a base smaller than the top is resized up
// (mirror_run for active commit) and ends up reading what top read.
func TestActiveCommitGrowsBase(t *testing.T) {
	e := newEnv(t)
	e.overlay("base", 2<<20, "")
	e.overlay("top", 4<<20, "base")
	e.fill("base", 0, 2<<20, 5)
	e.fill("top", 3<<20, 65536, 6)
	want := readAll(t, e.g.Node("top"))
	j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c")}, Device: "top"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.m.Complete(j)
	e.settle()
	if e.g.Node("base").Size() != 4<<20 || !bytes.Equal(readAll(t, e.g.Node("base")), want) {
		t.Fatal("base not grown to the top's content")
	}
}
