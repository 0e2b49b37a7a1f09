package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/qmp"
	"github.com/jobfsm/jobfsm/timeline"
	"github.com/jobfsm/jobfsm/tracker"
)

// serveJobsim runs an in-process `jobsim qmp --socket` (virtual clock) and
// returns its socket path.
func serveJobsim(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "qmp.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := qmp.NewServer(qmp.ServerOptions{Clock: qmp.ClockVirtual})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.ServeUnix(l, nil) }()
	go func() { _ = srv.Run(ctx, false); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func mustExec(t *testing.T, c *tracker.Client, cmd string, args any) json.RawMessage {
	t.Helper()
	r, err := c.Execute(cmd, args)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return r
}

// waitStatus waits (on events, not on time) until job id reaches status.
func waitStatus(t *testing.T, c *tracker.Client, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range c.TakeEvents() {
			var d struct{ ID, Status string }
			_ = json.Unmarshal(e.Data, &d)
			if e.Name == "JOB_STATUS_CHANGE" && d.ID == id && d.Status == status {
				return
			}
		}
		if _, err := c.WaitEvent(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("job %s never reached %s", id, status)
}

func TestTrackerEndToEnd(t *testing.T) {
	sock := serveJobsim(t)
	journal := filepath.Join(t.TempDir(), "journal.db")
	admin, err := tracker.Dial(sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, n := range []string{"src", "t1", "t2"} {
		mustExec(t, admin, "blockdev-add", map[string]any{"driver": "null-co", "node-name": n, "size": 1 << 20})
	}
	mustExec(t, admin, "block-dirty-bitmap-add", map[string]any{"node": "src", "name": "bm"})
	tr := func(args ...string) (int, string, string) {
		return runJobsim(append([]string{"tracker", "--qmp", sock, "--journal", journal}, args...)...)
	}
	if code, out, errs := tr("backup", "--job-id", "b1", "--device", "src", "--target", "t1", "--sync", "full",
		"--bitmap", "bm", "--bitmap-mode", "on-success", "--speed", "4194304"); code != 0 || out != "job b1 started\n" {
		t.Fatalf("backup: exit %d, stdout %q: %s", code, out, errs)
	}
	// the tracker is gone while the job ends: nobody sees its events
	waitStatus(t, admin, "b1", "pending")

	code, out, errs := tr("status", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	want := `{"jobs":{"b1":{"verdict":"succeeded","error":"","device":"src","target":"t1","sync":"full","bitmap":"bm"}},` +
		`"bitmaps":{"src/bm":{"verdict":"ok","reason":"succeeded: reset by full backup b1 to t1","chain":["t1"]}}}` + "\n"
	if out != want {
		t.Fatalf("status --json:\n got %s\nwant %s", out, want)
	}
	// the job was finalized and dismissed: QEMU no longer lists it
	if jobs := mustExec(t, admin, "query-jobs", nil); string(jobs) != "[]" {
		t.Fatalf("query-jobs after status = %s, want []", jobs)
	}
	if _, again, _ := tr("status", "--json"); again != out {
		t.Fatalf("second status differs:\n%s\n%s", out, again)
	}

	// a refused backup: QEMU's text, exit 1, journaled as failed
	code, _, errs = tr("backup", "--job-id", "b2", "--device", "nope", "--target", "t2", "--sync", "full")
	if code != exitFailure || !strings.Contains(errs, "Cannot find device='nope' nor node-name='nope'") {
		t.Fatalf("refused backup: exit %d, stderr %q", code, errs)
	}
	_, out, _ = tr("status", "--json", "--job", "b2")
	if !strings.Contains(out, `"b2":{"verdict":"failed","error":"Cannot find device='nope' nor node-name='nope'"`) {
		t.Fatalf("refusal not journaled: %s", out)
	}
	if code, _, errs := tr("status", "--job", "zz"); code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "not tracked") {
		t.Fatalf("untracked job: exit %d, stderr %q", code, errs)
	}
}

func TestTrackerBadInput(t *testing.T) {
	sock := serveJobsim(t)
	dir := t.TempDir()
	notJournal := filepath.Join(dir, "notes.txt")
	content := []byte(strings.Repeat("not a journal\n", 600))
	if err := os.WriteFile(notJournal, content, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runJobsim("tracker", "--qmp", sock, "--journal", notJournal, "status")
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "not a tracker journal") {
		t.Fatalf("not a journal: exit %d, stderr %q", code, errs)
	}
	if got, _ := os.ReadFile(notJournal); !bytes.Equal(got, content) {
		t.Fatal("the file that is not a journal was changed")
	}
	// a socket that does not speak QMP
	bogus := filepath.Join(dir, "bogus.sock")
	l, err := net.Listen("unix", bogus)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
			c.Close()
		}
	}()
	journal := filepath.Join(dir, "j.db")
	code, _, errs = runJobsim("tracker", "--qmp", bogus, "--journal", journal, "status")
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "QMP greeting") {
		t.Fatalf("not QMP: exit %d, stderr %q", code, errs)
	}
	// a server that closes in the middle of its answer
	half := filepath.Join(dir, "half.sock")
	hl, err := net.Listen("unix", half)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		for {
			c, err := hl.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\n"))
			buf := make([]byte, 512)
			c.Read(buf) // qmp_capabilities
			c.Write([]byte(`{"return": {}, "id": "t1"}` + "\n"))
			c.Read(buf) // query-jobs
			c.Write([]byte(`{"return": [{"id": "b1", "sta`))
			c.Close()
		}
	}()
	before, _ := os.ReadFile(journal)
	code, _, errs = runJobsim("tracker", "--qmp", half, "--journal", journal, "status")
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "QMP query-jobs") {
		t.Fatalf("closed mid-reply: exit %d, stderr %q", code, errs)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Fatal("a failed status changed the journal")
	}
}

func TestTrackerWatch(t *testing.T) {
	sock := serveJobsim(t)
	journal := filepath.Join(t.TempDir(), "journal.db")
	view := filepath.Join(t.TempDir(), "view.ndjson")
	admin, err := tracker.Dial(sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, n := range []string{"src", "t1", "t2"} {
		mustExec(t, admin, "blockdev-add", map[string]any{"driver": "null-co", "node-name": n, "size": 8 << 20})
	}
	tr := func(args ...string) (int, string, string) {
		return runJobsim(append([]string{"tracker", "--qmp", sock, "--journal", journal, "--view", view}, args...)...)
	}
	// at speed 64 the 8 MiB copy takes 131072 virtual seconds, which the
	// virtual clock's rate bound (10^5) stretches to over a wall second:
	// watch sees it running
	if code, _, errs := tr("backup-group", "--backup", "job-id=a,device=src,target=t1,sync=full,speed=64",
		"--backup", "job-id=b,device=src,target=t2,sync=full"); code != 0 {
		t.Fatalf("backup-group: exit %d: %s", code, errs)
	}
	code, out, errs := tr("watch")
	if code != 0 {
		t.Fatalf("watch: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "a: running (") || lines[len(lines)-2] != "a: succeeded" || lines[len(lines)-1] != "b: succeeded" {
		t.Fatalf("watch output:\n%s", out)
	}
	if jobs := mustExec(t, admin, "query-jobs", nil); string(jobs) != "[]" {
		t.Fatalf("query-jobs after watch = %s, want []", jobs)
	}
	// the view: each member's lane starts with its transaction action and
	// ends with its verdict and dismiss, and watch saw each job to null
	data, err := os.ReadFile(view)
	if err != nil {
		t.Fatal(err)
	}
	run, err := timeline.Load(data)
	if err != nil {
		t.Fatalf("timeline.Load: %v\n%s", err, data)
	}
	cmds := map[string][]string{}
	for _, c := range run.Commands {
		cmds[c.Job] = append(cmds[c.Job], c.Op)
	}
	// job-finalize on either member finalizes the group: which member
	// the tracker names depends on which pending it learns of first
	finalizes := 0
	for _, job := range []string{"a", "b"} {
		got := strings.Join(cmds[job], ", ")
		finalizes += strings.Count(got, "job-finalize")
		if !strings.HasPrefix(got, "transaction blockdev-backup, ") || !strings.HasSuffix(got, ", verdict succeeded, job-dismiss") {
			t.Fatalf("commands on lane %s: %s\n%s", job, got, data)
		}
	}
	if finalizes == 0 {
		t.Fatalf("no job-finalize in the view:\n%s", data)
	}
	for _, ln := range timeline.Build(run).Lanes {
		if ln.End < 0 {
			t.Fatalf("lane %s does not end in null:\n%s", ln.Job, data)
		}
	}
}

// TestTrackerView runs backup, a refused backup and status with --view on
// one file, and loads it as jobsim replay does: one header, a lane per job
// with the tracker's commands on it (the refused one with QEMU's error),
// its verdicts, and the job's life from blockdev-backup to dismiss as far
// as the tracker's monitors saw it. A file that is not a view is refused
// and left as it was.
func TestTrackerView(t *testing.T) {
	sock := serveJobsim(t)
	dir := t.TempDir()
	journal, view := filepath.Join(dir, "journal.db"), filepath.Join(dir, "view.ndjson")
	admin, err := tracker.Dial(sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, n := range []string{"src", "t1"} {
		mustExec(t, admin, "blockdev-add", map[string]any{"driver": "null-co", "node-name": n, "size": 1 << 20})
	}
	tr := func(args ...string) (int, string, string) {
		return runJobsim(append([]string{"tracker", "--qmp", sock, "--journal", journal, "--view", view}, args...)...)
	}
	if code, _, errs := tr("backup", "--job-id", "b1", "--device", "src", "--target", "t1", "--sync", "full"); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errs)
	}
	if code, _, _ := tr("backup", "--job-id", "b2", "--device", "nope", "--target", "t1", "--sync", "full"); code != exitFailure {
		t.Fatalf("refused backup: exit %d", code)
	}
	waitStatus(t, admin, "b1", "pending")
	if code, _, errs := tr("status"); code != 0 {
		t.Fatalf("status: exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(view)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"op":"config"`); n != 1 {
		t.Fatalf("%d view headers in one file, want 1:\n%s", n, data)
	}
	run, err := timeline.Load(data)
	if err != nil {
		t.Fatalf("timeline.Load: %v\n%s", err, data)
	}
	l := timeline.Build(run)
	cmds := map[string][]string{}
	for _, c := range run.Commands {
		label := c.Op
		if c.Error != "" {
			label += " (" + c.Error + ")"
		}
		cmds[c.Job] = append(cmds[c.Job], label)
	}
	want := map[string]string{
		"b1": "blockdev-backup, job-finalize, verdict succeeded, job-dismiss",
		"b2": "blockdev-backup (Cannot find device='nope' nor node-name='nope'), verdict failed: Cannot find device='nope' nor node-name='nope'",
	}
	for job, w := range want {
		if got := strings.Join(cmds[job], ", "); got != w {
			t.Fatalf("commands on lane %s: %s, want %s\n%s", job, got, w, data)
		}
	}
	// three runs connected once each
	connects := 0
	for _, op := range cmds[""] {
		if op == "connect" {
			connects++
		}
	}
	if got := connects; got != 3 {
		t.Fatalf("%d connects, want 3: %v", got, cmds[""])
	}
	// the backup's status changes came before its return, the rest while
	// status finalized and dismissed; waiting and pending nobody saw
	sum := strings.Join(l.Summary(), "\n")
	if wantSum := "b1: created -> running -> paused -> running -> concluded -> null [COMPLETED]\nb2: (no such job)"; sum != wantSum {
		t.Fatalf("lanes:\n%s\nwant:\n%s", sum, wantSum)
	}

	notView := filepath.Join(dir, "notes.txt")
	content := []byte("{\"op\":\"verb\"}\nnot a view\n")
	if err := os.WriteFile(notView, content, 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	code, _, errs := runJobsim("tracker", "--qmp", sock, "--journal", other, "--view", notView, "status")
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "not a tracker view") {
		t.Fatalf("not a view: exit %d, stderr %q", code, errs)
	}
	if got, _ := os.ReadFile(notView); !bytes.Equal(got, content) {
		t.Fatal("the file that is not a view was changed")
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("a refused view still created the journal (stat: %v)", err)
	}
}
