package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/qmp"
)

// Record is one fault that fired.
type Record struct {
	// Seq orders records and traffic (Message.Seq) of one Injector.
	Seq int
	// Rule is the index of the rule in the plan.
	Rule int
	Kind Kind
	// Monitor is the connection it hit (0 for restart and io).
	Monitor int
	// Event and Job name the event it acted on, if any.
	Event string
	Job   string
	// Detail says what happened, e.g. "dropped", "closed after 5 messages".
	Detail string
}

func (r Record) String() string {
	s := fmt.Sprintf("fault rules[%d] %s", r.Rule, r.Kind)
	if r.Monitor != 0 {
		s += fmt.Sprintf(" monitor %d", r.Monitor)
	}
	if r.Event != "" {
		s += " " + r.Event
	}
	if r.Job != "" {
		s += " " + r.Job
	}
	return s + ": " + r.Detail
}

// Message is one QMP message on a monitor, as the injector saw it: sent by
// the client (FromClient) or by the server, and what the plan did to it.
type Message struct {
	Seq        int
	Monitor    int
	FromClient bool
	Raw        []byte
	// Fate is "" for a message delivered as is, else "dropped", "delayed",
	// "held back by a close" or "lost to a restart".
	Fate string
}

// Injector applies one plan to any number of monitors. It is safe for
// concurrent use: every connection's writer calls into it.
type Injector struct {
	plan *Plan
	// Restart, when set, restarts the daemon (qmp.Server.Restart). It is
	// called from the monitor's writer, before that connection is closed,
	// and must not wait for that writer.
	Restart func()
	// Logf, when set, receives every record as one line.
	Logf func(format string, args ...any)
	// Observe, when set, sees every message in order (the contract checker).
	Observe func(Message)

	mu       sync.Mutex
	seq      int
	rngs     []*rand.Rand
	fired    []int
	log      []Record
	monitors int
}

// New returns an injector for plan (nil: no faults, traffic still observed).
func New(plan *Plan) *Injector {
	if plan == nil {
		plan = &Plan{}
	}
	in := &Injector{plan: plan, fired: make([]int, len(plan.Rules))}
	for i := range plan.Rules {
		// One stream per rule: adding a rule does not change the draws of
		// the others.
		in.rngs = append(in.rngs, rand.New(rand.NewPCG(plan.Seed, uint64(i)+1)))
	}
	return in
}

// Plan is the injector's plan.
func (in *Injector) Plan() *Plan { return in.plan }

// Log returns the faults that fired so far, in order.
func (in *Injector) Log() []Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Record(nil), in.log...)
}

// Mark returns the next number of the sequence that orders records and
// messages, for something else to be placed among them (qmptest numbers
// the simulator's events with it as they are produced).
func (in *Injector) Mark() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seq++
	return in.seq
}

// record logs a fault; in.mu is held.
func (in *Injector) record(r Record) {
	in.seq++
	r.Seq = in.seq
	r.Kind = in.plan.Rules[r.Rule].Kind
	in.log = append(in.log, r)
	if in.Logf != nil {
		in.Logf("%s", r)
	}
}

// observe passes a message to Observe; in.mu is held.
func (in *Injector) observe(mon int, fromClient bool, raw []byte, fate string) {
	in.seq++
	if in.Observe != nil {
		in.Observe(Message{Seq: in.seq, Monitor: mon, FromClient: fromClient, Raw: append([]byte(nil), raw...), Fate: fate})
	}
}

// fires decides whether rule i fires now and counts it; in.mu is held.
func (in *Injector) fires(i int) bool {
	r := in.plan.Rules[i]
	if r.Count > 0 && in.fired[i] >= r.Count {
		return false
	}
	if r.Probability < 1 && in.rngs[i].Float64() >= r.Probability {
		return false
	}
	in.fired[i]++
	return true
}

// Arm makes the plan's I/O rules part of d: each is armed on its node as
// soon as blockdev-add created the node (and again after a restart), so no
// job can run on the node before. Call it on the dispatcher's goroutine
// (with qmp.Server.Do while the server runs).
func (in *Injector) Arm(d *qmp.Dispatcher) {
	for _, n := range d.Graph().Nodes() {
		in.ArmNode(d, n.Name())
	}
	d.OnCommand(func(name string, args *qmp.Object, err error) {
		if name != "blockdev-add" || err != nil {
			return
		}
		if v, ok := args.Get("node-name"); ok {
			if s, ok := v.(string); ok {
				in.ArmNode(d, s)
			}
		}
	})
}

// ArmNode arms the plan's I/O rules for node (Arm does it for nodes that
// blockdev-add creates; call it for a node made another way).
func (in *Injector) ArmNode(d *qmp.Dispatcher, node string) {
	for i, r := range in.plan.Rules {
		if r.Kind != KindIO || r.Node != node {
			continue
		}
		in.mu.Lock()
		ok := in.fires(i)
		in.mu.Unlock()
		if !ok {
			continue
		}
		rule := blockdev.InjectRule{
			Read: r.Op != "write", Write: r.Op != "read",
			Start: r.Offset, End: r.Offset + r.Length,
			Errno: errno.Errno(r.Errno), Once: r.Once,
		}
		if _, err := d.Graph().InjectError(node, rule); err != nil {
			continue
		}
		in.mu.Lock()
		in.record(Record{Rule: i, Detail: "armed on node " + node})
		in.mu.Unlock()
	}
}

// WrapListener numbers the accepted connections 1, 2, … and applies the
// plan to each.
func (in *Injector) WrapListener(l net.Listener) net.Listener {
	return &listener{Listener: l, in: in}
}

type listener struct {
	net.Listener
	in *Injector
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.in.WrapConn(c), nil
}

// WrapConn applies the plan to one monitor connection, numbered next.
func (in *Injector) WrapConn(c net.Conn) net.Conn {
	return &conn{Conn: c, in: in, mon: in.nextMonitor()}
}

// nextMonitor numbers a new monitor connection (from 1).
func (in *Injector) nextMonitor() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.monitors++
	return in.monitors
}

// WrapWriter applies the plan's drop and delay rules to a server's output
// that is not a connection (jobsim qmp on stdio, monitor 1); the client's
// input is observed through ObserveReader.
func (in *Injector) WrapWriter(w io.Writer) (io.Writer, func(io.Reader) io.Reader) {
	c := &conn{in: in, mon: in.nextMonitor(), w: w}
	return c, func(r io.Reader) io.Reader { return &observedReader{r: r, c: c} }
}

type observedReader struct {
	r io.Reader
	c *conn
}

func (o *observedReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.c.sawClient(p[:n])
	return n, err
}

// conn is one monitor under the plan. Writes carry whole lines from
// qmp.Server (one message a line); Read sees the client's requests.
type conn struct {
	net.Conn
	w   io.Writer // when not a net.Conn (stdio)
	in  *Injector
	mon int

	wmu     sync.Mutex
	partial []byte
	sent    int
	held    []heldLine
	closed  bool
	cmu     sync.Mutex
	scan    scanner
	onClose sync.Once
}

type heldLine struct {
	line []byte
	left int
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.sawClient(p[:n])
	return n, err
}

func (c *conn) sawClient(p []byte) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	for _, msg := range c.scan.feed(p) {
		c.in.mu.Lock()
		c.in.observe(c.mon, true, msg, "")
		c.in.mu.Unlock()
	}
}

// SetWriteDeadline bounds a write on a socket; a stdio stream has no
// deadline (the server's close asks for one on every writer it can).
func (c *conn) SetWriteDeadline(t time.Time) error {
	if c.Conn == nil {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *conn) Close() error {
	var err error
	c.onClose.Do(func() {
		if c.Conn != nil {
			err = c.Conn.Close()
		}
	})
	return err
}

// out writes lines to the underlying stream.
func (c *conn) out(lines [][]byte) error {
	var buf []byte
	for _, l := range lines {
		buf = append(buf, l...)
		buf = append(buf, '\n')
	}
	if len(buf) == 0 {
		return nil
	}
	if c.w != nil {
		_, err := c.w.Write(buf)
		return err
	}
	_, err := c.Conn.Write(buf)
	return err
}

// eventOf returns a message's event name and job id ("" when not an event).
func eventOf(line []byte) (name, job string) {
	var m struct {
		Event string `json:"event"`
		Data  struct {
			ID     string `json:"id"`
			Device string `json:"device"`
		} `json:"data"`
	}
	if json.Unmarshal(line, &m) != nil {
		return "", ""
	}
	job = m.Data.ID
	if job == "" {
		job = m.Data.Device
	}
	return m.Event, job
}

func (r Rule) matches(mon int, event, job string) bool {
	return (r.Monitor == 0 || r.Monitor == mon) &&
		(r.Event == "" || r.Event == event) &&
		(r.Job == "" || r.Job == job)
}

// Write filters the server's lines through the plan.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.partial = append(c.partial, p...)
	var pass [][]byte
	in := c.in
	in.mu.Lock()
	closeNow, restart := false, false
	for !closeNow {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(nil), c.partial[:i]...)
		c.partial = c.partial[i+1:]
		event, job := eventOf(line)
		fate := ""
		if event != "" {
			for ri, r := range in.plan.Rules {
				if r.Kind == KindIO || r.AfterMessages != 0 || !r.matches(c.mon, event, job) || !in.fires(ri) {
					continue
				}
				rec := Record{Rule: ri, Monitor: c.mon, Event: event, Job: job}
				switch r.Kind {
				case KindDrop:
					fate, rec.Detail = "dropped", "dropped"
				case KindDelay:
					fate, rec.Detail = "delayed", fmt.Sprintf("delayed by %d messages", r.Messages)
					c.held = append(c.held, heldLine{line, r.Messages})
				case KindClose:
					fate, rec.Detail, closeNow = "held back by a close", "connection closed before the event", true
				case KindRestart:
					fate, rec.Detail, closeNow, restart = "lost to a restart", "daemon restarted before the event", true, true
				}
				in.record(rec)
				break
			}
		}
		in.observe(c.mon, false, line, fate)
		if fate != "" {
			continue
		}
		pass = append(pass, line)
		closeNow, restart = c.sentOne(&pass)
	}
	in.mu.Unlock()
	err := c.out(pass)
	if closeNow {
		c.closed = true
		if restart && in.Restart != nil {
			// Before the client sees its connection end: a client that
			// reconnects at once must find the restarted daemon.
			in.Restart()
		}
		_ = c.Close()
		return len(p), net.ErrClosed
	}
	return len(p), err
}

// sentOne counts a delivered message, releases delayed ones that are due
// and applies after_messages rules; in.mu is held.
func (c *conn) sentOne(pass *[][]byte) (closeNow, restart bool) {
	in := c.in
	c.sent++
	var keep []heldLine
	var due [][]byte
	for _, h := range c.held {
		h.left--
		if h.left <= 0 {
			due = append(due, h.line)
		} else {
			keep = append(keep, h)
		}
	}
	c.held = keep
	for ri, r := range in.plan.Rules {
		if (r.Kind != KindClose && r.Kind != KindRestart) || r.AfterMessages == 0 ||
			(r.Monitor != 0 && r.Monitor != c.mon) || c.sent != r.AfterMessages || !in.fires(ri) {
			continue
		}
		detail := fmt.Sprintf("connection closed after %d messages", c.sent)
		if r.Kind == KindRestart {
			detail = fmt.Sprintf("daemon restarted after %d messages", c.sent)
			restart = true
		}
		in.record(Record{Rule: ri, Monitor: c.mon, Detail: detail})
		return true, restart
	}
	for _, l := range due {
		in.observe(c.mon, false, l, "")
		*pass = append(*pass, l)
		if cl, rs := c.sentOne(pass); cl {
			return cl, rs
		}
	}
	return false, false
}

// scanner splits a client's byte stream into top-level JSON objects
// (QMP needs no newlines; strings may be single-quoted).
type scanner struct {
	buf    []byte
	depth  int
	quote  byte
	escape bool
}

func (s *scanner) feed(p []byte) [][]byte {
	var out [][]byte
	for _, b := range p {
		if s.depth == 0 && b != '{' {
			continue
		}
		s.buf = append(s.buf, b)
		switch {
		case s.quote != 0:
			switch {
			case s.escape:
				s.escape = false
			case b == '\\':
				s.escape = true
			case b == s.quote:
				s.quote = 0
			}
		case b == '"' || b == '\'':
			s.quote = b
		case b == '{' || b == '[':
			s.depth++
		case b == '}' || b == ']':
			s.depth--
			if s.depth == 0 {
				out = append(out, s.buf)
				s.buf = nil
			}
		}
		if len(s.buf) > 1<<20 { // not QMP; do not grow without bound
			s.buf, s.depth, s.quote = nil, 0, 0
		}
	}
	return out
}
