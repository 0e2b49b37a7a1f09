package qmp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// hang bounds a wait that succeeds in microseconds when the code is right;
// reaching it means the server is stuck, not slow.
const hang = 30 * time.Second

// pipeClient is one monitor connected over net.Pipe, whose writes return
// only once the server read them.
type pipeClient struct {
	conn  net.Conn
	lines chan string
}

func attachPipe(srv *Server) *pipeClient {
	a, b := net.Pipe()
	srv.Attach(b, b, b)
	c := &pipeClient{conn: a, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(a)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

func (c *pipeClient) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, msg+"\n"); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
}

// until returns the lines up to and including the first containing want.
func (c *pipeClient) until(t *testing.T, want string) []string {
	t.Helper()
	var got []string
	timeout := time.After(hang)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("connection closed before a line containing %q; got %q", want, got)
			}
			got = append(got, l)
			if strings.Contains(l, want) {
				return got
			}
		case <-timeout:
			t.Fatalf("no line containing %q after %v (server stuck); got %q", want, hang, got)
		}
	}
}

func startServer(t *testing.T, opts ServerOptions) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	srv := NewServer(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, false) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, cancel, done
}

// TestUnthrottledBackupYieldsAndSIGTERMCancels: a full backup without a
// speed limit between 64 GiB null-co nodes runs on one virtual instant, so a
// loop that settles everything due before looking at its clients answers
// nothing until the copy ends. The loop bounds its work per look, so
// query-jobs sees the job running; ending the context (SIGTERM) then
// cancels it with the events qemu-storage-daemon 7.2 emits on SIGTERM
// (measured: drain's "paused", then "running", "aborting",
// BLOCK_JOB_CANCELLED, "concluded", "null"), to every monitor.
func TestUnthrottledBackupYieldsAndSIGTERMCancels(t *testing.T) {
	srv, cancel, done := startServer(t, ServerOptions{Clock: ClockVirtual})
	a, b := attachPipe(srv), attachPipe(srv)
	for _, c := range []*pipeClient{a, b} {
		c.until(t, `"QMP"`)
		c.send(t, `{"execute":"qmp_capabilities"}`)
		c.until(t, `"return"`)
	}
	for _, cmd := range []string{
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s","size":68719476736}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"t","size":68719476736}}`,
		`{"execute":"blockdev-backup","arguments":{"job-id":"j","device":"s","target":"t","sync":"full"}}`,
	} {
		a.send(t, cmd)
		a.until(t, `"return"`)
	}
	a.send(t, `{"execute":"query-jobs","id":"q"}`)
	got := a.until(t, `"id": "q"`)
	if q := got[len(got)-1]; !strings.Contains(q, `"status": "running"`) {
		t.Fatalf("query-jobs during an unthrottled 64 GiB backup: %s (the loop ran the whole copy before answering)", q)
	}
	cancel()
	want := []string{`"paused"`, `"running"`, `"aborting"`, `BLOCK_JOB_CANCELLED`, `"concluded"`, `"null"`}
	for name, c := range map[string]*pipeClient{"a": a, "b": b} {
		var seq []string
		for l := range c.lines {
			for _, w := range want {
				if strings.Contains(l, w) && strings.Contains(l, `"j"`) {
					seq = append(seq, w)
				}
			}
		}
		// Earlier events of the run (running at start) come first; the
		// shutdown's six are the tail.
		if len(seq) < len(want) || strings.Join(seq[len(seq)-len(want):], " ") != strings.Join(want, " ") {
			t.Errorf("monitor %s: job events end %v, want %v", name, seq, want)
		}
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	done <- nil // for the cleanup
}

// floodReader serves size bytes of query-jobs requests and counts what was
// read; exhausted is closed when the server read all of it.
type floodReader struct {
	size      int
	read      atomic.Int64
	pending   []byte
	n         int
	exhausted chan struct{}
}

func (f *floodReader) Read(p []byte) (int, error) {
	if int(f.read.Load()) >= f.size {
		select {
		case <-f.exhausted:
		default:
			close(f.exhausted)
		}
		// Then block like a client that keeps its connection open.
		select {}
	}
	if len(f.pending) == 0 {
		f.n++
		f.pending = []byte(fmt.Sprintf(`{"execute":"query-jobs","id":%d}`+"\n", f.n))
	}
	k := copy(p, f.pending)
	f.pending = f.pending[k:]
	f.read.Add(int64(k))
	return k, nil
}

// blockedWriter never completes a write until released.
type blockedWriter struct{ release chan struct{} }

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, io.ErrClosedPipe
}

// TestSilentClientIsThrottled: a client that sends requests and never reads
// its replies is read only until MaxUnreadOutput bytes of replies wait for
// it (QEMU stops reading such a client too); it never reads the whole
// 8 MiB flood into memory.
func TestSilentClientIsThrottled(t *testing.T) {
	srv := NewServer(ServerOptions{Clock: ClockVirtual})
	throttled := make(chan struct{}, 1)
	srv.onThrottle = func() {
		select {
		case throttled <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, false) }()
	w := &blockedWriter{release: make(chan struct{})}
	flood := &floodReader{size: 8 << 20, exhausted: make(chan struct{})}
	// The first request is qmp_capabilities-less query-jobs: each gets the
	// negotiation error, a reply of known size.
	srv.Attach(flood, w, nil)
	select {
	case <-throttled:
	case <-flood.exhausted:
		t.Fatalf("the server read the whole %d-byte flood of a client that reads nothing", flood.size)
	case <-time.After(hang):
		t.Fatal("neither throttled nor exhausted: server stuck")
	}
	// Each reply is the negotiation error (101 bytes with its newline) and
	// each request at most 40 bytes; the reader stops after the reply
	// that passes MaxUnreadOutput, plus what its decoder buffered.
	reply := len(`{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}` + "\n")
	maxRead := int64((MaxUnreadOutput/reply+2)*40 + 64<<10)
	if r := flood.read.Load(); r > maxRead {
		t.Errorf("read %d bytes before throttling, want at most %d", r, maxRead)
	}
	close(w.release)
	cancel()
	<-done
}

// TestClosingSilentClientsDoNotStallOthers: three clients that never read
// their replies close their input; the loop hands their connections to
// their writers and goes on, so another monitor is answered at once (the
// old loop waited up to 2 s per client for their output to drain).
func TestClosingSilentClientsDoNotStallOthers(t *testing.T) {
	srv, _, _ := startServer(t, ServerOptions{Clock: ClockVirtual})
	var writers []*blockedWriter
	defer func() {
		for _, w := range writers {
			close(w.release)
		}
	}()
	for i := 0; i < 3; i++ {
		w := &blockedWriter{release: make(chan struct{})}
		writers = append(writers, w)
		srv.Attach(strings.NewReader(`{"execute":"qmp_capabilities"}`+strings.Repeat(`{"execute":"query-jobs"}`, 100)), w, nil)
	}
	b := attachPipe(srv)
	b.until(t, `"QMP"`)
	b.send(t, `{"execute":"qmp_capabilities"}`)
	b.until(t, `"return"`)
	start := time.Now()
	for i := 0; i < 20; i++ {
		b.send(t, fmt.Sprintf(`{"execute":"query-jobs","id":%d}`, i))
		b.until(t, fmt.Sprintf(`"id": %d`, i))
	}
	// A stall is seconds; the answers take microseconds. The bound only
	// tells a stalled loop from a working one.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("20 query-jobs took %v while silent clients closed: the loop waited for them", d)
	}
}

// TestBeforeNegotiationEveryCommandIsRefused: QEMU 7.2 answers every
// command but qmp_capabilities with the negotiation error before
// negotiation, known or not (measured on qemu-storage-daemon).
func TestBeforeNegotiationEveryCommandIsRefused(t *testing.T) {
	d := NewDispatcher(Options{})
	s := d.Connect()
	s.Take()
	s.HandleLine([]byte(`{"execute":"query-jobs"}{"execute":"foo","id":1}`))
	want := `{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}` + "\n" +
		`{"id": 1, "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}` + "\n"
	var got bytes.Buffer
	for _, l := range s.Take() {
		got.Write(l)
		got.WriteByte('\n')
	}
	if got.String() != want {
		t.Errorf("got\n%swant\n%s", got.String(), want)
	}
}

// emfileListener fails its first accepts with EMFILE, as accept(2) does
// when the process has no descriptor left.
type emfileListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptSurvivesEMFILE: after accepts fail for want of descriptors the
// server keeps accepting, and says so once.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	path := t.TempDir() + "/s"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, _ := startServer(t, ServerOptions{Clock: ClockVirtual})
	var logs atomic.Int32
	l := &emfileListener{Listener: ln, fails: 3}
	served := make(chan error, 1)
	go func() {
		served <- srv.ServeUnix(l, func(string, ...any) { logs.Add(1) })
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(hang))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, `"QMP"`) {
		t.Fatalf("no greeting after EMFILE: %q, %v", line, err)
	}
	if n := logs.Load(); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
	select {
	case err := <-served:
		t.Errorf("ServeUnix returned %v", err)
	default:
	}
}

// TestQuitCancelsJobsBeforeItsReturn: quit runs the same cleanup as
// SIGTERM, and qemu-storage-daemon 7.2 writes the cancelled job's events
// before quit's return (measured with a speed-limited backup).
func TestQuitCancelsJobsBeforeItsReturn(t *testing.T) {
	d := NewDispatcher(Options{})
	s := d.Connect()
	s.HandleLine([]byte(`{"execute":"qmp_capabilities"}
{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s","size":1073741824}}
{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"t","size":1073741824}}
{"execute":"blockdev-backup","arguments":{"job-id":"j0","device":"s","target":"t","sync":"full","speed":1000000}}`))
	s.Take()
	d.m.Advance(300_000_000)
	s.Take()
	s.HandleLine([]byte(`{"execute":"quit"}`))
	var got []string
	for _, l := range s.Take() {
		str := string(l)
		if i := strings.Index(str, `"event"`); i >= 0 {
			str = str[i:]
		}
		got = append(got, str)
	}
	want := []string{
		`"event": "JOB_STATUS_CHANGE", "data": {"status": "paused", "id": "j0"}}`,
		`"event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "j0"}}`,
		`"event": "JOB_STATUS_CHANGE", "data": {"status": "aborting", "id": "j0"}}`,
		`"event": "BLOCK_JOB_CANCELLED", "data": {"device": "j0", "len": 1073741824, "offset": 1048576, "speed": 1000000, "type": "backup"}}`,
		`"event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "j0"}}`,
		`"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "j0"}}`,
		`{"return": {}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after quit:\n%s\nwant (QEMU 7.2)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type closeRecorder struct{ closed atomic.Bool }

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// TestOverflowingConnectionIsClosed: a connection that reads nothing while
// other monitors' events pile up for it is closed once its unread output
// passes MaxQueuedOutput, and what was queued is dropped (deviation D16).
func TestOverflowingConnectionIsClosed(t *testing.T) {
	w := &blockedWriter{release: make(chan struct{})}
	defer close(w.release)
	rec := &closeRecorder{}
	c := &conn{w: w, closer: rec, flushed: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.writer()
	line := []byte(strings.Repeat("e", 1023))
	pushed := 0
	for pushed <= MaxQueuedOutput+1024 && !rec.closed.Load() {
		c.push([][]byte{line})
		pushed += len(line) + 1
	}
	if !rec.closed.Load() {
		t.Fatalf("%d bytes queued for a connection that reads nothing and it is still open", pushed)
	}
	if pushed <= MaxQueuedOutput {
		t.Errorf("closed after only %d bytes, before MaxQueuedOutput", pushed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.overflowed || !c.closing || len(c.queue) != 0 {
		t.Errorf("overflowed %v closing %v queue %d lines", c.overflowed, c.closing, len(c.queue))
	}
}
