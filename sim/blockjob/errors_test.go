package blockjob

import (
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// TestBackupErrors: reference §6.3 and the texts recorded on QEMU 7.2, each
// case failing at its own check (the ones before it pass). A refused
// command leaves no job, no filter, and the bitmap as it was.
func TestBackupErrors(t *testing.T) {
	G := qerr.GenericError
	cases := []struct {
		name string
		a    BackupArgs
		want string
	}{
		{"missing sync", BackupArgs{Device: "src", Target: "tgt"}, "Parameter 'sync' is missing"},
		{"bad sync", BackupArgs{Device: "src", Target: "tgt", Sync: "fast"}, "Parameter 'sync' does not accept value 'fast'"},
		{"bad policy", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, OnSourceError: "bogus"}, "Parameter 'on-source-error' does not accept value 'bogus'"},
		{"unknown device", BackupArgs{Device: "x", Target: "tgt", Sync: SyncFull}, "Cannot find device='x' nor node-name='x'"},
		{"unknown target", BackupArgs{Device: "src", Target: "y", Sync: SyncFull}, "Cannot find device='y' nor node-name='y'"},
		{"bitmap sync without bitmap", BackupArgs{Device: "src", Target: "tgt", Sync: SyncBitmap}, "must provide a valid bitmap name for 'bitmap' sync mode"},
		{"incremental without bitmap", BackupArgs{Device: "src", Target: "tgt", Sync: SyncIncremental}, "must provide a valid bitmap name for 'incremental' sync mode"},
		{"incremental with never", BackupArgs{Device: "src", Target: "tgt", Sync: SyncIncremental, Bitmap: str("bm"), BitmapMode: str(BitmapNever)}, "Bitmap sync mode must be 'on-success' when using sync mode 'incremental'"},
		{"unknown bitmap", BackupArgs{Device: "src", Target: "tgt", Sync: SyncBitmap, Bitmap: str("nope"), BitmapMode: str(BitmapNever)}, "Bitmap 'nope' could not be found"},
		{"bitmap on target only", BackupArgs{Device: "src", Target: "tgt", Sync: SyncBitmap, Bitmap: str("tb"), BitmapMode: str(BitmapNever)}, "Bitmap 'tb' could not be found"},
		{"no bitmap mode", BackupArgs{Device: "src", Target: "tgt", Sync: SyncBitmap, Bitmap: str("bm")}, "Bitmap sync mode must be given when providing a bitmap"},
		{"sync none", BackupArgs{Device: "src", Target: "tgt", Sync: SyncNone, Bitmap: str("bm"), BitmapMode: str(BitmapAlways)}, "sync mode 'none' does not produce meaningful bitmap outputs"},
		{"never with full", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, Bitmap: str("bm"), BitmapMode: str(BitmapNever)}, "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'full'"},
		{"mode without bitmap", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, BitmapMode: str(BitmapAlways)}, "Cannot specify bitmap sync mode without a bitmap"},
		{"same node", BackupArgs{Device: "src", Target: "src", Sync: SyncFull}, "Source and target cannot be the same"},
		{"compress", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, Compress: yes()}, "Compression is not supported for this drive "},
		{"max-workers", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, XPerf: &BackupPerf{MaxWorkers: i64(0)}}, "max-workers must be between 1 and 2147483647"},
		{"max-chunk negative", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, XPerf: &BackupPerf{MaxChunk: i64(-1)}}, "max-chunk must be zero (which means no limit) or positive"},
		{"sizes", BackupArgs{Device: "src", Target: "small", Sync: SyncFull, Bitmap: str("bm"), BitmapMode: str(BitmapOnSuccess)}, "Source and target image have different sizes"},
		{"max-chunk small", BackupArgs{Device: "src", Target: "tgt", Sync: SyncFull, XPerf: &BackupPerf{MaxChunk: i64(4096)}}, "Required max-chunk (4096) is less than backup cluster size (65536)"},
		{"no job id", BackupArgs{Device: "src", Target: "tgt", Sync: SyncBitmap, Bitmap: str("bm"), BitmapMode: str(BitmapAlways)}, "Invalid job ID ''"},
		{"bad job id", BackupArgs{Common: Common{JobID: str("1m")}, Device: "src", Target: "tgt", Sync: SyncFull}, "Invalid job ID '1m'"},
		{"duplicate job id", BackupArgs{Common: Common{JobID: str("other")}, Device: "src", Target: "tgt", Sync: SyncBitmap, Bitmap: str("bm"), BitmapMode: str(BitmapOnSuccess)}, "Job ID 'other' already in use"},
		{"negative speed", BackupArgs{Common: Common{JobID: str("neg"), Speed: i64(-1)}, Device: "src", Target: "tgt", Sync: SyncFull}, "Parameter 'speed' expects a non-negative value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 4<<20)
			e.mem("tgt", 4<<20)
			e.mem("small", 2<<20)
			e.null("n0", 1<<20)
			e.null("n1", 1<<20)
			e.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"})
			e.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "tgt", Name: "tb"})
			e.fill("src", 0, 100, 1)
			other, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("other"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: SyncFull})
			if err != nil {
				t.Fatal(err)
			}
			e.log = nil
			nodes := len(e.g.NamedNodes())
			_, err = Backup(e.m, e.g, c.a)
			wantErr(t, err, G, c.want)
			if c.name == "negative speed" {
				e.expectLog("neg created", "neg null") // job_early_fail
			} else {
				e.expectLog()
			}
			if len(e.m.Jobs()) != 1 || e.m.Jobs()[0] != other || len(e.g.NamedNodes()) != nodes {
				t.Fatal("a refused backup left a job or a node behind")
			}
			infos := e.g.Node("src").BitmapInfos()
			if len(infos) != 1 || infos[0].Busy || !infos[0].Recording || infos[0].Count != 65536 {
				t.Fatalf("bitmap changed: %+v", infos)
			}
		})
	}
}

func yes() *bool { b := true; return &b }

// TestBusyBitmapSecondBackup (I11): a bitmap held by a backup refuses a
// second backup (any bitmap mode) and every bitmap command.
func TestBusyBitmapSecondBackup(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("t0", 4<<20)
	e.mem("t1", 4<<20)
	e.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"})
	if _, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("a"), Speed: i64(1)}, Device: "src", Target: "t0",
		Sync: SyncBitmap, Bitmap: str("bm"), BitmapMode: str(BitmapOnSuccess)}); err != nil {
		t.Fatal(err)
	}
	busy := "Bitmap 'bm' is currently in use by another operation and cannot be used"
	for _, mode := range []string{BitmapNever, BitmapOnSuccess, BitmapAlways} {
		_, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("b")}, Device: "src", Target: "t1",
			Sync: SyncBitmap, Bitmap: str("bm"), BitmapMode: str(mode)})
		wantErr(t, err, qerr.GenericError, busy)
	}
	// The source itself is not op-blocked: a second backup without the
	// bitmap is accepted (reference §9.1).
	if _, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("b"), Speed: i64(1)}, Device: "src", Target: "t1", Sync: SyncFull}); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorErrors: reference §7.2 and texts recorded on QEMU 7.2.
func TestMirrorErrors(t *testing.T) {
	G := qerr.GenericError
	cases := []struct {
		name string
		a    MirrorArgs
		want string
	}{
		{"missing sync", MirrorArgs{Device: "x", Target: "tgt"}, "Parameter 'sync' is missing"},
		{"bad copy mode", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, CopyMode: "x"}, "Parameter 'copy-mode' does not accept value 'x'"},
		{"unknown device", MirrorArgs{Device: "x", Target: "tgt", Sync: SyncFull}, "Cannot find device='x' nor node-name='x'"},
		{"not root", MirrorArgs{Device: "low", Target: "tgt", Sync: SyncFull}, "Need a root block node"},
		{"unknown target", MirrorArgs{Device: "src", Target: "y", Sync: SyncFull}, "Cannot find device='y' nor node-name='y'"},
		{"granularity range", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, Granularity: i64(256)}, "Parameter 'granularity' expects a value in range [512B, 64MB]"},
		{"granularity power", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, Granularity: i64(1000)}, "Parameter 'granularity' expects a power of 2"},
		{"busy target", MirrorArgs{Device: "src", Target: "n1", Sync: SyncFull}, "Node 'n1' is busy: block device is in use by block job: backup"},
		{"replaces missing", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, Replaces: str("zz")}, "Failed to find node with node-name='zz'"},
		{"sync bitmap", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncBitmap}, "Sync mode 'bitmap' not supported"},
		{"buf-size", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, BufSize: i64(-1)}, "Invalid parameter 'buf-size'"},
		{"itself", MirrorArgs{Device: "src", Target: "src", Sync: SyncFull}, "Can't mirror node into itself"},
		{"filter name taken", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull, FilterNodeName: "tgt"}, "Duplicate nodes with node-name='tgt'"},
		{"no job id", MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull}, "Invalid job ID ''"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 4<<20)
			e.mem("tgt", 4<<20)
			e.overlay("low", 4<<20, "")
			e.overlay("mid", 4<<20, "low")
			e.null("n0", 1<<20)
			e.null("n1", 1<<20)
			if _, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("other"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: SyncFull}); err != nil {
				t.Fatal(err)
			}
			e.log = nil
			nodes := len(e.g.NamedNodes())
			_, err := Mirror(e.m, e.g, c.a)
			wantErr(t, err, G, c.want)
			e.expectLog()
			if len(e.m.Jobs()) != 1 || len(e.g.NamedNodes()) != nodes || e.g.Node("src").Front() != e.g.Node("src") {
				t.Fatal("a refused mirror left something behind")
			}
		})
	}
}

// TestExportPermissionObserved: NBD exports on a running mirror's nodes,
// texts recorded on qemu-storage-daemon 7.2 (reference §9.4).
func TestExportPermissionObserved(t *testing.T) {
	e := newEnv(t)
	e.null("ms", 1<<30)
	e.null("mt", 1<<30)
	if _, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0"), Speed: i64(1)}, Device: "ms", Target: "mt", Sync: SyncFull}); err != nil {
		t.Fatal(err)
	}
	export := func(node string, writable bool) error {
		p := blockdev.PermConsistentRead
		if writable {
			p |= blockdev.PermWrite
		}
		_, err := e.g.AttachBackendPerm("an unnamed block device", e.g.Node(node), p, blockdev.PermAll)
		return err
	}
	wantErr(t, export("mt", true), qerr.GenericError, "Permission conflict on node 'mt': permissions 'consistent read, write' are both required by an unnamed block device (uses node 'mt' as 'root' child) and unshared by an unnamed block device (uses node 'mt' as 'root' child).")
	wantErr(t, export("mt", false), qerr.GenericError, "Permission conflict on node 'mt': permissions 'consistent read' are both required by an unnamed block device (uses node 'mt' as 'root' child) and unshared by an unnamed block device (uses node 'mt' as 'root' child).")
	if err := export("ms", true); err != nil {
		t.Fatal(err)
	}
	_, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("b0")}, Device: "mt", Target: "ms", Sync: SyncFull})
	wantErr(t, err, qerr.GenericError, "Node 'mt' is busy: block device is in use by block job: mirror")
}
