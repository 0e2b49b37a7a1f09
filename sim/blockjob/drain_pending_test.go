package blockjob

import (
	"bytes"
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// The tests below pin mirror_run's drained exit (block/mirror.c need_drain,
// reference §7.3 and §8.1): from the end of the run until mirror_exit_common
// the source is drained, so a guest write issued while a completed mirror or
// active commit waits in pending is held and then lands on the node that is
// active after prepare/abort. The model found the loss
// (model/harness/testdata/regress/mirror_write_while_pending_lost.json).

// pendingWrite is the guest write the tests issue while the job is pending.
var pendingWrite = bytes.Repeat([]byte{0xA5}, 3000)

const pendingOff = 70_000 // across a 64 KiB granule boundary

// toPending starts a READY job with auto-finalize=false, ends it with
// complete (or a soft cancel) and settles it into pending.
func toPending(t *testing.T, e *env, j *sim.Job, soft bool) {
	t.Helper()
	e.settle()
	if !j.Status().IsReady() {
		t.Fatalf("job is %s, want ready", j.Status())
	}
	var err error
	if soft {
		err = e.m.Cancel(j, false)
	} else {
		err = e.m.Complete(j)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	if j.Status() != fsm.Pending {
		t.Fatalf("job is %s, want pending", j.Status())
	}
}

// guestWriteHeld issues pendingWrite to device and checks it is held: it
// reaches neither the source nor the target yet.
func guestWriteHeld(t *testing.T, e *env, device, source, target string) (srcBefore, tgtBefore []byte) {
	t.Helper()
	srcBefore, tgtBefore = readAll(t, e.g.Node(source)), readAll(t, e.g.Node(target))
	if _, err := e.g.Write(device, pendingOff, pendingWrite); err != nil {
		t.Fatal(err)
	}
	if n := e.g.HeldWrites(e.g.Node(source)); n != 1 {
		t.Fatalf("held writes on %s: %d, want 1", source, n)
	}
	if !bytes.Equal(readAll(t, e.g.Node(source)), srcBefore) {
		t.Fatalf("the write reached %s while the job is pending", source)
	}
	if !bytes.Equal(readAll(t, e.g.Node(target)), tgtBefore) {
		t.Fatalf("the write reached %s while the job is pending", target)
	}
	return srcBefore, tgtBefore
}

func withWrite(b []byte) []byte {
	out := bytes.Clone(b)
	copy(out[pendingOff:], pendingWrite)
	return out
}

// TestMirrorWriteWhilePendingLandsOnTarget (I12): finalize pivots and the
// held write lands on the target, which is then the source at the pivot
// plus the write; the guest reads it back through the device's name.
func TestMirrorWriteWhilePendingLandsOnTarget(t *testing.T) {
	for _, mode := range []string{CopyBackground, CopyWriteBlocking} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 1<<20)
			e.mem("tgt", 1<<20)
			e.fill("src", 0, 200_000, 3)
			j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), AutoFinalize: no()},
				Device: "src", Target: "tgt", Sync: SyncFull, CopyMode: mode})
			if err != nil {
				t.Fatal(err)
			}
			toPending(t, e, j, false)
			src, tgt := guestWriteHeld(t, e, "src", "src", "tgt")
			if !bytes.Equal(src, tgt) {
				t.Fatal("target differs from source before the pivot")
			}
			e.log = nil
			if err := e.m.Finalize(j); err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.expectLog("COMPLETED m 1048576/1048576", "m concluded", "m null")
			if got := readAll(t, e.g.Node("tgt")); !bytes.Equal(got, withWrite(src)) {
				t.Fatal("target is not the source at the pivot plus the held write")
			}
			if !bytes.Equal(readAll(t, e.g.Node("src")), src) {
				t.Fatal("the held write went to the old source after the pivot")
			}
			guest := make([]byte, 1<<20)
			if _, err := e.g.Read("src", 0, guest); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(guest, withWrite(src)) {
				t.Fatal("the guest does not read its write back on the active node")
			}
			if n := e.g.HeldWrites(e.g.Node("src")); n != 0 {
				t.Fatalf("%d writes still held after finalize", n)
			}
		})
	}
}

// TestMirrorWriteWhilePendingNoPivot: without a pivot (soft cancel of a
// READY mirror, or job-cancel in pending) the held write lands on the
// source and the target keeps its point-in-time copy.
func TestMirrorWriteWhilePendingNoPivot(t *testing.T) {
	for _, c := range []struct {
		name      string
		soft      bool
		finalize  bool // job-finalize (soft cancel) or job-cancel (abort)
		wantEvent []string
	}{
		{"soft-cancel-finalize", true, true, []string{"COMPLETED m 1048576/1048576", "m concluded", "m null"}},
		{"complete-then-cancel", false, false, []string{"m aborting", "CANCELLED m", "m concluded", "m null"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 1<<20)
			e.mem("tgt", 1<<20)
			e.fill("src", 0, 200_000, 4)
			j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), AutoFinalize: no()},
				Device: "src", Target: "tgt", Sync: SyncFull})
			if err != nil {
				t.Fatal(err)
			}
			toPending(t, e, j, c.soft)
			src, tgt := guestWriteHeld(t, e, "src", "src", "tgt")
			e.log = nil
			if c.finalize {
				err = e.m.Finalize(j)
			} else {
				err = e.m.Cancel(j, true)
			}
			if err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.expectLog(c.wantEvent...)
			if !bytes.Equal(readAll(t, e.g.Node("src")), withWrite(src)) {
				t.Fatal("the held write did not land on the source")
			}
			if !bytes.Equal(readAll(t, e.g.Node("tgt")), tgt) {
				t.Fatal("the held write reached the target without a pivot")
			}
			if e.g.Node("src").Front() != e.g.Node("src") {
				t.Fatal("source is not active again")
			}
		})
	}
}

// TestActiveCommitWriteWhilePending: active commit is mirror code; the held
// write to the active layer lands on the base after the pivot.
func TestActiveCommitWriteWhilePending(t *testing.T) {
	e := newEnv(t)
	e.overlay("base", 1<<20, "")
	e.overlay("top", 1<<20, "base")
	e.fill("base", 0, 100_000, 5)
	e.fill("top", 60_000, 100_000, 6)
	j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c"), AutoFinalize: no()}, Device: "top"})
	if err != nil {
		t.Fatal(err)
	}
	toPending(t, e, j, false)
	guest := make([]byte, 1<<20)
	if _, err := e.g.Read("top", 0, guest); err != nil {
		t.Fatal(err)
	}
	guestWriteHeld(t, e, "top", "top", "base")
	if err := e.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if ret, msg, _ := j.Result(); ret != 0 {
		t.Fatalf("commit failed: %s", msg)
	}
	if got := readAll(t, e.g.Node("base")); !bytes.Equal(got, withWrite(guest)) {
		t.Fatal("base is not what the guest read plus the held write")
	}
	if e.g.Node("top").Front() != e.g.Node("base") {
		t.Fatal("no pivot to the base")
	}
}

// TestGuestWriterWhilePending: the data oracle's GuestWriter keeps its
// shadow in step with a held write: the shadow gets it when it lands.
func TestGuestWriterWhilePending(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 1<<20)
	e.mem("tgt", 1<<20)
	w, err := blockdev.NewGuestWriter(e.g, "src", 1, 4096)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m"), AutoFinalize: no()},
		Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	toPending(t, e, j, false)
	before := bytes.Clone(w.Shadow())
	for i := 0; i < 5; i++ {
		if _, _, err := w.Write(); err != nil {
			t.Fatal(err)
		}
	}
	if w.Writes != 0 || !bytes.Equal(w.Shadow(), before) {
		t.Fatal("shadow changed before the held writes landed")
	}
	if err := e.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if w.Writes != 5 {
		t.Fatalf("writes landed: %d, want 5", w.Writes)
	}
	if bytes.Equal(w.Shadow(), before) || !bytes.Equal(readAll(t, e.g.Node("tgt")), w.Shadow()) {
		t.Fatal("target differs from the guest's shadow after the pivot")
	}
}
