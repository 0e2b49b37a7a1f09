package spec_test

// The block-layer rules (§13, §14 of spec/README.md), checked against the
// real drivers of sim/blockjob on blockdev's simulated nodes. Expected texts
// and outcomes are the specification's, typed by hand.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/sim/blockjob"
)

const (
	mib     = int64(1) << 20
	cluster = int64(64) << 10
)

type bench struct {
	t   *testing.T
	m   *sim.Manager
	g   *blockdev.Graph
	log []string
}

func newBench(t *testing.T) *bench {
	b := &bench{t: t, m: sim.New(sim.Options{}), g: blockdev.NewGraph()}
	b.m.Subscribe(func(e sim.Event) { b.log = append(b.log, e.String()) })
	return b
}

func ptr[T any](v T) *T { return &v }

// raw adds a raw node over an in-memory file.
func (b *bench) raw(name string, size int64) *blockdev.Node {
	n, err := b.g.AddNode(blockdev.NodeOptions{Driver: blockdev.DriverRaw, NodeName: name,
		File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverMemory, Size: ptr(size)}}})
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// qcow2 adds an overlay node over an in-memory file, with backing.
func (b *bench) qcow2(name string, size int64, backing string) *blockdev.Node {
	o := blockdev.NodeOptions{Driver: blockdev.DriverQcow2, NodeName: name,
		File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverMemory, Size: ptr(size)}}}
	if backing != "" {
		o.Backing = &blockdev.NodeRef{Ref: backing}
	}
	n, err := b.g.AddNode(o)
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

func (b *bench) write(node string, off, n int64, v byte) {
	b.t.Helper()
	if _, err := b.g.Write(node, off, bytes.Repeat([]byte{v}, int(n))); err != nil {
		b.t.Fatal(err)
	}
}

// digest hashes what a node's users read: through its front (a job's
// filter, or the node that replaced it).
func (b *bench) digest(name string) string {
	b.t.Helper()
	n := b.g.Node(name)
	h := sha256.New()
	buf := make([]byte, mib)
	for off := int64(0); off < n.Size(); off += mib {
		k := min(mib, n.Size()-off)
		if _, err := b.g.Read(name, off, buf[:k]); err != nil {
			b.t.Fatal(err)
		}
		h.Write(buf[:k])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func (b *bench) settle() { b.m.RunUntil(func() bool { return false }, b.m.Now()+3600e9) }

func (b *bench) until(j *sim.Job, s fsm.Status) {
	b.t.Helper()
	if !b.m.RunUntil(func() bool { return j.Status() == s }, b.m.Now()+3600e9) {
		b.t.Fatalf("%s never reached %s (now %s); events %v", j.ID(), s, j.Status(), b.log)
	}
}

func wantText(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// dirty lists the clusters (by index) set in a bitmap.
func dirty(bm *blockdev.DirtyBitmap, size int64) []int64 {
	var out []int64
	for off := int64(0); off < size; off += cluster {
		if bm.Get(off) {
			out = append(out, off/cluster)
		}
	}
	return out
}

// backupWithBitmap starts a bitmap backup of src (B0 = cluster 0 dirty)
// with auto-finalize off, so the job holds the bitmap in pending.
func backupWithBitmap(t *testing.T, mode string) (*bench, *sim.Job) {
	b := newBench(t)
	b.raw("src", 4*mib)
	b.raw("tgt", 4*mib)
	if err := b.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"}); err != nil {
		t.Fatal(err)
	}
	b.write("src", 0, 512, 1) // B0 = {0}
	j, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{
		Common: blockjob.Common{JobID: ptr("b0"), AutoFinalize: ptr(false)},
		Device: "src", Target: "tgt", Sync: blockjob.SyncBitmap, Bitmap: ptr("bm"), BitmapMode: ptr(mode)})
	if err != nil {
		t.Fatal(err)
	}
	b.until(j, fsm.Pending)
	return b, j
}

// Checks: R43
func TestBitmapBusyDuringBackup(t *testing.T) {
	b, j := backupWithBitmap(t, blockjob.BitmapOnSuccess)
	busy := "Bitmap 'bm' is currently in use by another operation and cannot be used"
	if err := b.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "other"}); err != nil {
		t.Fatal(err)
	}
	wantText(t, b.g.BitmapRemove("src", "bm"), busy)
	wantText(t, b.g.BitmapClear("src", "bm"), busy)
	wantText(t, b.g.BitmapEnable("src", "bm"), busy)
	wantText(t, b.g.BitmapDisable("src", "bm"), busy)
	wantText(t, b.g.BitmapMerge("src", "bm", []blockdev.BitmapRef{{Name: "other"}}), busy)
	wantText(t, b.g.BitmapMerge("src", "other", []blockdev.BitmapRef{{Name: "bm"}}), busy)
	wantText(t, b.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"}), "Bitmap already exists: bm")
	b.raw("tgt2", 4*mib)
	_, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptr("b1")},
		Device: "src", Target: "tgt2", Sync: blockjob.SyncBitmap, Bitmap: ptr("bm"), BitmapMode: ptr(blockjob.BitmapOnSuccess)})
	wantText(t, err, busy)
	bm, _ := b.g.LookupBitmap("src", "bm")
	if got := dirty(bm, 4*mib); !cmp.Equal(got, []int64{0}) || !bm.Busy() {
		t.Errorf("busy bitmap changed: dirty %v busy %v", got, bm.Busy())
	}
	if err := b.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	if err := b.g.BitmapRemove("src", "bm"); err != nil {
		t.Errorf("bitmap still busy after the job finalized: %v", err)
	}
}

// Checks: R44
func TestBitmapOutcome(t *testing.T) {
	for _, c := range []struct {
		mode   string
		cancel bool
		want   []int64 // B0 = {0}, W = {5}
	}{
		{blockjob.BitmapOnSuccess, false, []int64{5}},
		{blockjob.BitmapOnSuccess, true, []int64{0, 5}},
		{blockjob.BitmapNever, false, []int64{0, 5}},
		{blockjob.BitmapNever, true, []int64{0, 5}},
		{blockjob.BitmapAlways, false, []int64{5}},
	} {
		t.Run(fmt.Sprintf("%s/cancel=%v", c.mode, c.cancel), func(t *testing.T) {
			b, j := backupWithBitmap(t, c.mode)
			b.write("src", 5*cluster, 512, 2) // W = {5}, recorded by the successor
			var err error
			if c.cancel {
				err = b.m.Cancel(j, true)
			} else {
				err = b.m.Finalize(j)
			}
			if err != nil {
				t.Fatal(err)
			}
			b.settle()
			bm, err := b.g.LookupBitmap("src", "bm")
			if err != nil {
				t.Fatal(err)
			}
			if got := dirty(bm, 4*mib); !cmp.Equal(got, c.want) {
				t.Errorf("dirty clusters %v, want %v", got, c.want)
			}
			if bm.Busy() || bm.Disabled() {
				t.Errorf("bitmap busy=%v disabled=%v after the job", bm.Busy(), bm.Disabled())
			}
		})
	}
}

// Checks: R45
func TestBackupBitmapArguments(t *testing.T) {
	b := newBench(t)
	b.raw("src", 4*mib)
	b.raw("tgt", 4*mib)
	if err := b.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sync         string
		bitmap, mode *string
		want         string
	}{
		{blockjob.SyncBitmap, nil, nil, "must provide a valid bitmap name for 'bitmap' sync mode"},
		{blockjob.SyncIncremental, nil, nil, "must provide a valid bitmap name for 'incremental' sync mode"},
		{blockjob.SyncIncremental, ptr("bm"), ptr(blockjob.BitmapAlways), "Bitmap sync mode must be 'on-success' when using sync mode 'incremental'"},
		{blockjob.SyncBitmap, ptr("nope"), ptr(blockjob.BitmapAlways), "Bitmap 'nope' could not be found"},
		{blockjob.SyncBitmap, ptr("bm"), nil, "Bitmap sync mode must be given when providing a bitmap"},
		{blockjob.SyncNone, ptr("bm"), ptr(blockjob.BitmapAlways), "sync mode 'none' does not produce meaningful bitmap outputs"},
		{blockjob.SyncFull, ptr("bm"), ptr(blockjob.BitmapNever), "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'full'"},
		{blockjob.SyncFull, nil, ptr(blockjob.BitmapAlways), "Cannot specify bitmap sync mode without a bitmap"},
	} {
		_, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptr("b0")},
			Device: "src", Target: "tgt", Sync: c.sync, Bitmap: c.bitmap, BitmapMode: c.mode})
		wantText(t, err, c.want)
	}
	if len(b.m.Jobs()) != 0 || len(b.log) != 0 {
		t.Errorf("refused backups left jobs %v or events %v", b.m.Jobs(), b.log)
	}
}

// A backup slowed down by its speed limit; the guest overwrites the whole
// source while it runs. The target holds the source as it was at start.
//
// Checks: R46
func TestBackupIsPointInTime(t *testing.T) {
	b := newBench(t)
	b.raw("src", 4*mib)
	b.raw("tgt", 4*mib)
	b.write("src", 0, 4*mib, 0x5a)
	b.write("src", 3*mib, 4096, 0x11)
	before := b.digest("src")
	j, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptr("b0"), Speed: ptr(int64(mib))},
		Device: "src", Target: "tgt", Sync: blockjob.SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	b.m.Advance(1e9) // about a quarter copied
	if j.Status() != fsm.Running {
		t.Fatalf("backup not running after 1s at 1 MiB/s: %s", j.Status())
	}
	b.write("src", 0, 4*mib, 0xa5)
	b.settle()
	if !strings.Contains(strings.Join(b.log, ","), "BLOCK_JOB_COMPLETED b0,b0 concluded") {
		t.Fatalf("backup did not complete: %v", b.log)
	}
	if b.digest("tgt") != before {
		t.Error("target is not the source as it was when the backup started")
	}
	if b.digest("src") == before {
		t.Error("the guest writes did not reach the source")
	}
}

// A mirror with auto-finalize off: ready, complete, and still nothing has
// changed in the graph while it waits in pending; finalize pivots.
//
// Checks: R47, R48
func TestMirrorPivotOnlyAtFinalize(t *testing.T) {
	b := newBench(t)
	b.raw("src", 4*mib)
	b.raw("tgt", 4*mib)
	b.write("src", mib, 8192, 7)
	j, err := blockjob.Mirror(b.m, b.g, blockjob.MirrorArgs{Common: blockjob.Common{JobID: ptr("m0"), AutoFinalize: ptr(false)},
		Device: "src", Target: "tgt", Sync: blockjob.SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	b.until(j, fsm.Ready)
	b.write("src", 2*mib, 4096, 9) // mirrored while ready
	if err := b.m.Complete(j); err != nil {
		t.Fatal(err)
	}
	b.until(j, fsm.Pending)
	if b.g.Node("src").SkipFilters() != b.g.Node("src") || b.g.Node("src").Front() == b.g.Node("tgt") {
		t.Fatal("the mirror pivoted before job-finalize")
	}
	want := b.digest("src")
	if err := b.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	b.settle()
	if b.g.Node("src").Front() != b.g.Node("tgt") {
		t.Fatal("no pivot after finalize: the source's users do not read the target")
	}
	if b.digest("tgt") != want {
		t.Error("target differs from the source at the pivot")
	}
	got := strings.Join(b.log, ", ")
	if want := "m0 created, m0 running, m0 ready, BLOCK_JOB_READY m0, m0 waiting, m0 pending, BLOCK_JOB_PENDING m0, BLOCK_JOB_COMPLETED m0, m0 concluded, m0 null"; got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	// A size mismatch fails the running job, not its creation.
	b2 := newBench(t)
	b2.raw("a", 4*mib)
	b2.raw("c", 2*mib)
	if _, err := blockjob.Mirror(b2.m, b2.g, blockjob.MirrorArgs{Common: blockjob.Common{JobID: ptr("m1")}, Device: "a", Target: "c", Sync: blockjob.SyncFull}); err != nil {
		t.Fatalf("creation failed: %v", err)
	}
	b2.settle()
	if !strings.Contains(strings.Join(b2.log, ","), "BLOCK_JOB_COMPLETED m1 error=Source and target image have different sizes") {
		t.Errorf("size mismatch: %v", b2.log)
	}
}

// chain builds base <- mid <- top with data on every layer.
func chain(b *bench) string {
	b.raw("base", 4*mib)
	b.qcow2("mid", 4*mib, "base")
	b.qcow2("top", 4*mib, "mid")
	b.write("base", 0, 4*mib, 1)
	b.write("mid", mib, mib, 2)
	b.write("top", 3*mib, 65536, 3)
	return b.digest("top")
}

// Checks: R49, R47
func TestCommitAndStream(t *testing.T) {
	// Intermediate commit mid -> base: top now backed by base, same content.
	b := newBench(t)
	want := chain(b)
	j, err := blockjob.Commit(b.m, b.g, blockjob.CommitArgs{Common: blockjob.Common{JobID: ptr("c0"), AutoFinalize: ptr(false)},
		Device: "top", TopNode: ptr("mid"), BaseNode: ptr("base")})
	if err != nil {
		t.Fatal(err)
	}
	b.until(j, fsm.Pending)
	// The job's commit_top filter sits above mid while it runs (inserting
	// a filter at start is allowed); the chain below it is unchanged.
	if bk := b.g.Node("top").Backing(); bk == nil || bk.SkipFilters() != b.g.Node("mid") || b.g.Node("mid").Backing() != b.g.Node("base") {
		t.Fatal("commit changed the chain before finalize")
	}
	if err := b.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	b.settle()
	if b.g.Node("top").Backing() != b.g.Node("base") || b.digest("top") != want {
		t.Error("after commit: top is not backed by base, or reads differently")
	}
	if got := strings.Join(b.log, ", "); got != "c0 created, c0 running, c0 waiting, c0 pending, BLOCK_JOB_PENDING c0, BLOCK_JOB_COMPLETED c0, c0 concluded, c0 null" {
		t.Errorf("commit events: %s", got)
	}

	// Stream the whole chain into top: no backing left, same content.
	b = newBench(t)
	want = chain(b)
	if _, err := blockjob.Stream(b.m, b.g, blockjob.StreamArgs{Common: blockjob.Common{JobID: ptr("s0")}, Device: "top"}); err != nil {
		t.Fatal(err)
	}
	b.settle()
	if b.g.Node("top").Backing() != nil || b.digest("top") != want {
		t.Error("after a full stream: top still has a backing, or reads differently")
	}
	if got := strings.Join(b.log, ", "); got != "s0 created, s0 running, s0 waiting, s0 pending, BLOCK_JOB_COMPLETED s0, s0 concluded, s0 null" {
		t.Errorf("stream events: %s", got)
	}

	// A cancelled stream leaves the chain as it was.
	b = newBench(t)
	want = chain(b)
	j, err = blockjob.Stream(b.m, b.g, blockjob.StreamArgs{Common: blockjob.Common{JobID: ptr("s1"), Speed: ptr(cluster)}, Device: "top", BaseNode: ptr("base")})
	if err != nil {
		t.Fatal(err)
	}
	b.m.Advance(2e9)
	if j.Status() != fsm.Running {
		t.Fatalf("stream at 64 KiB/s not running after 2s: %s", j.Status())
	}
	if err := b.m.Cancel(j, true); err != nil {
		t.Fatal(err)
	}
	b.settle()
	if b.g.Node("top").Backing() != b.g.Node("mid") || b.digest("top") != want {
		t.Error("a cancelled stream changed the chain or the content")
	}

	// Active commit: a mirror with type commit; on completion base replaces top.
	b = newBench(t)
	want = chain(b)
	j, err = blockjob.Commit(b.m, b.g, blockjob.CommitArgs{Common: blockjob.Common{JobID: ptr("a0")}, Device: "top"})
	if err != nil {
		t.Fatal(err)
	}
	b.until(j, fsm.Ready)
	if j.Type() != sim.TypeCommit {
		t.Errorf("active commit type %s", j.Type())
	}
	if err := b.m.Complete(j); err != nil {
		t.Fatal(err)
	}
	b.settle()
	if b.g.Node("top").Front() != b.g.Node("base") || b.digest("base") != want {
		t.Error("after active commit: top's users do not read base, or base reads differently")
	}
}

// Checks: R50
func TestBusyNodes(t *testing.T) {
	b := newBench(t)
	b.raw("src", 4*mib)
	b.raw("tgt", 4*mib)
	b.raw("tgt2", 4*mib)
	b.raw("tgt3", 4*mib)
	_, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptr("b0"), AutoFinalize: ptr(false)},
		Device: "src", Target: "tgt", Sync: blockjob.SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	// The target is blocked; the source is not (a second backup of it is
	// accepted).
	wantText(t, b.g.DelNode("tgt"), "Node 'tgt' is busy: block device is in use by block job: backup")
	_, err = blockjob.Mirror(b.m, b.g, blockjob.MirrorArgs{Common: blockjob.Common{JobID: ptr("m0")}, Device: "tgt2", Target: "tgt", Sync: blockjob.SyncFull})
	wantText(t, err, "Node 'tgt' is busy: block device is in use by block job: backup")
	if _, err := blockjob.Backup(b.m, b.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptr("b1")},
		Device: "src", Target: "tgt3", Sync: blockjob.SyncFull}); err != nil {
		t.Errorf("second backup of the same source refused: %v", err)
	}
	b.settle()
}
