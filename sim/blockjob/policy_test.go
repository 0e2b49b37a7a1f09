package blockjob

import (
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/sim"
)

func (e *env) blkdebug(name, image string, errno int64, write bool) {
	ev := "pwritev"
	if !write {
		ev = "preadv"
	}
	if _, err := e.g.AddNode(blockdev.NodeOptions{Driver: blockdev.DriverBlkdebug, NodeName: name, Image: &blockdev.NodeRef{Ref: image},
		InjectError: []blockdev.InjectErrorOptions{{Event: ev, Errno: i64(errno), Once: true}}}); err != nil {
		e.t.Fatal(err)
	}
}

// TestMirrorPolicies is reference §5.3 (observed on QEMU 7.2 with a
// blkdebug target, once=true).
func TestMirrorPolicies(t *testing.T) {
	cases := []struct {
		policy   string
		errno    int64
		events   []string
		iostatus sim.IOStatus
	}{
		{"stop", 5, []string{"ERROR m0 write stop", "m0 paused"}, sim.IOStatusFailed},
		{"enospc", 28, []string{"ERROR m0 write stop", "m0 paused"}, sim.IOStatusNoSpace},
		{"enospc", 5, []string{"ERROR m0 write report", "m0 aborting", "COMPLETED m0 0/4194304 Input/output error", "m0 concluded", "m0 null"}, ""},
		{"ignore", 5, []string{"ERROR m0 write ignore", "m0 ready", "READY m0 4194304/4194304"}, sim.IOStatusOK},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 4<<20)
			e.mem("tgt", 4<<20)
			e.blkdebug("bad", "tgt", c.errno, true)
			j, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0")}, Device: "src", Target: "bad", Sync: SyncFull, OnTargetError: c.policy})
			if err != nil {
				t.Fatal(err)
			}
			e.settle()
			e.expectLog(append([]string{"m0 created", "m0 running"}, c.events...)...)
			if c.iostatus != "" && j.IOStatus() != c.iostatus {
				t.Fatalf("io-status %s", j.IOStatus())
			}
			if c.policy == "stop" || c.errno == 28 {
				// Resume retries the region: the mirror gets ready and the
				// target ends up with the source's bytes.
				if err := e.m.Resume(j); err != nil {
					t.Fatal(err)
				}
				e.settle()
				e.expectLog("m0 running", "m0 ready", "READY m0 4194304/4194304")
				if j.IOStatus() != sim.IOStatusOK {
					t.Fatal("io-status not reset by resume")
				}
				e.m.Complete(j)
				e.settle()
				if e.digest("tgt") != e.digest("src") {
					t.Fatal("retry lost data")
				}
			}
		})
	}
}

// TestBackupStopResume: backup on-target-error=stop, then job-resume
// completes it (reference §5.3 last row).
func TestBackupStopResume(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("tgt", 4<<20)
	e.transcriptImage("src")
	e.blkdebug("bad", "tgt", 5, true)
	j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0")}, Device: "src", Target: "bad", Sync: SyncFull, OnTargetError: "stop"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running", "ERROR j0 write stop", "j0 paused")
	e.m.Resume(j)
	e.settle()
	e.expectLog("j0 running", "j0 waiting", "j0 pending", "COMPLETED j0 4194304/4194304", "j0 concluded", "j0 null")
	if e.digest("tgt") != transcriptDigest {
		t.Fatal("target")
	}
}

// TestCommitPolicies: commit's stop pauses and retries, ignore retries the
// same offset, report fails; the chain changes only on success.
func TestCommitPolicies(t *testing.T) {
	for _, policy := range []string{"report", "ignore", "stop"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t)
			e.chain()
			e.g.InjectError("base", blockdev.InjectRule{Write: true, Once: true, Errno: errno.ENOSPC})
			j, err := Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("c0")}, Device: "top", TopNode: str("mid"), OnError: policy})
			if err != nil {
				t.Fatal(err)
			}
			e.settle()
			switch policy {
			case "report":
				e.expectLog("c0 created", "c0 running", "ERROR c0 write report", "c0 aborting", "COMPLETED c0 1048576/4194304 No space left on device", "c0 concluded", "c0 null")
				if e.g.Node("top").Backing() != e.g.Node("mid") {
					t.Fatal("failed commit changed the chain")
				}
				return
			case "stop":
				e.expectLog("c0 created", "c0 running", "ERROR c0 write stop", "c0 paused")
				e.m.Resume(j)
				e.settle()
				e.expectLog("c0 running", "c0 waiting", "c0 pending", "COMPLETED c0 4194304/4194304", "c0 concluded", "c0 null")
			case "ignore":
				e.expectLog("c0 created", "c0 running", "ERROR c0 write ignore", "c0 waiting", "c0 pending", "COMPLETED c0 4194304/4194304", "c0 concluded", "c0 null")
			}
			if e.g.Node("top").Backing() != e.g.Node("base") || e.digest("top") != chainDigest {
				t.Fatal("commit result")
			}
		})
	}
}

// TestStreamPolicies: stream reports every error as a read; with ignore it
// goes on but ends with the first error and leaves the chain as it was.
func TestStreamPolicies(t *testing.T) {
	for _, policy := range []string{"report", "ignore", "stop"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t)
			e.chain()
			e.g.InjectError("top", blockdev.InjectRule{Write: true, Once: true, Errno: errno.EIO})
			j, err := Stream(e.m, e.g, StreamArgs{Common: Common{JobID: str("s0")}, Device: "top", BaseNode: str("base"), OnError: policy})
			if err != nil {
				t.Fatal(err)
			}
			e.settle()
			switch policy {
			case "report":
				e.expectLog("s0 created", "s0 running", "ERROR s0 read report", "s0 aborting", "COMPLETED s0 1048576/4194304 Input/output error", "s0 concluded", "s0 null")
			case "ignore":
				e.expectLog("s0 created", "s0 running", "ERROR s0 read ignore", "s0 aborting", "COMPLETED s0 4194304/4194304 Input/output error", "s0 concluded", "s0 null")
			case "stop":
				e.expectLog("s0 created", "s0 running", "ERROR s0 read stop", "s0 paused")
				e.m.Resume(j)
				e.settle()
				e.expectLog("s0 running", "s0 waiting", "s0 pending", "COMPLETED s0 4194304/4194304", "s0 concluded", "s0 null")
				if e.g.Node("top").Backing() != e.g.Node("base") {
					t.Fatal("stream result")
				}
			}
			if policy != "stop" && e.g.Node("top").Backing() != e.g.Node("mid") {
				t.Fatal("failed stream changed the chain")
			}
			if e.digest("top") != chainDigest {
				t.Fatal("top reads differently")
			}
		})
	}
}

// TestPauseResumeTranscript follows pause_resume and verbs_while_paused: a
// speed-1 backup of 1 GiB null-co runs "forever"; pause, set-speed and
// resume behave as recorded.
func TestPauseResumeTranscript(t *testing.T) {
	e := newEnv(t)
	e.null("n0", 1<<30)
	e.null("n1", 1<<30)
	j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.m.Advance(3600e9)
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running")
	if err := e.m.Pause(j); err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	e.expectLog("j0 paused")
	if err := e.m.SetSpeed(j, 65536); err != nil {
		t.Fatal(err)
	}
	e.m.Advance(1e9)
	e.expectLog()
	e.m.Resume(j)
	e.m.Settle()
	e.expectLog("j0 running")
	// At 64 KiB/s the remaining ~1 GiB takes hours of virtual time.
	e.m.Advance(10e9)
	if cur, _ := j.Progress(); cur <= 1<<20 || cur > 2<<20 {
		t.Fatalf("progress %d after 10 s at 64 KiB/s", cur)
	}
	e.m.Apply(sim.VerbCommand{Verb: fsm.VerbCancel, Block: true, ID: "j0"})
	e.settle()
	e.expectLog("j0 aborting", "CANCELLED j0", "j0 concluded", "j0 null")
}

// TestPersistentErrorIgnore: an always-failing target with on-target-error
// ignore re-emits BLOCK_JOB_ERROR on every retry (reference §3.1) without
// hanging the simulation; a cancel still ends the job.
func TestPersistentErrorIgnore(t *testing.T) {
	for _, kind := range []string{"backup", "mirror", "commit"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			var j *sim.Job
			var err error
			switch kind {
			case "commit":
				e.chain()
				e.g.InjectError("base", blockdev.InjectRule{Write: true})
				j, err = Commit(e.m, e.g, CommitArgs{Common: Common{JobID: str("j")}, Device: "top", TopNode: str("mid"), OnError: "ignore"})
			default:
				e.mem("src", 1<<20)
				e.mem("tgt", 1<<20)
				e.g.InjectError("tgt", blockdev.InjectRule{Write: true})
				if kind == "backup" {
					j, err = Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j")}, Device: "src", Target: "tgt", Sync: SyncFull, OnTargetError: "ignore"})
				} else {
					j, err = Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("j")}, Device: "src", Target: "tgt", Sync: SyncFull, OnTargetError: "ignore"})
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			e.m.Advance(1e9)
			n := 0
			for _, l := range e.log {
				if l == "ERROR j write ignore" {
					n++
				}
			}
			if n < 5 || n > 20 || j.Status().String() != "running" {
				t.Fatalf("%d errors in 1 s, status %s", n, j.Status())
			}
			e.log = nil
			e.m.Cancel(j, true)
			e.settle()
			e.expectLog("j aborting", "CANCELLED j", "j concluded", "j null")
		})
	}
}
