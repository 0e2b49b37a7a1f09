package qmptest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jobfsm/jobfsm/faults"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
	"github.com/jobfsm/jobfsm/sim"
)

// Options configure a Server. The zero value is a fault-free server on the
// virtual clock that fails the test on a contract violation.
type Options struct {
	// Faults is the fault plan (nil: none).
	Faults *faults.Plan
	// Seed is the simulator's tie-break seed.
	Seed uint64
	// QEMU is the QEMU version the fake speaks (zero: fsm.DefaultVersion,
	// 7.2), as `jobsim qmp --qemu`.
	QEMU fsm.Version
	// WallClock makes virtual time follow the wall clock, as in QEMU;
	// by default time jumps ahead whenever every job waits on time.
	WallClock bool
	// TestCommands enables jobsim's x-jobsim-test-job command.
	TestCommands bool
	// ReportOnly keeps contract violations for Violations instead of
	// failing the test (for tests that demonstrate a client's bug).
	ReportOnly bool
}

// Server is a running fake QEMU.
type Server struct {
	// Path is the Unix socket clients connect to; every connection is a
	// new monitor.
	Path string
	// Version is the QEMU version the server speaks, e.g. "7.2.0".
	Version string

	t      testing.TB
	srv    *qmp.Server
	in     *faults.Injector
	check  *checker
	stop   context.CancelFunc
	done   chan error
	mu     sync.Mutex
	report bool
}

// NewServer starts a server for the duration of the test.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	so := qmp.ServerOptions{
		Options: qmp.Options{Seed: opts.Seed, Version: opts.QEMU, TestCommands: opts.TestCommands},
		Clock:   qmp.ClockVirtual,
	}
	if opts.WallClock {
		so.Clock = qmp.ClockWall
	}
	s := &Server{
		Path:   filepath.Join(t.TempDir(), "qmp.sock"),
		t:      t,
		srv:    qmp.NewServer(so),
		in:     faults.New(opts.Faults),
		check:  newChecker(),
		done:   make(chan error, 1),
		report: opts.ReportOnly,
	}
	s.in.Observe = s.check.observe
	s.in.Restart = func() { _ = s.srv.Restart() }
	d := s.srv.Dispatcher() // before Run: the loop is not running yet
	s.in.Arm(d)
	d.Subscribe(func(e sim.Event) { s.check.produced(s.in.Mark(), e) })
	s.Version = version(d)
	l, err := net.Listen("unix", s.Path)
	if err != nil {
		t.Fatalf("qmptest: listen on %s: %v", s.Path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- s.srv.Run(ctx, false) }()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.srv.ServeUnix(s.in.WrapListener(l), nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		<-served
		if v := s.check.violations(s.in.Log()); len(v) > 0 && !s.report {
			t.Errorf("qmptest: the client broke the client contract (spec/client-contract.md):\n%s", s.Report())
		}
	})
	return s
}

// version reads the greeting's version from a dispatcher not yet running.
func version(d *qmp.Dispatcher) string {
	sess := d.Connect()
	defer sess.Close()
	var g struct {
		QMP struct {
			Version struct {
				Qemu struct{ Major, Minor, Micro int }
			}
		}
	}
	for _, line := range sess.Take() {
		if json.Unmarshal(line, &g) == nil {
			break
		}
	}
	v := g.QMP.Version.Qemu
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}

// Error is a command's QMP error.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return e.Class + ": " + e.Desc }

// Exec runs one QMP command on a side channel that the client does not
// see (no contract check, no faults) and returns its "return" value: how a
// test sets up nodes, images and bitmaps or changes state behind the
// client's back. A QMP error is returned as *Error.
func (s *Server) Exec(command string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	err = s.srv.Do(func(d *qmp.Dispatcher) {
		sess := d.Connect()
		sess.HandleLine([]byte(`{"execute": "qmp_capabilities"}`))
		sess.HandleLine(line)
		out = sess.Take()
		sess.Close()
	})
	if err != nil {
		return nil, err
	}
	return answer(out)
}

// answer picks the command's answer: the second response in out (the first
// is qmp_capabilities').
func answer(out [][]byte) (json.RawMessage, error) {
	n := 0
	for _, l := range out {
		var r struct {
			Return json.RawMessage `json:"return"`
			Error  *Error          `json:"error"`
		}
		if json.Unmarshal(l, &r) != nil || (r.Return == nil && r.Error == nil) {
			continue
		}
		n++
		if n < 2 {
			continue
		}
		if r.Error != nil {
			return nil, r.Error
		}
		return r.Return, nil
	}
	return nil, errors.New("qmptest: no answer")
}

// MustExec is Exec that fails the test on an error.
func (s *Server) MustExec(t testing.TB, command string, args any) json.RawMessage {
	t.Helper()
	r, err := s.Exec(command, args)
	if err != nil {
		t.Fatalf("qmptest: %s: %v", command, err)
	}
	return r
}

// Do runs fn on the server's loop with the dispatcher: the ground truth
// (d.Jobs and d.QueryJobs, the job manager; d.Graph(), the block graph) without racing it.
func (s *Server) Do(fn func(d *qmp.Dispatcher)) error { return s.srv.Do(fn) }

// Jobs is query-jobs as the simulator knows it now.
func (s *Server) Jobs() []sim.JobInfo {
	var out []sim.JobInfo
	_ = s.srv.Do(func(d *qmp.Dispatcher) { out = d.QueryJobs() })
	return out
}

// Restart restarts the daemon now (see qmp.Server.Restart).
func (s *Server) Restart() error { return s.srv.Restart() }

// Faults returns the faults that fired so far.
func (s *Server) Faults() []faults.Record { return s.in.Log() }

// Violations returns the contract violations in the traffic so far.
func (s *Server) Violations() []Violation { return s.check.violations(s.in.Log()) }

// Verdict is "ok", or the violations with the faults and the timeline.
func (s *Server) Verdict() string {
	if len(s.Violations()) == 0 {
		return "ok"
	}
	return s.Report()
}

// MustPlan parses a fault plan or fails the test.
func MustPlan(t testing.TB, plan string) *faults.Plan {
	t.Helper()
	p, err := faults.Parse([]byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
