package qmptest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// client is a minimal line-based QMP client for these tests: it keeps
// every event it reads, in order.
type client struct {
	t      testing.TB
	c      net.Conn
	r      *bufio.Reader
	events []reply
}

func dial(t testing.TB, path string) *client {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	if _, err := cl.read(); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if _, err := cl.cmd("qmp_capabilities", nil); err != nil {
		t.Fatalf("qmp_capabilities: %v", err)
	}
	return cl
}

func (cl *client) read() (reply, error) {
	line, err := cl.r.ReadBytes('\n')
	if err != nil {
		return reply{}, err
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return reply{}, fmt.Errorf("bad line %q: %v", line, err)
	}
	return r, nil
}

// cmd sends a command and returns its answer (a QMP error as *Error);
// events read meanwhile are kept.
func (cl *client) cmd(name string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": name}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := cl.c.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	for {
		r, err := cl.read()
		if err != nil {
			return nil, err
		}
		switch {
		case r.Event != "":
			cl.events = append(cl.events, r)
		case r.Error != nil:
			return nil, r.Error
		default:
			return r.Return, nil
		}
	}
}

// must is cmd that fails the test on an error.
func (cl *client) must(name string, args any) json.RawMessage {
	cl.t.Helper()
	r, err := cl.cmd(name, args)
	if err != nil {
		cl.t.Fatalf("%s: %v", name, err)
	}
	return r
}

// waitStatus reads until job reaches status (JOB_STATUS_CHANGE), or the
// connection ends (the error).
func (cl *client) waitStatus(job, status string) error {
	for _, e := range cl.events {
		if e.Event == "JOB_STATUS_CHANGE" && e.Data["id"] == job && e.Data["status"] == status {
			return nil
		}
	}
	for {
		r, err := cl.read()
		if err != nil {
			return err
		}
		if r.Event == "" {
			continue
		}
		cl.events = append(cl.events, r)
		if r.Event == "JOB_STATUS_CHANGE" && r.Data["id"] == job && r.Data["status"] == status {
			return nil
		}
	}
}

// names lists the events read so far as "NAME job" or "status job".
func (cl *client) names() []string {
	var out []string
	for _, e := range cl.events {
		if e.Event == "JOB_STATUS_CHANGE" {
			out = append(out, fmt.Sprintf("%v %v", e.Data["status"], e.Data["id"]))
			continue
		}
		id := e.Data["device"]
		if id == nil {
			id = e.Data["id"]
		}
		out = append(out, fmt.Sprintf("%s %v", e.Event, id))
	}
	return out
}

// jobs is query-jobs.
func (cl *client) jobs() []struct {
	ID, Status string
	Error      *string
} {
	cl.t.Helper()
	var l []struct {
		ID, Status string
		Error      *string
	}
	if err := json.Unmarshal(cl.must("query-jobs", nil), &l); err != nil {
		cl.t.Fatal(err)
	}
	return l
}

// nullNodes adds two null-co nodes of size bytes on the side channel.
func nullNodes(t testing.TB, srv *Server, size int64, names ...string) {
	t.Helper()
	for _, n := range names {
		srv.MustExec(t, "blockdev-add", map[string]any{"driver": "null-co", "node-name": n, "size": size})
	}
}

func backupArgs(job, src, dst string) map[string]any {
	return map[string]any{"job-id": job, "device": src, "target": dst, "sync": "full", "auto-dismiss": false}
}

// TestServerSpeaksQEMU10: Options.QEMU picks the version the fake speaks;
// Debian 13's qemu-storage-daemon greets with 10.0.13.
func TestServerSpeaksQEMU10(t *testing.T) {
	srv := NewServer(t, Options{QEMU: fsm.QEMU10_0})
	if srv.Version != "10.0.13" {
		t.Errorf("Version = %q, want 10.0.13", srv.Version)
	}
}
