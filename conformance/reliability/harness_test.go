package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/internal/testseed"
)

// stuck bounds every wait on the server: reaching it means the server
// stopped answering, not that it was slow.
const stuck = 20 * time.Second

var jobsimBin string

func TestMain(m *testing.M) {
	if os.Getenv("JOBFSM_RELIABILITY") == "" {
		fmt.Println("reliability suite not run: set JOBFSM_RELIABILITY=1 (make reliability) to run it")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "jobsim-rel-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	jobsimBin = filepath.Join(dir, "jobsim")
	if out, err := exec.Command("go", "build", "-o", jobsimBin, "../../cmd/jobsim").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building jobsim: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// seed is the suite's fixed seed (RELIABILITY_SEED overrides it).
func seed(t *testing.T) uint64 { return testseed.Get(t, "RELIABILITY_SEED", 16) }

// server is a running `jobsim qmp --socket` (or qemu-storage-daemon) process.
type server struct {
	cmd    *exec.Cmd
	sock   string
	stderr chan string // lines after the listening announcement
	exited chan error
}

// startJobsim runs `jobsim qmp --socket` (under `sh -c 'ulimit -n N'` when
// nofile > 0) and waits for its listening line.
func startJobsim(t *testing.T, sock string, nofile int, extra ...string) *server {
	t.Helper()
	args := append([]string{"qmp", "--socket", sock}, extra...)
	var cmd *exec.Cmd
	if nofile > 0 {
		cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), jobsimBin}, args...)...)
	} else {
		cmd = exec.Command(jobsimBin, args...)
	}
	s := startProcess(t, cmd, sock)
	select {
	case l := <-s.stderr:
		if l != "jobsim qmp: listening on "+sock {
			t.Fatalf("first stderr line %q, want the listening announcement", l)
		}
	case err := <-s.exited:
		t.Fatalf("jobsim qmp exited before listening: %v", err)
	case <-time.After(stuck):
		t.Fatal("jobsim qmp did not announce its socket")
	}
	return s
}

func startProcess(t *testing.T, cmd *exec.Cmd, sock string) *server {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, sock: sock, stderr: make(chan string, 1024), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			select {
			case s.stderr <- sc.Text():
			default:
			}
		}
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return s
}

// waitExit waits for the process to end and returns its exit code.
func (s *server) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-s.exited:
		s.exited <- err
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(stuck):
		t.Fatal("the server did not exit")
	}
	return -1
}

// rss is the process's resident set in KiB (/proc/PID/status VmRSS).
func rss(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading RSS: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// client is one monitor connection.
type client struct {
	t     *testing.T
	conn  net.Conn
	lines chan map[string]any
	raw   chan string
}

func dial(t *testing.T, sock string) *client {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("connect %s: %v", sock, err)
	}
	c := &client{t: t, conn: conn, lines: make(chan map[string]any, 4096), raw: make(chan string, 4096)}
	go func() {
		sc := bufio.NewScanner(conn)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				c.lines <- m
			}
		}
		close(c.lines)
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// negotiate reads the greeting and sends qmp_capabilities.
func (c *client) negotiate() {
	c.t.Helper()
	c.expect(func(m map[string]any) bool { _, ok := m["QMP"]; return ok }, "greeting")
	c.cmd(`{"execute":"qmp_capabilities"}`)
}

// cmd sends a command and returns its answer (events before it are kept
// in events).
func (c *client) cmd(msg string) map[string]any {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, msg+"\n"); err != nil {
		c.t.Fatalf("send: %v", err)
	}
	return c.expect(func(m map[string]any) bool {
		_, r := m["return"]
		_, e := m["error"]
		return r || e
	}, "answer to "+msg)
}

// expect returns the first message for which match holds.
func (c *client) expect(match func(map[string]any) bool, what string) map[string]any {
	c.t.Helper()
	deadline := time.After(stuck)
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %s within %v: server stuck", what, stuck)
		}
	}
}

// jobEvents drains the connection until it closes and returns the job
// events (status names and BLOCK_JOB_* names) of job id, in order.
func (c *client) jobEvents(id string) []string {
	c.t.Helper()
	var out []string
	deadline := time.After(stuck)
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				return out
			}
			ev, _ := m["event"].(string)
			data, _ := m["data"].(map[string]any)
			switch {
			case ev == "JOB_STATUS_CHANGE" && data["id"] == id:
				out = append(out, data["status"].(string))
			case strings.HasPrefix(ev, "BLOCK_JOB_") && data["device"] == id:
				out = append(out, ev)
			}
		case <-deadline:
			c.t.Fatalf("connection not closed within %v after the signal", stuck)
		}
	}
}

func mustOK(t *testing.T, m map[string]any) {
	t.Helper()
	if _, ok := m["return"]; !ok {
		t.Fatalf("command failed: %v", m)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func rng(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s^0x5eed)) }

func haveQEMU(t *testing.T) {
	t.Helper()
	for _, b := range []string{"qemu-storage-daemon", "qemu-img"} {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing under CI (scripts/setup.sh installs it)", b)
			}
			t.Skipf("%s not installed: the QEMU half of this case needs it", b)
		}
	}
}

// startQEMU runs qemu-storage-daemon with one socket monitor per path and
// returns once they all listen. qemu-storage-daemon announces nothing, but
// it creates chardevs and monitors in command-line order and a socket
// server listens as soon as it is created: the greeting of one more
// monitor, on stdio and last on the line, says every socket before it
// listens. That monitor never leaves capabilities negotiation, so it gets
// no events; its stdin stays open for the daemon's life.
func startQEMU(t *testing.T, socks ...string) *server {
	t.Helper()
	var args []string
	for i, s := range socks {
		args = append(args, "--chardev", fmt.Sprintf("socket,id=m%d,path=%s,server=on,wait=off", i, s), "--monitor", fmt.Sprintf("m%d", i))
	}
	cmd := exec.Command("qemu-storage-daemon", append(args, "--chardev", "stdio,id=ready", "--monitor", "ready")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	greeted := make(chan error, 1)
	s := startProcess(t, cmd, socks[0])
	go func() {
		r := bufio.NewReader(stdout)
		_, err := r.ReadString('\n')
		greeted <- err
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case err := <-greeted:
		if err != nil {
			t.Fatalf("qemu-storage-daemon's stdio monitor did not greet: %v", err)
		}
	case err := <-s.exited:
		t.Fatalf("qemu-storage-daemon exited before listening: %v", err)
	case <-time.After(stuck):
		t.Fatal("qemu-storage-daemon did not listen")
	}
	return s
}

// figure logs a measured figure (a latency, an RSS, a time) when
// RELIABILITY_FIGURES is set (make reliability-figures): CI's output stays
// deterministic, the figures are one command away.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("RELIABILITY_FIGURES") != "" {
		t.Logf(format, args...)
	}
}

// signalName is for logs.
func signalName(s syscall.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}
