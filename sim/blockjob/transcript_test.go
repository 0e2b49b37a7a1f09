package blockjob

import (
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// The tests below follow QEMU transcripts in
// ../shared/reference/qemu-transcripts/scenarios; expected events, progress
// figures, graph shapes and digests are the recorded ones.

func (e *env) chain() {
	e.overlay("base", 4<<20, "")
	e.overlay("mid", 4<<20, "base")
	e.overlay("top", 4<<20, "mid")
	e.fill("base", 0, 262144, 170)
	e.fill("mid", 1048576, 65536, 85)
	e.fill("top", 3145728, 524288, 17)
}

const chainDigest = "a7d8c0c26a99dfe084dd469d8767e0ab6dcea586e1689085091115134ba796c1"

func TestMirrorReadyCompleteTranscript(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("tgt", 4<<20)
	e.transcriptImage("src")
	j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0"), AutoDismiss: no()}, Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("m0 created", "m0 running", "m0 ready", "READY m0 4194304/4194304")
	wantErr(t, e.g.DelNode("tgt"), qerr.GenericError, "Node tgt is in use")
	wantErr(t, e.g.DelNode("src"), qerr.GenericError, "Node 'src' is busy: block device is in use by block job: mirror")
	if _, err := Mirror(e.m, e.g, MirrorArgs{Device: "src", Target: "tgt", Sync: SyncFull}); err == nil {
		t.Fatal("second mirror accepted")
	} else {
		wantErr(t, err, qerr.GenericError, "Need a root block node")
	}
	// A guest write while READY is mirrored too.
	e.fill("src", 4096, 10, 7)
	if err := e.m.Complete(j); err != nil {
		t.Fatal(err)
	}
	e.settle()
	// The write while READY dirtied one more 64 KiB granule: QEMU grows
	// len and offset by what it copies after READY.
	e.expectLog("m0 waiting", "m0 pending", "COMPLETED m0 4259840/4259840", "m0 concluded")
	if e.digest("tgt") != e.digest("src") {
		t.Fatal("target differs from source at pivot")
	}
	// The pivot moved guest I/O to the target.
	if e.g.Node("src").Front() != e.g.Node("tgt") {
		t.Fatal("no pivot")
	}
	e.m.Dismiss(j)
	e.expectLog("m0 null")
	if err := e.g.DelNode("src"); err != nil {
		t.Fatal(err)
	}
}

func TestMirrorCancelBeforeReadyTranscript(t *testing.T) {
	e := newEnv(t)
	e.null("n0", 1<<30)
	e.null("n1", 1<<30)
	j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.m.Advance(10e9)
	e.expectLog("m0 created", "m0 running")
	if err := e.m.Apply(sim.VerbCommand{Verb: fsm.VerbCancel, Block: true, ID: "m0"}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("m0 aborting", "CANCELLED m0", "m0 concluded", "m0 null")
	if _, tot := j.Progress(); tot != 1<<30 {
		t.Fatalf("len %d", tot)
	}
	if e.g.Node("n0").Front() != e.g.Node("n0") || len(e.g.NamedNodes()) != 2 {
		t.Fatal("graph not restored")
	}
}

func TestMirrorSoftCancelReady(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("tgt", 4<<20)
	e.transcriptImage("src")
	_, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0")}, Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.log = nil
	snap := e.digest("src")
	if err := e.m.Apply(sim.VerbCommand{Verb: fsm.VerbCancel, Block: true, ID: "m0"}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("m0 waiting", "m0 pending", "COMPLETED m0 4194304/4194304", "m0 concluded", "m0 null")
	if e.g.Node("src").Front() != e.g.Node("src") || e.digest("tgt") != snap {
		t.Fatal("soft cancel pivoted or lost data")
	}
}

func TestMirrorSizeMismatch(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("tgt", 2<<20)
	if _, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0")}, Device: "src", Target: "tgt", Sync: SyncFull}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("m0 created", "m0 running", "m0 aborting", "COMPLETED m0 0/0 Source and target image have different sizes", "m0 concluded", "m0 null")
}

func TestCommitActiveTranscript(t *testing.T) {
	e := newEnv(t)
	e.chain()
	if d := e.digest("top"); d != chainDigest {
		t.Fatalf("top digest %s", d)
	}
	j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("c0 created", "c0 running", "c0 ready", "READY c0 589824/589824")
	e.m.Complete(j)
	e.settle()
	e.expectLog("c0 waiting", "c0 pending", "COMPLETED c0 589824/589824", "c0 concluded", "c0 null")
	if e.digest("base") != chainDigest {
		t.Fatal("base does not read what top read")
	}
	if e.g.Node("top").Backing() != e.g.Node("mid") || e.g.Node("mid").Backing() != e.g.Node("base") {
		t.Fatal("old links changed")
	}
	for _, n := range []string{"top", "mid", "base"} {
		if err := e.g.DelNode(n); err != nil {
			t.Fatalf("del %s: %v", n, err)
		}
	}
}

func TestCommitIntermediateTranscript(t *testing.T) {
	e := newEnv(t)
	e.chain()
	j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0"), AutoDismiss: no()}, Device: "top", TopNode: str("mid"), BaseNode: str("base")})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("c0 created", "c0 running", "c0 waiting", "c0 pending", "COMPLETED c0 4194304/4194304", "c0 concluded")
	e.m.Dismiss(j)
	if e.g.Node("top").Backing() != e.g.Node("base") || e.g.Node("mid").Backing() != e.g.Node("base") {
		t.Fatal("chain not top->base")
	}
	if e.digest("top") != chainDigest {
		t.Fatal("top reads differently")
	}
	for _, n := range []string{"top", "mid", "base"} {
		if err := e.g.DelNode(n); err != nil {
			t.Fatalf("del %s: %v", n, err)
		}
	}
}

func TestStreamToBaseTranscript(t *testing.T) {
	e := newEnv(t)
	e.chain()
	if _, err := Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "top", BaseNode: str("base")}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("s0 created", "s0 running", "s0 waiting", "s0 pending", "COMPLETED s0 4194304/4194304", "s0 concluded", "s0 null")
	if e.g.Node("top").Backing() != e.g.Node("base") || e.g.Node("mid").Backing() != e.g.Node("base") {
		t.Fatal("chain not top->base")
	}
	if e.digest("top") != chainDigest {
		t.Fatal("top reads differently")
	}
}

func TestStreamWholeChain(t *testing.T) {
	e := newEnv(t)
	e.chain()
	if _, err := Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "top"}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if e.g.Node("top").Backing() != nil || e.digest("top") != chainDigest {
		t.Fatal("full stream")
	}
}

// TestCommitStreamErrorsTranscript: commit_stream_errors plus the other
// texts of reference §8; nothing is created.
func TestCommitStreamErrorsTranscript(t *testing.T) {
	e := newEnv(t)
	e.chain()
	G := qerr.GenericError
	_, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top", TopNode: str("base"), BaseNode: str("base")})
	wantErr(t, err, G, "cannot commit an image into itself")
	_, err = Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top", TopNode: str("base"), BaseNode: str("mid")})
	wantErr(t, err, G, "'mid' is not in this backing file chain")
	_, err = Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "mid", TopNode: str("top")})
	wantErr(t, err, G, "Need a root block node")
	_, err = Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "top", BaseNode: str("top")})
	wantErr(t, err, G, "Node 'top' is not a backing image of 'top'")
	_, err = Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "nowhere"})
	wantErr(t, err, G, "Cannot find device='nowhere' nor node-name='nowhere'")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "nowhere"})
	wantErr(t, err, qerr.DeviceNotFound, "Device 'nowhere' not found")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", Top: str("x"), TopNode: str("mid")})
	wantErr(t, err, G, "'top-node' and 'top' are mutually exclusive")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", TopNode: str("zz")})
	wantErr(t, err, G, "Cannot find device='' nor node-name='zz'")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", Top: str("nofile")})
	wantErr(t, err, G, "Top image file nofile not found")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", Base: str("a"), BaseNode: str("base")})
	wantErr(t, err, G, "'base-node' and 'base' are mutually exclusive")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", Base: str("nofile")})
	wantErr(t, err, G, "Can't find 'nofile' in the backing chain")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top", BackingFile: str("x")})
	wantErr(t, err, G, "'backing-file' specified, but 'top' is the active layer")
	_, err = Commit(e.m, e.g, CommitArgs{Device: "top"})
	wantErr(t, err, G, "Invalid job ID ''")
	_, err = Stream(e.m, e.g, StreamArgs{Device: "top", Base: str("a"), BaseNode: str("b")})
	wantErr(t, err, G, "'base' and 'base-node' cannot be specified at the same time")
	_, err = Stream(e.m, e.g, StreamArgs{Device: "top", BackingFile: str("x")})
	wantErr(t, err, G, "backing file specified, but streaming the entire chain")
	// A running stream blocks a second one.
	_, err = Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0"), Speed: i64(1)}, Device: "top", BaseNode: str("base")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s1")}, Device: "top", BaseNode: str("base")})
	wantErr(t, err, G, "Node 'top' is busy: block device is in use by block job: stream")
	if len(e.m.Jobs()) != 1 {
		t.Fatal("a refused command created a job")
	}
}
