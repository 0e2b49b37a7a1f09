package qmptest

import (
	"encoding/json"
	"fmt"
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

// backupEvents runs one backup to its end under plan and returns the
// events the client read.
func backupEvents(t *testing.T, plan string) []string {
	t.Helper()
	opts := Options{}
	if plan != "" {
		opts.Faults = MustPlan(t, plan)
	}
	srv := NewServer(t, opts)
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	if err := cl.waitStatus("b0", "concluded"); err != nil {
		t.Fatal(err)
	}
	cl.jobs()
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	return cl.names()
}

func TestDelayedEventArrivesMessagesLater(t *testing.T) {
	plain := strings.Join(backupEvents(t, ""), ", ")
	want := "created b0, running b0, paused b0, running b0, waiting b0, pending b0, BLOCK_JOB_COMPLETED b0, concluded b0, null b0"
	if plain != want {
		t.Fatalf("fault-free events = %s\nwant %s", plain, want)
	}
	// "running" (the second one) is held back for two further messages.
	got := strings.Join(backupEvents(t, `{"rules": [{"delay": {"event": "JOB_STATUS_CHANGE", "job": "b0", "messages": 2, "count": 1}}]}`), ", ")
	want = "running b0, paused b0, created b0, running b0, waiting b0, pending b0, BLOCK_JOB_COMPLETED b0, concluded b0, null b0"
	if got != want {
		t.Errorf("delayed events = %s\nwant %s", got, want)
	}
}

func TestCloseAfterMessagesCutsOnlyThatMonitor(t *testing.T) {
	// Monitor 1: greeting, qmp_capabilities' answer, query-jobs' answer;
	// then the connection is closed.
	srv := NewServer(t, Options{Faults: MustPlan(t, `{"rules": [{"close": {"monitor": 1, "after_messages": 3}}]}`)})
	cl := dial(t, srv.Path)
	cl.jobs()
	if _, err := cl.cmd("query-jobs", nil); err == nil {
		t.Fatal("monitor 1 still answers after its third message")
	}
	cl2 := dial(t, srv.Path)
	cl2.jobs()
	cl2.jobs()
	log := srv.Faults()
	if len(log) != 1 || log[0].Detail != "connection closed after 3 messages" || log[0].Monitor != 1 {
		t.Errorf("fault log = %v", log)
	}
}

func TestCloseBeforeEventThenReconnectAndQuery(t *testing.T) {
	srv := NewServer(t, Options{Faults: MustPlan(t, `{"rules": [{"close": {"before_event": "BLOCK_JOB_COMPLETED", "job": "b0"}}]}`)})
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	if err := cl.waitStatus("b0", "concluded"); err == nil {
		t.Fatal("the client saw b0 conclude although its connection was to close before BLOCK_JOB_COMPLETED")
	}
	if got := strings.Join(cl.names(), ", "); strings.Contains(got, "BLOCK_JOB_COMPLETED") {
		t.Errorf("events before the close = %s: BLOCK_JOB_COMPLETED was delivered", got)
	}
	// A correct client reconnects and learns the outcome from query-jobs.
	cl = dial(t, srv.Path)
	jobs := cl.jobs()
	if len(jobs) != 1 || jobs[0].ID != "b0" || jobs[0].Status != "concluded" || jobs[0].Error != nil {
		t.Fatalf("query-jobs after reconnect = %+v, want b0 concluded without error", jobs)
	}
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	if v := srv.Violations(); len(v) != 0 {
		t.Errorf("a correct client was reported: %v", v)
	}
}

func TestRestartEndsJobsAndNonPersistentBitmapsKeepsNodes(t *testing.T) {
	srv := NewServer(t, Options{Faults: MustPlan(t, `{"rules": [{"restart": {"before_event": "BLOCK_JOB_READY"}}]}`)})
	nullNodes(t, srv, 1<<20, "src", "dst")
	srv.MustExec(t, "block-dirty-bitmap-add", map[string]any{"node": "src", "name": "bm0"})
	cl := dial(t, srv.Path)
	cl.must("blockdev-mirror", map[string]any{"job-id": "m0", "device": "src", "target": "dst", "sync": "full", "auto-dismiss": false})
	if err := cl.waitStatus("m0", "concluded"); err == nil {
		t.Fatal("m0 concluded on a daemon that was to restart before BLOCK_JOB_READY")
	}
	// QEMU emits the ready status change, then BLOCK_JOB_READY.
	if got := strings.Join(cl.names(), ", "); !strings.HasSuffix(got, "ready m0") {
		t.Errorf("events before the restart = %s, want them to end with ready m0", got)
	}
	cl = dial(t, srv.Path)
	if jobs := cl.jobs(); len(jobs) != 0 {
		t.Errorf("query-jobs after the restart = %+v, want none", jobs)
	}
	var nodes []struct {
		NodeName     string `json:"node-name"`
		DirtyBitmaps []any  `json:"dirty-bitmaps"`
	}
	if err := json.Unmarshal(cl.must("query-named-block-nodes", nil), &nodes); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.NodeName)
		if len(n.DirtyBitmaps) != 0 {
			t.Errorf("node %s keeps bitmaps %v after the restart", n.NodeName, n.DirtyBitmaps)
		}
	}
	// The mirror's filter node is gone with the job.
	if got := strings.Join(names, " "); got != "dst src" && got != "src dst" {
		t.Errorf("nodes after the restart = %q, want src and dst", got)
	}
	// The restarted daemon runs jobs on them again.
	cl.must("blockdev-backup", backupArgs("b1", "src", "dst"))
	if err := cl.waitStatus("b1", "concluded"); err != nil {
		t.Fatal(err)
	}
	cl.jobs()
	cl.must("job-dismiss", map[string]any{"id": "b1"})
	log := srv.Faults()
	if len(log) != 1 || log[0].Detail != "daemon restarted before the event" {
		t.Errorf("fault log = %v", log)
	}
}

func TestIOFaultFailsTheJob(t *testing.T) {
	srv := NewServer(t, Options{Faults: MustPlan(t, `{"rules": [{"io": {"node": "src", "offset": 524288, "op": "read"}}]}`)})
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	if err := cl.waitStatus("b0", "concluded"); err != nil {
		t.Fatal(err)
	}
	jobs := cl.jobs()
	if len(jobs) != 1 || jobs[0].Error == nil || *jobs[0].Error != "Input/output error" {
		t.Errorf("query-jobs = %+v, want b0 concluded with Input/output error", jobs)
	}
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	if log := srv.Faults(); len(log) != 1 || log[0].Detail != "armed on node src" {
		t.Errorf("fault log = %v", log)
	}
}

// droppedStatuses runs a backup under a plan that drops status changes
// at random and returns the events the client read up to
// BLOCK_JOB_COMPLETED (which the plan never drops).
func droppedStatuses(t *testing.T, seed int) string {
	t.Helper()
	plan := fmt.Sprintf(`{"seed": %d, "rules": [{"drop": {"event": "JOB_STATUS_CHANGE", "probability": 0.5}}]}`, seed)
	srv := NewServer(t, Options{Faults: MustPlan(t, plan)})
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	for len(cl.events) == 0 || cl.events[len(cl.events)-1].Event != "BLOCK_JOB_COMPLETED" {
		r, err := cl.read()
		if err != nil {
			t.Fatal(err)
		}
		if r.Event != "" {
			cl.events = append(cl.events, r)
		}
	}
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	return strings.Join(cl.names(), ", ")
}

func TestProbabilisticRulesReplayFromTheSeed(t *testing.T) {
	a, b := droppedStatuses(t, 3), droppedStatuses(t, 3)
	if a != b {
		t.Errorf("the same seed dropped different events:\n%s\n%s", a, b)
	}
	c := droppedStatuses(t, 4)
	if a == c {
		t.Errorf("seeds 3 and 4 dropped the same events: %s", a)
	}
}
