package qmptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// lines reads a connection's messages on a goroutine, so a client can wait
// for the next one or for a quiet period.
type lines struct {
	c  net.Conn
	ch chan []byte
}

func openLines(path string) (*lines, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	l := &lines{c: c, ch: make(chan []byte, 64)}
	go func() {
		defer close(l.ch)
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 4096)
		for {
			n, err := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				i := strings.IndexByte(string(buf), '\n')
				if i < 0 {
					break
				}
				l.ch <- append([]byte(nil), buf[:i]...)
				buf = buf[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	return l, nil
}

// quiet is how long the reference client waits for an event before it
// asks query-jobs: events are hints, the state is in the query.
const quiet = 50 * time.Millisecond

var errQuiet = errors.New("quiet")

func (l *lines) next(wait time.Duration) (reply, error) {
	select {
	case b, ok := <-l.ch:
		if !ok {
			return reply{}, net.ErrClosed
		}
		var r reply
		if err := json.Unmarshal(b, &r); err != nil {
			return reply{}, err
		}
		return r, nil
	case <-time.After(wait):
		return reply{}, errQuiet
	}
}

func (l *lines) cmd(name string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": name}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := l.c.Write(append(b, '\n')); err != nil {
		return nil, net.ErrClosed
	}
	for {
		r, err := l.next(10 * time.Second)
		if err != nil {
			return nil, err
		}
		if r.Event != "" || r.QMP != nil {
			continue
		}
		if r.Error != nil {
			return nil, r.Error
		}
		return r.Return, nil
	}
}

// referenceBackup is a client that follows the contract: it runs a backup
// with auto-dismiss off, treats events as hints, asks query-jobs when
// events stop or the connection comes back, and dismisses the job only
// after reading its outcome. It returns the outcome: "ok", the job's error
// text, or "lost" when the job is gone (a restarted daemon).
func referenceBackup(t *testing.T, path string) string {
	var l *lines
	connect := func() {
		var err error
		if l, err = openLines(path); err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { l.c.Close() })
		if _, err := l.cmd("qmp_capabilities", nil); err != nil {
			t.Fatalf("qmp_capabilities: %v", err)
		}
	}
	connect()
	_, startErr := l.cmd("blockdev-backup", backupArgs("b0", "src", "dst"))
	var qe *Error
	if errors.As(startErr, &qe) {
		t.Fatalf("blockdev-backup: %v", startErr)
	}
	for attempt := 0; attempt < 100; attempt++ {
		var r reply
		err := startErr
		startErr = nil
		if err == nil {
			r, err = l.next(quiet)
		}
		if errors.Is(err, net.ErrClosed) {
			connect() // and then ask: the events in between are lost
		}
		if err == nil && !(r.Event == "JOB_STATUS_CHANGE" && r.Data["id"] == "b0") {
			continue
		}
		raw, err := l.cmd("query-jobs", nil)
		if errors.Is(err, net.ErrClosed) {
			startErr = err
			continue
		}
		if err != nil {
			t.Fatalf("query-jobs: %v", err)
		}
		var jobs []struct {
			ID, Status string
			Error      *string
		}
		_ = json.Unmarshal(raw, &jobs)
		found := false
		for _, j := range jobs {
			if j.ID != "b0" {
				continue
			}
			found = true
			if j.Status != "concluded" {
				break
			}
			outcome := "ok"
			if j.Error != nil {
				outcome = *j.Error
			}
			if _, err := l.cmd("job-dismiss", map[string]any{"id": "b0"}); err != nil {
				t.Fatalf("job-dismiss: %v", err)
			}
			return outcome
		}
		if !found {
			return "lost"
		}
	}
	t.Fatal("no outcome after 100 rounds")
	return ""
}

func TestReferenceClientPassesEveryStandardPlan(t *testing.T) {
	want := map[string]string{"restart-before-completion": "lost", "read-error": "Input/output error"}
	setup := func(t *testing.T, srv *Server) { nullNodes(t, srv, 1<<20, "src", "dst") }
	RunPlans(t, StandardPlans("b0", "src"), Options{}, setup, func(t *testing.T, srv *Server, p NamedPlan) {
		w := want[p.Name]
		if w == "" {
			w = "ok"
		}
		if got := referenceBackup(t, srv.Path); got != w {
			t.Errorf("outcome %q, want %q", got, w)
		}
	})
}

// recorder is a testing.TB that keeps errors and cleanups instead of
// failing, so a test can check that qmptest fails a test.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Helper()          {}
func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func rules(vs []Violation) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Rule)
	}
	return strings.Join(s, " ")
}

func TestCheckerReportsC1AndC4OnABlindReconnect(t *testing.T) {
	rec := &recorder{TB: t}
	srv := NewServer(rec, Options{Faults: MustPlan(t, `{"rules": [{"close": {"before_event": "BLOCK_JOB_COMPLETED"}}]}`)})
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", backupArgs("b0", "src", "dst"))
	if err := cl.waitStatus("b0", "concluded"); err == nil {
		t.Fatal("the connection was not closed")
	}
	// Wrong: reconnect and dismiss without asking what happened.
	cl = dial(t, srv.Path)
	cl.must("job-dismiss", map[string]any{"id": "b0"})
	if got := rules(srv.Violations()); got != "C1 C4" {
		t.Errorf("violations = %q, want C1 C4:\n%s", got, srv.Report())
	}
	report := srv.Report()
	for _, want := range []string{"C1 (monitor 2", "C4 (monitor 2", "FAULT close", "fault rules[0] close monitor 1 BLOCK_JOB_COMPLETED b0: connection closed before the event", "[held back by a close]"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	rec.finish()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "broke the client contract") {
		t.Errorf("cleanup errors = %q, want one contract failure", rec.errs)
	}
}

// runningBackup is a report-only server with backup b0 running at speed 1
// (it stays running for the test's life) and a client that started it.
func runningBackup(t *testing.T) (*Server, *client) {
	t.Helper()
	srv := NewServer(t, Options{ReportOnly: true})
	nullNodes(t, srv, 1<<30, "src", "dst")
	cl := dial(t, srv.Path)
	args := backupArgs("b0", "src", "dst")
	args["speed"] = 1
	cl.must("blockdev-backup", args)
	if err := cl.waitStatus("b0", "running"); err != nil {
		t.Fatal(err)
	}
	return srv, cl
}

func TestCheckerReportsC3OnAVerbTheStatusForbids(t *testing.T) {
	srv, cl := runningBackup(t)
	_, err := cl.cmd("job-complete", map[string]any{"id": "b0"})
	if err == nil || err.Error() != "GenericError: Job 'b0' in state 'running' cannot accept command verb 'complete'" {
		t.Fatalf("job-complete: %v", err)
	}
	if got := rules(srv.Violations()); got != "C3" {
		t.Errorf("violations = %q, want C3", got)
	}
}

func TestCheckerReportsC5OnAutoDismiss(t *testing.T) {
	srv := NewServer(t, Options{ReportOnly: true})
	nullNodes(t, srv, 1<<20, "src", "dst")
	cl := dial(t, srv.Path)
	cl.must("blockdev-backup", map[string]any{"job-id": "b0", "device": "src", "target": "dst", "sync": "full"})
	if got := rules(srv.Violations()); got != "C5" {
		t.Errorf("violations = %q, want C5", got)
	}
}

func TestReportTimelineMarksRefusedCommands(t *testing.T) {
	srv, cl := runningBackup(t)
	if _, err := cl.cmd("block-job-set-speed", map[string]any{"device": "nosuch", "speed": 1}); err == nil {
		t.Fatal("block-job-set-speed on an unknown job succeeded")
	}
	report := srv.Report()
	for _, want := range []string{
		"> m1 blockdev-backup\n", // accepted: no mark
		"> m1 block-job-set-speed  FAILED  -- error: Block job 'nosuch' not found",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
