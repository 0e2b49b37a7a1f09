package blockjob

import (
	"testing"
)

// TestBackupLifecycleTranscript follows backup_lifecycle.transcript.json:
// the events, progress figures and the target digest are QEMU's.
func TestBackupLifecycleTranscript(t *testing.T) {
	e := newEnv(t)
	e.mem("src", 4<<20)
	e.mem("tgt", 4<<20)
	e.transcriptImage("src")
	if d := e.digest("src"); d != transcriptDigest {
		t.Fatalf("source digest %s", d)
	}
	j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j0"), AutoFinalize: no(), AutoDismiss: no()},
		Device: "src", Target: "tgt", Sync: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running", "j0 waiting", "j0 pending", "PENDING j0")
	if err := e.m.Finalize(j); err != nil {
		t.Fatal(err)
	}
	e.expectLog("COMPLETED j0 4194304/4194304", "j0 concluded")
	if d := e.digest("tgt"); d != transcriptDigest {
		t.Fatalf("target digest %s", d)
	}
	// A concluded job holds no node any more (QEMU 7.2, recorded in
	// spec/conformance/concluded_releases_nodes).
	if err := e.g.DelNode("tgt"); err != nil {
		t.Fatal(err)
	}
	e.m.Dismiss(j)
	e.expectLog("j0 null")
}
