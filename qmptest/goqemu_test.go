package qmptest

// Findings in the block-job helpers of github.com/digitalocean/go-qemu's
// qemu package (BlockJob.Cancel, BlockJob.Complete, and waitForJob behind
// them and Commit and Mirror), each run on jobsim and on real
// qemu-storage-daemon 7.2 with the same outcome. Each test asserts the
// helper's wrong result: it passes while the bug is there and documents
// it; a fixed helper makes it fail, and the test should then be turned
// around. The rules are in spec/client-contract.md.
//
//	go test -run 'GoQemu' -v ./qmptest/            # jobsim and QEMU
//	go test -run 'GoQemu/jobsim' -v ./qmptest/     # jobsim only

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qemu"
	goqmp "github.com/digitalocean/go-qemu/qmp"

	"github.com/jobfsm/jobfsm/faults"
)

// target is a QMP server under test: jobsim (qmptest) or a real
// qemu-storage-daemon. path is where the client under test connects
// (through the fault plan); watch is the test's own monitor, which the
// plan does not touch.
type target struct {
	path  string
	watch *client
	in    *faults.Injector // QEMU: the proxy's injector
	srv   *Server          // jobsim
}

// planFor substitutes the client's monitor number for MON: on jobsim the
// watcher connects first, so the client is monitor 2; through the proxy in
// front of QEMU the client is its only monitor.
func planFor(plan string, mon string) string { return strings.ReplaceAll(plan, "MON", mon) }

func jobsimTarget(t *testing.T, plan string) *target {
	opts := Options{ReportOnly: true}
	if plan != "" {
		opts.Faults = MustPlan(t, planFor(plan, "2"))
	}
	srv := NewServer(t, opts)
	return &target{path: srv.Path, watch: dial(t, srv.Path), srv: srv}
}

// qemuTarget starts qemu-storage-daemon with two monitors: one behind a
// fault-plan proxy for the client under test, one for the test.
func qemuTarget(t *testing.T, plan string) *target {
	bin, err := exec.LookPath("qemu-storage-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qemu-storage-daemon is not installed (apt-get install qemu-system-common); CI needs it for the go-qemu findings on QEMU")
		}
		t.Skip("qemu-storage-daemon is not installed: the go-qemu findings run on jobsim only")
	}
	dir := t.TempDir()
	client, watch, pid := filepath.Join(dir, "m1.sock"), filepath.Join(dir, "m2.sock"), filepath.Join(dir, "qsd.pid")
	cmd := exec.Command(bin,
		"--chardev", "socket,id=m1,path="+client+",server=on,wait=off", "--monitor", "m1",
		"--chardev", "socket,id=m2,path="+watch+",server=on,wait=off", "--monitor", "m2",
		"--daemonize", "--pidfile", pid)
	// --daemonize returns once the daemon is set up and its sockets listen.
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-storage-daemon: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pid); err == nil {
			var n int
			for _, c := range strings.TrimSpace(string(b)) {
				n = n*10 + int(c-'0')
			}
			if p, err := os.FindProcess(n); err == nil && n > 0 {
				_ = p.Kill()
			}
		}
	})
	p := (*faults.Plan)(nil)
	if plan != "" {
		p = MustPlan(t, planFor(plan, "1"))
	}
	in := faults.New(p)
	proxy := filepath.Join(dir, "proxy.sock")
	l, err := net.Listen("unix", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { _ = in.Serve(l, func() (net.Conn, error) { return net.Dial("unix", client) }) }()
	return &target{path: proxy, watch: dial(t, watch), in: in}
}

// both runs a finding on jobsim and on QEMU, as subtests.
func both(t *testing.T, plan string, finding func(t *testing.T, tg *target)) {
	t.Run("jobsim", func(t *testing.T) { finding(t, jobsimTarget(t, plan)) })
	t.Run("qemu", func(t *testing.T) { finding(t, qemuTarget(t, plan)) })
}

// domain connects go-qemu to the target, as a tool using it would.
func domain(t *testing.T, path string) *qemu.Domain {
	t.Helper()
	mon, err := goqmp.NewSocketMonitor("unix", path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Connect(); err != nil {
		t.Fatal(err)
	}
	d, err := qemu.NewDomain(mon, "jobsim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (tg *target) nodes(t *testing.T, size int64, names ...string) {
	t.Helper()
	for _, n := range names {
		tg.watch.must("blockdev-add", map[string]any{"driver": "null-co", "node-name": n, "size": size})
	}
}

// waitEvent reads the watcher's events until name for job.
func (tg *target) waitEvent(t *testing.T, name, job string) {
	t.Helper()
	cl := tg.watch
	match := func(r reply) bool { return r.Event == name && (r.Data["device"] == job || r.Data["id"] == job) }
	for _, e := range cl.events {
		if match(e) {
			return
		}
	}
	for {
		r, err := cl.read()
		if err != nil {
			t.Fatalf("waiting for %s %s: %v", name, job, err)
		}
		if r.Event != "" {
			cl.events = append(cl.events, r)
			if match(r) {
				return
			}
		}
	}
}

// helperTimeout is how long the helpers wait for their event: long enough
// for the event, when it comes, on a loaded machine.
const helperTimeout = 500 * time.Millisecond

// Finding 1 (C6): BlockJob.Cancel waits for BLOCK_JOB_COMPLETED, but a job
// cancelled before it is ready ends with BLOCK_JOB_CANCELLED and never
// completes: the helper reports "block job timeout" for a cancel that
// worked.
func TestGoQemuCancelWaitsForAnImpossibleEvent(t *testing.T) {
	both(t, "", func(t *testing.T, tg *target) {
		tg.nodes(t, 1<<30, "src", "dst")
		tg.watch.must("blockdev-backup", map[string]any{"job-id": "b0", "device": "src", "target": "dst", "sync": "full", "speed": 1})
		if err := tg.watch.waitStatus("b0", "running"); err != nil {
			t.Fatal(err)
		}
		err := qemu.BlockJob{Device: "b0"}.Cancel(domain(t, tg.path), helperTimeout)
		if err == nil || err.Error() != "block job timeout" {
			t.Fatalf("Cancel = %v; the finding was that it times out (fixed? then turn this test around)", err)
		}
		tg.waitEvent(t, "BLOCK_JOB_CANCELLED", "b0")
		if jobs := tg.watch.jobs(); len(jobs) != 0 {
			t.Errorf("query-jobs = %+v, want none: the job was cancelled and dismissed", jobs)
		}
	})
}

// Finding 2 (C2): waitForJob matches events on their name alone, so
// BlockJob.Cancel of job a returns success when another job b completes,
// while a's own BLOCK_JOB_CANCELLED is ignored.
func TestGoQemuCancelReturnsOnAnotherJobsEvent(t *testing.T) {
	both(t, "", func(t *testing.T, tg *target) {
		tg.nodes(t, 1<<30, "src", "dst", "src2", "dst2")
		for _, j := range [][3]string{{"a", "src", "dst"}, {"b", "src2", "dst2"}} {
			tg.watch.must("blockdev-backup", map[string]any{"job-id": j[0], "device": j[1], "target": j[2], "sync": "full", "speed": 1})
			if err := tg.watch.waitStatus(j[0], "running"); err != nil {
				t.Fatal(err)
			}
		}
		d := domain(t, tg.path)
		res := make(chan error, 1)
		go func() { res <- qemu.BlockJob{Device: "a"}.Cancel(d, 20*time.Second) }()
		tg.waitEvent(t, "BLOCK_JOB_CANCELLED", "a")
		if err := tg.watch.waitStatus("a", "null"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-res:
			t.Fatalf("Cancel(a) returned %v on a's own events; the finding was that it does not (fixed? then turn this test around)", err)
		default:
		}
		// b finishes: its BLOCK_JOB_COMPLETED is what Cancel(a) takes as a's.
		tg.watch.must("block-job-set-speed", map[string]any{"device": "b", "speed": 0})
		tg.waitEvent(t, "BLOCK_JOB_COMPLETED", "b")
		if err := <-res; err != nil {
			t.Fatalf("Cancel(a) = %v; the finding was that it returns nil on b's BLOCK_JOB_COMPLETED", err)
		}
	})
}

// mirrorReady starts a 1 MiB mirror m0 that keeps its outcome (auto-dismiss
// off) and waits until it is ready.
func mirrorReady(t *testing.T, tg *target) {
	tg.nodes(t, 1<<20, "src", "dst")
	tg.watch.must("blockdev-mirror", map[string]any{"job-id": "m0", "device": "src", "target": "dst", "sync": "full", "auto-dismiss": false})
	if err := tg.watch.waitStatus("m0", "ready"); err != nil {
		t.Fatal(err)
	}
}

// concludedOK asserts that m0 concluded without an error: the job worked.
func concludedOK(t *testing.T, tg *target) {
	t.Helper()
	if err := tg.watch.waitStatus("m0", "concluded"); err != nil {
		t.Fatal(err)
	}
	jobs := tg.watch.jobs()
	if len(jobs) != 1 || jobs[0].Status != "concluded" || jobs[0].Error != nil {
		t.Errorf("query-jobs = %+v, want m0 concluded without error", jobs)
	}
}

// Finding 3 (C7): when BLOCK_JOB_COMPLETED is lost, BlockJob.Complete
// reports "block job timeout" without asking query-jobs, which shows the
// job concluded successfully.
func TestGoQemuCompleteTimesOutOnALostEvent(t *testing.T) {
	both(t, `{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED", "job": "m0", "monitor": MON}}]}`, func(t *testing.T, tg *target) {
		mirrorReady(t, tg)
		err := qemu.BlockJob{Device: "m0"}.Complete(domain(t, tg.path), helperTimeout)
		if err == nil || err.Error() != "block job timeout" {
			t.Fatalf("Complete = %v; the finding was that it times out (fixed? then turn this test around)", err)
		}
		concludedOK(t, tg)
		faultsFired(t, tg, "dropped")
	})
}

// Finding 4 (C1): when the connection drops before BLOCK_JOB_COMPLETED,
// BlockJob.Complete returns io.EOF and never reconnects to ask query-jobs:
// the job concluded successfully.
func TestGoQemuCompleteReturnsEOFOnADroppedConnection(t *testing.T) {
	both(t, `{"rules": [{"close": {"before_event": "BLOCK_JOB_COMPLETED", "job": "m0", "monitor": MON}}]}`, func(t *testing.T, tg *target) {
		mirrorReady(t, tg)
		err := qemu.BlockJob{Device: "m0"}.Complete(domain(t, tg.path), 20*time.Second)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Complete = %v; the finding was io.EOF (fixed? then turn this test around)", err)
		}
		concludedOK(t, tg)
		faultsFired(t, tg, "connection closed before the event")
	})
}

// faultsFired asserts that the plan fired exactly once, as detail.
func faultsFired(t *testing.T, tg *target, detail string) {
	t.Helper()
	var log []faults.Record
	if tg.srv != nil {
		log = tg.srv.Faults()
	} else {
		log = tg.in.Log()
	}
	if len(log) != 1 || log[0].Detail != detail {
		t.Errorf("faults = %v, want one %q", log, detail)
	}
}
