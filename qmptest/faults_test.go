package qmptest

import (
	"strings"
	"testing"
)

func TestDroppedEventTheClientRecoversWithQueryJobs(t *testing.T) {
	srv := NewServer(t, Options{Faults: MustPlan(t, `{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED", "job": "b0"}}]}`)})
	// qemu-storage-daemon 7.2 as installed on Debian 12 greets with 7.2.22.
	if srv.Version != "7.2.22" {
		t.Errorf("Version = %q, want 7.2.22", srv.Version)
	}
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	if err := cl.waitStatus("b0", "concluded"); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cl.names(), ", ")
	// QEMU 7.2's order (spec/conformance/backup_auto.transcript.json)
	// without the BLOCK_JOB_COMPLETED between pending and concluded.
	want := "created b0, running b0, paused b0, running b0, waiting b0, pending b0, concluded b0"
	if got != want {
		t.Errorf("events = %s\nwant      %s (BLOCK_JOB_COMPLETED dropped)", got, want)
	}
	jobs := cl.jobs()
	if len(jobs) != 1 || jobs[0].Status != "concluded" || jobs[0].Error != nil {
		t.Errorf("query-jobs = %+v, want b0 concluded without error", jobs)
	}
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	log := srv.Faults()
	if len(log) != 1 || log[0].String() != "fault rules[0] drop monitor 1 BLOCK_JOB_COMPLETED b0: dropped" {
		t.Errorf("fault log = %v", log)
	}
}
