package qmp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestResetEndsJobsAndNonPersistentBitmapsKeepsNodes(t *testing.T) {
	d := NewDispatcher(Options{TestCommands: true})
	var hooked []string
	d.OnCommand(func(name string, args *Object, err error) { hooked = append(hooked, name) })
	s := d.Connect()
	s.HandleLine([]byte(`{"execute": "qmp_capabilities"}
{"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "src", "size": 1073741824}}
{"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "dst", "size": 1073741824}}
{"execute": "block-dirty-bitmap-add", "arguments": {"node": "src", "name": "bm0"}}
{"execute": "blockdev-backup", "arguments": {"job-id": "b0", "device": "src", "target": "dst", "sync": "full", "speed": 1, "auto-dismiss": false}}`))
	d.m.Advance(1e9)
	if len(d.m.QueryJobs()) != 1 {
		t.Fatalf("setup: jobs = %+v", d.m.QueryJobs())
	}
	s.Take()
	now := d.m.Now()
	d.reset()
	if jobs := d.m.QueryJobs(); len(jobs) != 0 {
		t.Errorf("jobs after reset = %+v, want none", jobs)
	}
	if d.m.Now() < now {
		t.Errorf("virtual time went back from %d to %d", now, d.m.Now())
	}
	src := d.Graph().Node("src")
	if src == nil || d.Graph().Node("dst") == nil {
		t.Fatal("reset lost the nodes")
	}
	if bms := src.Bitmaps(); len(bms) != 0 {
		t.Errorf("src keeps %d bitmaps after reset, want none (bm0 was not persistent)", len(bms))
	}
	if out := s.Take(); len(out) != 0 {
		t.Errorf("the old monitor saw %q after the restart", out)
	}
	// A message the old monitor had in flight does not run on the new daemon.
	s.HandleLine([]byte(`{"execute": "blockdev-del", "arguments": {"node-name": "dst"}}`))
	if out := string(s.Take()[0]); !strings.Contains(out, "CommandNotFound") || d.Graph().Node("dst") == nil {
		t.Errorf("old monitor's command after restart: %s", out)
	}
	// The hooks run once per command, also after the reset re-registered
	// the test commands.
	hooked = nil
	s2 := d.Connect()
	s2.HandleLine([]byte(`{"execute": "qmp_capabilities"}
{"execute": "x-jobsim-test-job", "arguments": {"id": "t0"}}
{"execute": "query-jobs"}`))
	if got := strings.Join(hooked, " "); got != "qmp_capabilities x-jobsim-test-job query-jobs" {
		t.Errorf("hooks saw %q", got)
	}
}

func TestDoAfterTheServerStopped(t *testing.T) {
	srv := NewServer(ServerOptions{Clock: ClockVirtual})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, false) }()
	ran := false
	if err := srv.Do(func(d *Dispatcher) { ran = d != nil }); err != nil || !ran {
		t.Fatalf("Do on a running server: %v, ran %v", err, ran)
	}
	cancel()
	<-done
	if err := srv.Do(func(*Dispatcher) { t.Error("fn ran after the loop ended") }); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after stop = %v, want ErrStopped", err)
	}
}
