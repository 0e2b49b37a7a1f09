package blockjob

import (
	"encoding/json"
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// TestBackupWithBitmapObserved replays a session recorded on
// qemu-storage-daemon 7.2.22 while writing this package (null-co 1 GiB
// n0/n1, bitmaps bm and zz on n0, backup with bm on-success at speed 1):
// the node and bitmap listings, the busy texts of later commands, the
// drain blips a refused blockdev-backup causes, and the result after
// job-cancel are QEMU's.
func TestBackupWithBitmapObserved(t *testing.T) {
	e := newEnv(t)
	e.null("n0", 1<<30)
	e.null("n1", 1<<30)
	for _, name := range []string{"bm", "zz"} {
		if err := e.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "n0", Name: name, Granularity: i64(65536)}); err != nil {
			t.Fatal(err)
		}
	}
	j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0"), Speed: i64(1)}, Device: "n0", Target: "n1",
		Sync: SyncFull, Bitmap: str("bm"), BitmapMode: str(BitmapOnSuccess)})
	if err != nil {
		t.Fatal(err)
	}
	e.m.Advance(1e9)
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running")
	nodes := e.g.NamedNodes()
	if len(nodes) != 3 || nodes[0].Drv != "copy-before-write" || nodes[1].NodeName != "n1" || nodes[2].NodeName != "n0" {
		t.Fatalf("nodes %+v", nodes)
	}
	G := int64(1 << 30)
	want := map[int]string{
		0: `[{"count":1073741824,"granularity":65536,"recording":false,"busy":false,"persistent":false},{"count":0,"granularity":65536,"recording":false,"busy":false,"persistent":false}]`,
		1: `null`,
		2: `[{"count":1072693248,"granularity":65536,"recording":false,"busy":false,"persistent":false},{"count":0,"granularity":65536,"recording":true,"busy":false,"persistent":false},{"name":"zz","count":0,"granularity":65536,"recording":true,"busy":false,"persistent":false},{"name":"bm","count":0,"granularity":65536,"recording":true,"busy":true,"persistent":false}]`,
	}
	for i, w := range want {
		b, _ := json.Marshal(nodes[i].DirtyBitmaps)
		if string(b) != w {
			t.Fatalf("node %d bitmaps\n got %s\nwant %s", i, b, w)
		}
	}
	if cur, tot := j.Progress(); cur != 1<<20 || tot != G {
		t.Fatalf("progress %d/%d", cur, tot)
	}
	GE := qerr.GenericError
	wantErr(t, e.g.DelNode("n0"), GE, "Block device n0 is in use")
	wantErr(t, e.g.DelNode("n1"), GE, "Node 'n1' is busy: block device is in use by block job: backup")
	// A refused blockdev-backup is a transaction: drain-all, then the
	// prepare's drain of its source; each blips the running job.
	e.g.DrainAll()
	_, err = Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j1")}, Device: "n0", Target: "n1", Sync: SyncFull})
	wantErr(t, err, GE, "Node 'n1' is busy: block device is in use by block job: backup")
	e.expectLog("j0 paused", "j0 running", "j0 paused", "j0 running")
	e.g.DrainAll()
	_, err = Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j1")}, Device: "n1", Target: "n0", Sync: SyncFull})
	wantErr(t, err, GE, "Node 'n1' is busy: block device is in use by block job: backup")
	e.expectLog("j0 paused", "j0 running", "j0 paused", "j0 running")
	_, err = Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("j1")}, Device: "n0", Target: "n1", Sync: SyncFull})
	wantErr(t, err, GE, "Need a root block node")
	e.expectLog()
	e.m.Cancel(j, true)
	e.settle()
	e.expectLog("j0 aborting", "CANCELLED j0", "j0 concluded", "j0 null")
	nodes = e.g.NamedNodes()
	b, _ := json.Marshal(nodes[1].DirtyBitmaps)
	if len(nodes) != 2 || string(b) != `[{"name":"zz","count":0,"granularity":65536,"recording":true,"busy":false,"persistent":false},{"name":"bm","count":0,"granularity":65536,"recording":true,"busy":false,"persistent":false}]` {
		t.Fatalf("after cancel: %d nodes, n0 bitmaps %s", len(nodes), b)
	}
	if err := e.g.DelNode("n1"); err != nil {
		t.Fatal(err)
	}
}

// TestAddNodeDrainsObserved: recorded on qemu-storage-daemon 7.2 — a
// blockdev-add whose child is a node a running backup uses (its target, or
// its source below the filter) blips the job twice; an unrelated node and
// blockdev-del do not; a node with a parent is no longer a root.
func TestAddNodeDrainsObserved(t *testing.T) {
	e := newEnv(t)
	e.null("n0", 1<<30)
	e.null("n1", 1<<30)
	e.null("n2", 1<<30)
	if _, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: SyncFull}); err != nil {
		t.Fatal(err)
	}
	e.m.Advance(1e9)
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running")
	add := func(name, file string) {
		t.Helper()
		if _, err := e.g.AddNode(blockdev.NodeOptions{Driver: blockdev.DriverRaw, NodeName: name, File: &blockdev.NodeRef{Ref: file}}); err != nil {
			t.Fatal(err)
		}
	}
	add("r1", "n1")
	e.expectLog("j0 paused", "j0 running", "j0 paused", "j0 running")
	add("r0", "n0")
	e.expectLog("j0 paused", "j0 running", "j0 paused", "j0 running")
	add("r2", "n2")
	e.expectLog()
	if err := e.g.DelNode("r1"); err != nil {
		t.Fatal(err)
	}
	e.expectLog()
	_, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0")}, Device: "n2", Target: "r0", Sync: SyncNone})
	wantErr(t, err, qerr.GenericError, "Need a root block node")
}
