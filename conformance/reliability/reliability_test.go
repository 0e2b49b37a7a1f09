package reliability

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// floodSilently writes query-jobs requests to conn until a write blocks
// for good (the server stopped reading), never reading a reply; written
// counts the bytes the kernel and the server took.
func floodSilently(conn net.Conn, written *atomic.Int64, stop chan struct{}) {
	msg := []byte(strings.Repeat(`{"execute":"query-jobs"}`+"\n", 170)) // ~4 KiB
	for {
		select {
		case <-stop:
			return
		default:
		}
		_ = conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := conn.Write(msg)
		written.Add(int64(n))
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
	}
}

// silentFloodPeriod is how long the silent clients flood while another
// monitor measures (RELIABILITY_FLOOD overrides, e.g. 60s for the RSS
// figure of the issue).
func silentFloodPeriod(t *testing.T) time.Duration {
	if v := os.Getenv("RELIABILITY_FLOOD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RELIABILITY_FLOOD=%q: %v", v, err)
		}
		return d
	}
	return 3 * time.Second
}

// TestSilentClients: 1 and 5 clients flood requests and never read their
// replies. Another monitor keeps being answered (no stall: the old server
// held it 2 s per silent client), the server's memory stays flat (the old
// one grew ~7 MB/s), and a silent client can push only a bounded amount
// before the server stops reading it (QEMU's figure is measured alongside).
func TestSilentClients(t *testing.T) {
	period := silentFloodPeriod(t)
	for _, n := range []int{1, 5} {
		t.Run(fmt.Sprintf("%d silent", n), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			srv := startJobsim(t, sock, 0)
			probe := dial(t, sock)
			probe.negotiate()
			rss0 := rss(t, srv.cmd.Process.Pid)
			stop := make(chan struct{})
			defer close(stop)
			counts := make([]*atomic.Int64, n)
			for i := range counts {
				counts[i] = new(atomic.Int64)
				c := dial(t, sock)
				go floodSilently(c.conn, counts[i], stop)
			}
			var lat []time.Duration
			end := time.Now().Add(period)
			for time.Now().Before(end) {
				t0 := time.Now()
				mustOK(t, probe.cmd(`{"execute":"query-jobs"}`))
				lat = append(lat, time.Since(t0))
			}
			rss1 := rss(t, srv.cmd.Process.Pid)
			var taken []int64
			for _, c := range counts {
				taken = append(taken, c.Load())
			}
			figure(t, "%d silent clients for %v: %d query-jobs on another monitor, latency p50 %v p99 %v max %v; RSS %d -> %d KiB; bytes each silent client got in %v",
				n, period, len(lat), percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1), rss0, rss1, taken)
			// A stall is seconds; a working loop answers in microseconds
			// to milliseconds on a loaded machine.
			if m := percentile(lat, 1); m > time.Second {
				t.Errorf("another monitor waited %v for query-jobs: the loop stalled", m)
			}
			// The old server grew 28 MB in 3 s here; the bound leaves room
			// for the runtime's warm-up (about 5 MB).
			if grow := rss1 - rss0; grow > 16<<10 {
				t.Errorf("RSS grew by %d KiB in %v under silent clients", grow, period)
			}
			for i, b := range taken {
				// Kernel socket buffers (a few hundred KiB) plus what the
				// server read before MaxUnreadOutput of replies piled up
				// (measured: 374-400 KB, the same after 3 s and 60 s; the
				// old server had taken 2.4 MB after 3 s).
				if b > 1<<20 {
					t.Errorf("silent client %d pushed %d bytes: the server kept reading it", i, b)
				}
			}
		})
	}
}

// TestSilentClientQEMU: the same silent client against
// qemu-storage-daemon, for the figure QEMU gives (bytes taken before it
// stops reading).
func TestSilentClientQEMU(t *testing.T) {
	haveQEMU(t)
	dir := t.TempDir()
	srv := startQEMU(t, filepath.Join(dir, "m0"), filepath.Join(dir, "m1"))
	_ = srv
	silent := dial(t, filepath.Join(dir, "m0"))
	probe := dial(t, filepath.Join(dir, "m1"))
	probe.negotiate()
	var taken atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go floodSilently(silent.conn, &taken, stop)
	var lat []time.Duration
	end := time.Now().Add(silentFloodPeriod(t))
	for time.Now().Before(end) {
		t0 := time.Now()
		mustOK(t, probe.cmd(`{"execute":"query-jobs"}`))
		lat = append(lat, time.Since(t0))
	}
	figure(t, "qemu-storage-daemon, 1 silent client: other monitor p50 %v p99 %v; silent client pushed %d bytes",
		percentile(lat, 0.5), percentile(lat, 0.99), taken.Load())
}

// TestDescriptorExhaustion: with RLIMIT_NOFILE 16 or 24 the server runs out
// of descriptors in accept (it says so once on stderr), and once clients
// go away it accepts and serves again.
func TestDescriptorExhaustion(t *testing.T) {
	for _, limit := range []int{16, 24} {
		t.Run(fmt.Sprintf("nofile %d", limit), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			srv := startJobsim(t, sock, limit)
			var conns []net.Conn
			reported := false
			for i := 0; i < 2*limit && !reported; i++ {
				c, err := net.Dial("unix", sock)
				if err != nil {
					t.Fatalf("connect %d: %v", i, err)
				}
				conns = append(conns, c)
				// Drain whatever the server logged so far.
				for more := true; more; {
					select {
					case l := <-srv.stderr:
						if strings.Contains(l, "accept:") && strings.Contains(l, "too many open files") {
							reported = true
						}
					default:
						more = false
					}
				}
			}
			if !reported {
				// The last connections may still be in the backlog:
				// the report comes when the server tries them.
				select {
				case l := <-srv.stderr:
					reported = strings.Contains(l, "too many open files")
				case <-time.After(stuck):
				}
			}
			if !reported {
				t.Fatalf("no EMFILE report after %d connections with RLIMIT_NOFILE %d", len(conns), limit)
			}
			for _, c := range conns {
				c.Close()
			}
			c := dial(t, sock)
			c.negotiate()
			mustOK(t, c.cmd(`{"execute":"query-jobs"}`))
			for more := true; more; {
				select {
				case l := <-srv.stderr:
					if strings.Contains(l, "accept:") {
						t.Errorf("EMFILE reported again while it persisted: %q", l)
					}
				default:
					more = false
				}
			}
			figure(t, "RLIMIT_NOFILE %d: %d connections before EMFILE was reported; served again after they closed", limit, len(conns))
		})
	}
}

// TestStaleSocket: the socket file left by kill -9 is replaced by the next
// server; a third server refuses the path while the second is alive.
// qemu-storage-daemon also starts on a stale path (shown alongside).
func TestStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	first := startJobsim(t, sock, 0)
	_ = first.cmd.Process.Signal(syscall.SIGKILL)
	first.waitExit(t)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("kill -9 left no socket file (%v): nothing to test", err)
	}
	second := startJobsim(t, sock, 0)
	c := dial(t, sock)
	c.negotiate()
	third := startProcess(t, exec.Command(jobsimBin, "qmp", "--socket", sock), sock)
	if code := third.waitExit(t); code != 3 {
		t.Errorf("a server on a live socket exited %d, want 3", code)
	}
	found := false
	for more := true; more; {
		select {
		case l := <-third.stderr:
			found = found || strings.Contains(l, "a server is already listening on "+sock)
		default:
			more = false
		}
	}
	if !found {
		t.Error("no clear error for a live socket")
	}
	mustOK(t, c.cmd(`{"execute":"query-jobs"}`))
	_ = second
	if _, err := exec.LookPath("qemu-storage-daemon"); err == nil {
		qs := filepath.Join(t.TempDir(), "q")
		q := startQEMU(t, qs)
		_ = q.cmd.Process.Signal(syscall.SIGKILL)
		q.waitExit(t)
		q2 := startQEMU(t, qs)
		qc := dial(t, qs)
		qc.negotiate()
		figure(t, "qemu-storage-daemon started on the stale socket of a killed one and answers")
		_ = q2
	}
}

// jobSetup is one job type's setup: the commands before the job starts and
// the command that starts it (speed-limited so the job is still running
// when the signal comes).
type jobSetup struct {
	name  string
	setup func(t *testing.T, dir string) []string
}

func nullNodes(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"%s","size":67108864}}`, n))
	}
	return out
}

// qcow2Chain creates base <- mid <- top qcow2 images of 64 MiB with
// qemu-img and returns the blockdev-add commands for them.
func qcow2Chain(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	prev := ""
	for _, n := range []string{"base", "mid", "top"} {
		p := filepath.Join(dir, n+".qcow2")
		args := []string{"create", "-q", "-f", "qcow2"}
		if prev != "" {
			args = append(args, "-F", "qcow2", "-b", filepath.Join(dir, prev+".qcow2"))
		}
		args = append(args, p, "64M")
		if o, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, o)
		}
		// Data below the top, so commit and stream have 4 MiB to copy
		// (at 64 KiB/s: still running when the signal comes).
		if n != "top" {
			if o, err := exec.Command("qemu-io", "-f", "qcow2", "-c", "write -q -P 0x5a 0 4M", p).CombinedOutput(); err != nil {
				t.Fatalf("qemu-io write %s: %v\n%s", p, err, o)
			}
		}
		cmd := fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"%s","file":{"driver":"file","filename":"%s"}`, n, p)
		if prev != "" {
			cmd += fmt.Sprintf(`,"backing":"%s"`, prev)
		}
		out = append(out, cmd+"}}")
		prev = n
	}
	return out
}

var jobTypes = []jobSetup{
	{"backup", func(t *testing.T, dir string) []string {
		return append(nullNodes("s", "d"), `{"execute":"blockdev-backup","arguments":{"job-id":"j","device":"s","target":"d","sync":"full","speed":65536}}`)
	}},
	{"mirror", func(t *testing.T, dir string) []string {
		return append(nullNodes("s", "d"), `{"execute":"blockdev-mirror","arguments":{"job-id":"j","device":"s","target":"d","sync":"full","speed":65536}}`)
	}},
	{"commit", func(t *testing.T, dir string) []string {
		haveQEMU(t)
		return append(qcow2Chain(t, dir), `{"execute":"block-commit","arguments":{"job-id":"j","device":"top","top-node":"mid","base-node":"base","speed":65536}}`)
	}},
	{"stream", func(t *testing.T, dir string) []string {
		haveQEMU(t)
		return append(qcow2Chain(t, dir), `{"execute":"block-stream","arguments":{"job-id":"j","device":"top","base-node":"base","speed":65536}}`)
	}},
}

// TestSignalsDuringJobs: SIGTERM and SIGINT at a seeded point (after 0 to
// 9 query-jobs round trips once the job runs) during each job type. Both
// monitors see the job cancelled as qemu-storage-daemon reports it
// ("aborting", BLOCK_JOB_CANCELLED, "concluded", "null" at the end), and
// the server exits 0.
func TestSignalsDuringJobs(t *testing.T) {
	r := rng(seed(t))
	for _, jt := range jobTypes {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			polls := r.IntN(10)
			t.Run(fmt.Sprintf("%s %s after %d polls", jt.name, signalName(sig), polls), func(t *testing.T) {
				dir := t.TempDir()
				cmds := jt.setup(t, dir)
				sock := filepath.Join(dir, "s")
				srv := startJobsim(t, sock, 0)
				a, b := dial(t, sock), dial(t, sock)
				a.negotiate()
				b.negotiate()
				for _, c := range cmds {
					mustOK(t, a.cmd(c))
				}
				for i := 0; i < polls; i++ {
					mustOK(t, a.cmd(`{"execute":"query-jobs"}`))
				}
				t0 := time.Now()
				_ = srv.cmd.Process.Signal(sig)
				want := "aborting BLOCK_JOB_CANCELLED concluded null"
				for name, c := range map[string]*client{"a": a, "b": b} {
					ev := c.jobEvents("j")
					if len(ev) < 4 || strings.Join(ev[len(ev)-4:], " ") != want {
						t.Errorf("monitor %s: job events %v, want them to end %s", name, ev, want)
					}
				}
				if code := srv.waitExit(t); code != 0 {
					t.Errorf("exit code %d after %s, want 0 (as qemu-storage-daemon)", code, signalName(sig))
				}
				figure(t, "%s during %s: exited %v after the signal", signalName(sig), jt.name, time.Since(t0).Round(time.Millisecond))
			})
		}
	}
}

// TestSIGTERMWithManyJobs: the time from SIGTERM to exit with N
// speed-limited backups running, every one cancelled with its events.
func TestSIGTERMWithManyJobs(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("%d jobs", n), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			srv := startJobsim(t, sock, 0)
			a := dial(t, sock)
			a.negotiate()
			for i := 0; i < n; i++ {
				for _, c := range nullNodes(fmt.Sprintf("s%d", i), fmt.Sprintf("d%d", i)) {
					mustOK(t, a.cmd(c))
				}
				mustOK(t, a.cmd(fmt.Sprintf(`{"execute":"blockdev-backup","arguments":{"job-id":"j%d","device":"s%d","target":"d%d","sync":"full","speed":65536}}`, i, i, i)))
			}
			t0 := time.Now()
			_ = srv.cmd.Process.Signal(syscall.SIGTERM)
			cancelled := 0
			for m := range a.lines {
				if m["event"] == "BLOCK_JOB_CANCELLED" {
					cancelled++
				}
			}
			code := srv.waitExit(t)
			d := time.Since(t0)
			if cancelled != n || code != 0 {
				t.Errorf("%d BLOCK_JOB_CANCELLED of %d jobs, exit %d", cancelled, n, code)
			}
			figure(t, "SIGTERM with %d running backups: exit after %v", n, d.Round(time.Millisecond))
		})
	}
}

// TestSIGTERMQEMU: what qemu-storage-daemon emits on SIGTERM with a
// speed-limited backup running, and how long it takes to exit.
func TestSIGTERMQEMU(t *testing.T) {
	haveQEMU(t)
	dir := t.TempDir()
	srv := startQEMU(t, filepath.Join(dir, "m0"))
	a := dial(t, filepath.Join(dir, "m0"))
	a.negotiate()
	for _, c := range jobTypes[0].setup(t, dir) {
		mustOK(t, a.cmd(c))
	}
	t0 := time.Now()
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	ev := a.jobEvents("j")
	code := srv.waitExit(t)
	figure(t, "qemu-storage-daemon SIGTERM during backup: events %v, exit %d after %v", ev, code, time.Since(t0).Round(time.Millisecond))
	want := "aborting BLOCK_JOB_CANCELLED concluded null"
	if len(ev) < 4 || strings.Join(ev[len(ev)-4:], " ") != want {
		t.Errorf("QEMU's events changed: %v (the jobsim cases above assume %s)", ev, want)
	}
}

// TestUnthrottledHugeBackup: a full backup without a speed limit between
// 1 TiB null-co nodes. Commands are answered meanwhile (the old loop held
// them 15-18 s) and SIGTERM ends it with its events (the old server
// ignored SIGTERM until the copy ended).
func TestUnthrottledHugeBackup(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	srv := startJobsim(t, sock, 0)
	a := dial(t, sock)
	a.negotiate()
	for _, n := range []string{"s", "d"} {
		mustOK(t, a.cmd(fmt.Sprintf(`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"%s","size":1099511627776}}`, n)))
	}
	mustOK(t, a.cmd(`{"execute":"blockdev-backup","arguments":{"job-id":"j","device":"s","target":"d","sync":"full"}}`))
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		t0 := time.Now()
		m := a.cmd(`{"execute":"query-jobs"}`)
		lat = append(lat, time.Since(t0))
		if l, _ := m["return"].([]any); len(l) != 1 {
			t.Fatalf("query-jobs %d: %v (the backup should still run)", i, m)
		}
	}
	t0 := time.Now()
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	ev := a.jobEvents("j")
	code := srv.waitExit(t)
	figure(t, "unthrottled 1 TiB backup: query-jobs p50 %v p99 %v max %v; SIGTERM to exit %v",
		percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1), time.Since(t0).Round(time.Millisecond))
	if m := percentile(lat, 1); m > time.Second {
		t.Errorf("query-jobs waited %v during the copy", m)
	}
	want := "aborting BLOCK_JOB_CANCELLED concluded null"
	if len(ev) < 4 || strings.Join(ev[len(ev)-4:], " ") != want || code != 0 {
		t.Errorf("after SIGTERM: events %v, exit %d", ev, code)
	}
}
