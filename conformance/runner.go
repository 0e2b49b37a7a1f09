package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
)

// Conn is one QMP connection as the runner sees it.
type Conn interface {
	// Send writes one command object.
	Send(cmd map[string]any) error
	// Recv returns the next message (greeting, response or event), decoded
	// with encoding/json (numbers as float64, as every JSON client sees
	// them), or an error once the deadline passes or nothing more can come.
	Recv(deadline time.Time) (map[string]any, error)
	Close() error
}

// Server starts one server for a scenario whose images are in dir.
type Server interface {
	Name() string
	Open(dir string) (Conn, error)
}

// ProtocolError is a broken exchange (timeout, closed stream, bad JSON).
type ProtocolError struct {
	Msg string
	// Timeout: the server did not answer in time (it is still there).
	Timeout bool
}

func (e *ProtocolError) Error() string { return e.Msg }

func protoErr(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

func timeoutErr(msg string) error { return &ProtocolError{Msg: msg, Timeout: true} }

// Process runs a QMP server command on stdio, one process per scenario, in
// the scenario's directory with IMG_DIR set (record.py's convention).
type Process struct {
	Label   string
	Command []string
}

// QEMUCommand is how real QEMU is started.
var QEMUCommand = []string{"qemu-storage-daemon", "--chardev", "stdio,id=m", "--monitor", "m"}

// qemuDaemons is where each QEMU version's qemu-storage-daemon is: 7.2 is
// the system's (Debian 12's package), 10.0 the copy
// scripts/setup-qemu10.sh unpacks into a cache directory (reference §13).
var qemuDaemons = map[fsm.Version]func() string{
	fsm.QEMU7_2:  func() string { return QEMUCommand[0] },
	fsm.QEMU10_0: func() string { return filepath.Join(QEMU10Dir(), "bin", "qemu-storage-daemon-10.0") },
}

// QEMU10Dir is where scripts/setup-qemu10.sh installs QEMU 10.0: $QEMU10_DIR
// (make exports it), else $JOBFSM_QEMU10_DIR, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/jobfsm/qemu-10.0, as the script itself
// chooses.
func QEMU10Dir() string {
	for _, env := range []string{"QEMU10_DIR", "JOBFSM_QEMU10_DIR"} {
		if d := os.Getenv(env); d != "" {
			return d
		}
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	return filepath.Join(cache, "jobfsm", "qemu-10.0")
}

// QEMUDaemon returns the qemu-storage-daemon of version v as a Server on
// stdio, or an error naming how to install it when it is missing.
func QEMUDaemon(v fsm.Version) (*Process, error) {
	where, ok := qemuDaemons[v]
	if !ok {
		return nil, fmt.Errorf("no qemu-storage-daemon is known for QEMU %v", v)
	}
	bin := where()
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("qemu-storage-daemon %v is not installed (%s: %v); `make setup` installs it", v, bin, err)
	}
	return &Process{Label: "qemu-storage-daemon " + v.String(), Command: append([]string{bin}, QEMUCommand[1:]...)}, nil
}

func (p *Process) Name() string { return p.Label }

type procConn struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte
	errc  chan error
}

func (p *Process) Open(dir string) (Conn, error) {
	cmd := exec.Command(p.Command[0], p.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "IMG_DIR="+dir)
	cmd.Stderr = io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &procConn{cmd: cmd, stdin: stdin, lines: make(chan []byte, 256), errc: make(chan error, 1)}
	go func() {
		r := bufio.NewReaderSize(stdout, 1<<16)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				c.lines <- line
			}
			if err != nil {
				c.errc <- protoErr("server closed its output")
				close(c.lines)
				return
			}
		}
	}()
	return c, nil
}

func (c *procConn) Send(cmd map[string]any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		return protoErr("server closed its input")
	}
	return nil
}

func (c *procConn) Recv(deadline time.Time) (map[string]any, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case line, ok := <-c.lines:
		if !ok {
			return nil, <-c.errc
		}
		return decodeMsg(line)
	case <-t.C:
		return nil, timeoutErr("timed out waiting for the server")
	}
}

func (c *procConn) Close() error {
	_ = c.stdin.Close()
	// the whole process group, as record.py does: QEMU may be stuck
	if c.cmd.Process != nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = c.cmd.Wait()
	return nil
}

func decodeMsg(line []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, protoErr("not JSON: %.120q", line)
	}
	return m, nil
}

// InProcess runs scenarios against a qmp.Dispatcher in the test's own
// goroutine: no process, no pipe. Waiting for a message jumps the virtual
// clock to the next timer, so time-bound scenarios cost only CPU.
type InProcess struct {
	Options qmp.Options
}

func (p *InProcess) Name() string { return "in-process" }

type inConn struct {
	d     *qmp.Dispatcher
	s     *qmp.Session
	queue [][]byte
}

func (p *InProcess) Open(dir string) (Conn, error) {
	d := qmp.NewDispatcher(p.Options)
	return &inConn{d: d, s: d.Connect()}, nil
}

func (c *inConn) Send(cmd map[string]any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	c.s.HandleLine(b)
	return nil
}

// maxSteps bounds how far the in-process clock runs for one Recv, so a
// scenario waiting for something that never comes fails instead of
// spinning (a rate-limited job may have billions of slices).
const maxSteps = 1 << 20

func (c *inConn) Recv(deadline time.Time) (map[string]any, error) {
	for n := 0; ; n++ {
		if len(c.queue) == 0 {
			c.queue = c.s.Take()
		}
		if len(c.queue) > 0 {
			line := c.queue[0]
			c.queue = c.queue[1:]
			return decodeMsg(line)
		}
		if c.d.Quit() {
			return nil, protoErr("server closed its output")
		}
		if n >= maxSteps || time.Now().After(deadline) {
			return nil, timeoutErr("timed out waiting for the server")
		}
		if !c.d.Step() {
			return nil, timeoutErr("timed out waiting for the server (simulator idle: nothing more will happen)")
		}
	}
}

func (c *inConn) Close() error { return nil }

// Run plays a scenario against a server and returns its normalized
// transcript. Images are created in a fresh temporary directory.
func Run(scn *Scenario, srv Server, timeout time.Duration) (*Transcript, error) {
	tmp, err := os.MkdirTemp("", "qmp-conformance-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	paths := map[string]string{}
	for _, im := range scn.Images {
		p, err := makeImage(tmp, im, paths)
		if err != nil {
			return nil, err
		}
		paths[im.Name] = p
	}
	conn, err := srv.Open(tmp)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r := &run{conn: conn, paths: paths, deadline: time.Now().Add(timeout), taken: map[int]bool{}}
	t, err := r.play(scn)
	if err != nil {
		return t, err
	}
	mask := map[string]bool{}
	for _, f := range scn.Mask {
		mask[f] = true
	}
	t.Responses = masked(t.Responses, mask).([]any)
	t.Events = masked(t.Events, mask).([]any)
	t.Statuses = statusSequences(t.Events)
	return t, nil
}

type run struct {
	conn     Conn
	paths    map[string]string
	deadline time.Time
	seq      int
	events   []any
	taken    map[int]bool
	t        Transcript
	hung     bool // a hang step got no answer: the server answers nothing more
}

func (r *run) takeEvent(msg map[string]any) error {
	if _, ok := msg["timestamp"]; !ok {
		return protoErr("event without timestamp: %v", msg["event"])
	}
	data, ok := msg["data"]
	if !ok {
		data = map[string]any{}
	}
	r.events = append(r.events, unsubst(map[string]any{"event": msg["event"], "data": data}, r.paths))
	return nil
}

// call sends a command and returns its response, collecting events.
func (r *run) call(cmd map[string]any, id string) (map[string]any, error) {
	return r.callUntil(cmd, id, r.deadline)
}

// callUntil is call with its own deadline for the answer.
func (r *run) callUntil(cmd map[string]any, id string, deadline time.Time) (map[string]any, error) {
	c := make(map[string]any, len(cmd)+1)
	maps.Copy(c, cmd)
	c["id"] = id
	if err := r.conn.Send(c); err != nil {
		return nil, err
	}
	for {
		msg, err := r.conn.Recv(deadline)
		if err != nil {
			return nil, err
		}
		if _, ok := msg["event"]; ok {
			if err := r.takeEvent(msg); err != nil {
				return nil, err
			}
			continue
		}
		if msg["id"] != id {
			b, _ := json.Marshal(msg)
			return nil, protoErr("response without our id: %.160s", b)
		}
		return msg, nil
	}
}

func (r *run) command(cmd map[string]any, order bool) error {
	return r.commandOrHang(cmd, order, "")
}

// commandOrHang runs a command; with a hang window (Step.Hang) the server
// not answering within it is the outcome recorded, and an answer is
// recorded as usual.
func (r *run) commandOrHang(cmd map[string]any, order bool, hang string) error {
	r.seq++
	before := len(r.events)
	deadline := r.deadline
	if hang != "" {
		d, err := time.ParseDuration(hang)
		if err != nil {
			return err
		}
		if w := time.Now().Add(d); w.Before(deadline) {
			deadline = w
		} else {
			return fmt.Errorf("hang window %s is longer than what is left of the scenario timeout", hang)
		}
	}
	msg, err := r.callUntil(cmd, fmt.Sprintf("c%d", r.seq), deadline)
	var pe *ProtocolError
	if hang != "" && errors.As(err, &pe) && pe.Timeout {
		r.hung = true
		r.t.Responses = append(r.t.Responses, map[string]any{"cmd": cmd["execute"], "no_answer_within": hang})
		return nil
	}
	if err != nil {
		return err
	}
	entry := map[string]any{"cmd": cmd["execute"]}
	if order {
		entry["events_before_return"] = eventNames(r.events[before:])
	}
	if ret, ok := msg["return"]; ok {
		entry["return"] = ret
	} else if e, ok := msg["error"].(map[string]any); ok {
		entry["error"] = map[string]any{"class": e["class"], "desc": e["desc"]}
	} else {
		return protoErr("response with neither return nor error")
	}
	r.t.Responses = append(r.t.Responses, unsubst(entry, r.paths))
	return nil
}

func (r *run) nodes(prefix string) ([]any, error) {
	r.seq++
	msg, err := r.call(map[string]any{"execute": "query-named-block-nodes", "arguments": map[string]any{"flat": true}},
		fmt.Sprintf("%s%d", prefix, r.seq))
	if err != nil {
		return nil, err
	}
	l, _ := msg["return"].([]any)
	return l, nil
}

func (r *run) play(scn *Scenario) (*Transcript, error) {
	greeting, err := r.conn.Recv(r.deadline)
	if err != nil {
		return &r.t, err
	}
	q, _ := greeting["QMP"].(map[string]any)
	if q == nil || q["version"] == nil {
		return &r.t, protoErr("no QMP greeting")
	}
	r.t.Responses = append(r.t.Responses, map[string]any{"greeting": map[string]any{"capabilities": q["capabilities"]}})
	if err := r.command(map[string]any{"execute": "qmp_capabilities"}, false); err != nil {
		return &r.t, err
	}
	mark := 0
	for i, st := range scn.Steps {
		var err error
		switch {
		case st.Send != nil:
			mark = len(r.events)
			err = r.commandOrHang(subst(st.Send, r.paths).(map[string]any), st.Order, st.Hang)
		case st.WaitEvent != "":
			err = r.wait(st, mark)
		case st.Bitmaps != "":
			var l []any
			if l, err = r.nodes("b"); err == nil {
				var bms []any
				for _, n := range l {
					if m, _ := n.(map[string]any); m["node-name"] == st.Bitmaps {
						bms, _ = m["dirty-bitmaps"].([]any)
					}
				}
				sortByName(bms)
				if bms == nil {
					bms = []any{}
				}
				r.t.Responses = append(r.t.Responses, map[string]any{"bitmaps": st.Bitmaps, "dirty-bitmaps": bms})
			}
		case st.Graph != nil:
			var l []any
			if l, err = r.nodes("g"); err == nil {
				byName := map[string]map[string]any{}
				for _, n := range l {
					if m, ok := n.(map[string]any); ok {
						if name, ok := m["node-name"].(string); ok {
							byName[name] = m
						}
					}
				}
				g := map[string]any{}
				for _, name := range st.Graph {
					n := byName[name]
					if n == nil {
						g[name] = nil
						continue
					}
					g[name] = map[string]any{"drv": n["drv"], "ro": n["ro"], "backing_file": n["backing_file"],
						"backing_file_depth": n["backing_file_depth"]}
				}
				r.t.Responses = append(r.t.Responses, unsubst(map[string]any{"graph": g}, r.paths))
			}
		case st.GuestSHA256 != "":
			var dg string
			if dg, err = guestDigest(r.paths[st.GuestSHA256], r.deadline); err == nil {
				r.t.Responses = append(r.t.Responses, map[string]any{"guest_sha256": st.GuestSHA256, "digest": dg})
			}
		case st.SHA256 != "":
			var b []byte
			if b, err = os.ReadFile(r.paths[st.SHA256]); err == nil {
				sum := sha256.Sum256(b)
				r.t.Responses = append(r.t.Responses, map[string]any{"sha256": st.SHA256, "digest": hex.EncodeToString(sum[:])})
			}
		}
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return &r.t, protoErr("step %d: %s", i, pe.Msg)
			}
			return &r.t, err
		}
	}
	// A final command whose answer is not recorded: every event the server
	// emitted before answering it (e.g. the completion of a cancel the last
	// wait did not ask for) belongs to the transcript, on every server. A
	// hung server would not answer it: its transcript ends with the events
	// that came within the hang window.
	r.seq++
	if !r.hung {
		if _, err := r.call(map[string]any{"execute": "query-jobs"}, fmt.Sprintf("sync%d", r.seq)); err != nil {
			return &r.t, protoErr("final sync: %v", err)
		}
	}
	r.t.Events = r.events
	if r.t.Events == nil {
		r.t.Events = []any{}
	}
	return &r.t, nil
}

// wait takes the first matching event since mark that no earlier wait took.
func (r *run) wait(st Step, mark int) error {
	for {
		for i := mark; i < len(r.events); i++ {
			if r.taken[i] {
				continue
			}
			e := r.events[i].(map[string]any)
			if e["event"] == st.WaitEvent && matches(e["data"], normalize(st.Match)) {
				r.taken[i] = true
				return nil
			}
		}
		msg, err := r.conn.Recv(r.deadline)
		if err != nil {
			return err
		}
		if _, ok := msg["event"]; !ok {
			b, _ := json.Marshal(msg)
			return protoErr("unexpected message while waiting: %.160s", b)
		}
		if err := r.takeEvent(msg); err != nil {
			return err
		}
	}
}

// eventNames renders events compactly for an order record:
// "JOB_STATUS_CHANGE id status", or the event's name and its job
// ("BLOCK_JOB_CANCELLED j0").
func eventNames(evs []any) []any {
	out := []any{}
	for _, e := range evs {
		m, _ := e.(map[string]any)
		d, _ := m["data"].(map[string]any)
		name, _ := m["event"].(string)
		id, _ := d["id"].(string)
		if id == "" {
			id, _ = d["device"].(string)
		}
		s := name + " " + id
		if st, ok := d["status"].(string); ok && name == "JOB_STATUS_CHANGE" {
			s += " " + st
		}
		out = append(out, s)
	}
	return out
}

func matches(data any, want any) bool {
	d, _ := data.(map[string]any)
	w, _ := want.(map[string]any)
	for k, v := range w {
		if !jsonEqual(d[k], v) {
			return false
		}
	}
	return true
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// normalize turns json.Number (scenario files) into float64, as messages
// decoded from the wire have.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	}
	return v
}

func sortByName(l []any) {
	name := func(v any) string {
		m, _ := v.(map[string]any)
		s, _ := m["name"].(string)
		return s
	}
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && name(l[j-1]) > name(l[j]); j-- {
			l[j-1], l[j] = l[j], l[j-1]
		}
	}
}

// subst puts each image's path where a scenario says ${IMG:name}.
func subst(v any, paths map[string]string) any {
	return replaceStrings(v, func(s string) string {
		for n, p := range paths {
			s = strings.ReplaceAll(s, "${IMG:"+n+"}", p)
		}
		return s
	})
}

// unsubst is subst's inverse, for what a transcript records.
func unsubst(v any, paths map[string]string) any {
	return replaceStrings(v, func(s string) string {
		for n, p := range paths {
			s = strings.ReplaceAll(s, p, "${IMG:"+n+"}")
		}
		return s
	})
}

// replaceStrings returns a copy of the JSON value v with f applied to every
// string in it (not to object keys).
func replaceStrings(v any, f func(string) string) any {
	return rewriteJSON(v, "", func(_ string, v any) (any, bool) {
		s, ok := v.(string)
		if ok {
			s = f(s)
		}
		return s, ok
	})
}

// masked returns a copy of v with the value of every object member named
// in fields replaced by "*".
func masked(v any, fields map[string]bool) any {
	if len(fields) == 0 {
		return v
	}
	return rewriteJSON(v, "", func(k string, _ any) (any, bool) { return "*", fields[k] })
}

// rewriteJSON returns a copy of the JSON value v (key: the object member's
// name it is, or "") with each value replaced by what f gives when f says
// so, the others copied with their members and elements rewritten in turn.
func rewriteJSON(v any, key string, f func(key string, v any) (any, bool)) any {
	if r, ok := f(key, v); ok {
		return r
	}
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = rewriteJSON(e, k, f)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = rewriteJSON(e, "", f)
		}
		return l
	}
	return v
}

func makeImage(dir string, im Image, paths map[string]string) (string, error) {
	if im.Format == "" || im.Format == "raw" {
		p := filepath.Join(dir, im.Name+".raw")
		f, err := os.Create(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if err := f.Truncate(im.Size); err != nil {
			return "", err
		}
		for _, fl := range im.Fill {
			if _, err := f.WriteAt(bytes.Repeat([]byte{byte(fl[2])}, int(fl[1])), fl[0]); err != nil {
				return "", err
			}
		}
		return p, f.Close()
	}
	p := filepath.Join(dir, im.Name+".qcow2")
	args := []string{"create", "-q", "-f", "qcow2"}
	if im.Backing != "" {
		b := paths[im.Backing]
		fmtName := "raw"
		if strings.HasSuffix(b, ".qcow2") {
			fmtName = "qcow2"
		}
		args = append(args, "-b", b, "-F", fmtName)
	}
	args = append(args, p, fmt.Sprint(im.Size))
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("qemu-img: %v: %s", err, out)
	}
	var w []string
	for _, fl := range im.Fill {
		w = append(w, "-c", fmt.Sprintf("write -q -P %d %d %d", fl[2], fl[0], fl[1]))
	}
	if len(w) > 0 {
		args := append([]string{"-f", "qcow2"}, append(w, p)...)
		if out, err := exec.Command("qemu-io", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("qemu-io: %v: %s", err, out)
		}
	}
	return p, nil
}

func guestDigest(path string, deadline time.Time) (string, error) {
	out := path + ".guest"
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "qemu-img", "convert", "-O", "raw", path, out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("qemu-img convert: %v: %s", err, b)
	}
	defer os.Remove(out)
	b, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
