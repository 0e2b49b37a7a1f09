package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jobfsm/jobfsm/tracker"
)

// qsd is one qemu-storage-daemon with two monitors: the tracker's and the
// other client's (QEMU serves one client per monitor socket).
type qsd struct {
	t        *testing.T
	dir      string
	tracker  string // the tracker's monitor socket
	other    string // another client's monitor socket
	pid      int
	admin    *tracker.Client
	imgs     []string
	blkdebug string
}

func startQSD(t *testing.T, dir string) *qsd {
	q := &qsd{t: t, dir: dir, tracker: filepath.Join(dir, "tracker.sock"), other: filepath.Join(dir, "other.sock")}
	q.start()
	return q
}

// start runs the daemon; --daemonize returns once it is ready, so the
// sockets exist when it does.
func (q *qsd) start() {
	t := q.t
	pidfile := filepath.Join(q.dir, "qsd.pid")
	for _, s := range []string{q.tracker, q.other, pidfile} {
		_ = os.Remove(s)
	}
	cmd := exec.Command("qemu-storage-daemon",
		"--chardev", "socket,id=m0,path="+q.tracker+",server=on,wait=off", "--monitor", "m0",
		"--chardev", "socket,id=m1,path="+q.other+",server=on,wait=off", "--monitor", "m1",
		"--daemonize", "--pidfile", pidfile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-storage-daemon: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	q.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(q.kill)
	if q.admin, err = tracker.Dial(q.other, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range q.imgs {
		q.addImage(name)
	}
	if q.blkdebug != "" {
		q.addBlkdebug(q.blkdebug)
	}
}

// kill is a crash: SIGKILL, then wait until the process is gone.
func (q *qsd) kill() {
	if q.pid == 0 {
		return
	}
	if q.admin != nil {
		q.admin.Close()
	}
	// The daemon is not our child (--daemonize): a pidfd tells when it has
	// exited, and with it every file it held is closed.
	pfd, err := unix.PidfdOpen(q.pid, 0)
	if err != nil {
		q.t.Fatalf("pidfd_open(%d): %v", q.pid, err)
	}
	defer unix.Close(pfd)
	_ = syscall.Kill(q.pid, syscall.SIGKILL)
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10_000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			q.t.Fatalf("qemu-storage-daemon %d did not exit after SIGKILL: %v", q.pid, err)
		}
		break
	}
	q.pid = 0
}

func (q *qsd) exec(cmd string, args map[string]any) (json.RawMessage, error) {
	return q.admin.Execute(cmd, args)
}

func (q *qsd) must(cmd string, args map[string]any) {
	q.t.Helper()
	if _, err := q.exec(cmd, args); err != nil {
		q.t.Fatalf("%s: %v", cmd, err)
	}
}

func (q *qsd) addImage(name string) {
	q.must("blockdev-add", map[string]any{"driver": "raw", "node-name": name,
		"file": map[string]any{"driver": "file", "filename": filepath.Join(q.dir, name+".img")}})
}

// addBlkdebug adds a raw node over blkdebug that fails its first write.
func (q *qsd) addBlkdebug(name string) {
	q.must("blockdev-add", map[string]any{"driver": "raw", "node-name": name,
		"file": map[string]any{"driver": "blkdebug",
			"inject-error": []any{map[string]any{"event": "write_aio", "errno": 5, "once": true}},
			"image":        map[string]any{"driver": "file", "filename": filepath.Join(q.dir, name+".img")}}})
}

func (q *qsd) image(name string, content []byte) {
	if err := os.WriteFile(filepath.Join(q.dir, name+".img"), content, 0o600); err != nil {
		q.t.Fatal(err)
	}
}

func fileSHA(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestTrackerRealQEMU drives `jobsim tracker` (built here) against
// qemu-storage-daemon 7.2: a backup that ends while no tracker runs, a
// cancel from another client, a blkdebug write error, a grouped
// transaction one member of which fails, and a daemon crash mid-backup.
// The verdicts must equal ground truth: image hashes of the raw files.
func TestTrackerRealQEMU(t *testing.T) {
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("qemu-storage-daemon is missing (apt-get install qemu-system-common); CI requires it")
		}
		t.Skip("qemu-storage-daemon is missing (apt-get install qemu-system-common)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building jobsim needs the go tool: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "jobsim")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building jobsim: %v\n%s", err, out)
	}
	const size = 4 << 20
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i*7 + i>>12)
	}
	q := &qsd{t: t, dir: dir, tracker: filepath.Join(dir, "tracker.sock"), other: filepath.Join(dir, "other.sock")}
	q.image("src", src)
	q.imgs = []string{"src"}
	for _, n := range []string{"t1", "t2", "t3", "g1", "g2", "t4"} {
		q.image(n, make([]byte, size))
		q.imgs = append(q.imgs, n)
	}
	q.image("bad", make([]byte, size))
	q.blkdebug = "bad"
	q.start()
	q.must("block-dirty-bitmap-add", map[string]any{"node": "src", "name": "bm"})
	journal := filepath.Join(dir, "journal.db")
	jobsim := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, append([]string{"tracker", "--qmp", q.tracker, "--journal", journal}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String(), errb.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errb.String()
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errs := jobsim(args...)
		if code != 0 {
			t.Fatalf("jobsim tracker %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	status := func() tracker.Status {
		t.Helper()
		var st tracker.Status
		if err := json.Unmarshal([]byte(mustRun("status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	srcSHA := sha256.Sum256(src)

	// 1. the backup ends while no tracker runs: nobody sees its events
	mustRun("backup", "--job-id", "b1", "--device", "src", "--target", "t1", "--sync", "full",
		"--bitmap", "bm", "--bitmap-mode", "on-success")
	waitStatus(t, q.admin, "b1", "pending")
	// 2. another client cancels a running backup (speed 1: it never ends)
	mustRun("backup", "--job-id", "b2", "--device", "src", "--target", "t2", "--sync", "full", "--speed", "1")
	q.must("job-cancel", map[string]any{"id": "b2"})
	// 3. blkdebug fails the target's first write
	mustRun("backup", "--job-id", "b3", "--device", "src", "--target", "bad", "--sync", "full")
	waitStatus(t, q.admin, "b3", "concluded")
	// 4. a grouped transaction: g1 is slow, bad2 fails, so g1 is cancelled
	q.image("bad2", make([]byte, size))
	q.addBlkdebug("bad2")
	mustRun("backup-group", "--backup", "job-id=g1,device=src,target=g1,sync=full,speed=1",
		"--backup", "job-id=g2,device=src,target=bad2,sync=full")
	waitStatus(t, q.admin, "g1", "concluded")

	st := status()
	want := map[string][2]string{
		"b1": {tracker.Succeeded, ""},
		"b2": {tracker.Cancelled, "Operation canceled"},
		"b3": {tracker.Failed, "Input/output error"},
		"g1": {tracker.Cancelled, "Operation canceled"},
		"g2": {tracker.Failed, "Input/output error"},
	}
	for id, w := range want {
		if got := st.Jobs[id]; got.Verdict != w[0] || got.Error != w[1] {
			t.Errorf("job %s: %s %q, want %s %q", id, got.Verdict, got.Error, w[0], w[1])
		}
	}
	if got := fileSHA(t, filepath.Join(dir, "t1.img")); got != srcSHA {
		t.Errorf("b1 succeeded, but t1.img differs from the source")
	}
	if bm := st.Bitmaps["src/bm"]; bm.Verdict != tracker.BitmapOK || len(bm.Chain) != 1 || bm.Chain[0] != "t1" {
		t.Errorf("src/bm after b1: %+v, want ok on chain [t1]", bm)
	}
	if raw, err := q.exec("query-jobs", nil); err != nil || string(raw) != "[]" {
		t.Errorf("query-jobs after status = %s (%v), want [] (every tracked job dismissed)", raw, err)
	}

	// 5. the daemon crashes mid-backup; the images stay, jobs and the
	// non-persistent bitmap are gone
	mustRun("backup", "--job-id", "b4", "--device", "src", "--target", "t4", "--sync", "full", "--speed", "1")
	q.kill()
	q.start()
	st = status()
	if got := st.Jobs["b4"]; got.Verdict != tracker.Unknown {
		t.Errorf("b4 after a daemon crash: %+v, want unknown", got)
	}
	if got := st.Jobs["b1"]; got.Verdict != tracker.Succeeded {
		t.Errorf("b1 after a daemon crash: %+v, want its recorded verdict", got)
	}
	if bm := st.Bitmaps["src/bm"]; bm.Verdict != tracker.BitmapNeedsFull {
		t.Errorf("src/bm after a daemon crash: %+v, want needs-full-backup", bm)
	}
	if again := status(); !jsonEqual(again, st) {
		t.Errorf("a second status differs: %+v vs %+v", again, st)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
