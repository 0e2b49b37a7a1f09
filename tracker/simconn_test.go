package tracker

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"time"

	"github.com/jobfsm/jobfsm/qmp"
)

// simConn is a QMP connection to an in-process jobsim dispatcher, driven
// synchronously from the test's goroutine: a Write hands the message to the
// dispatcher's session and queues its answer and events for Read. It is a
// real QMP byte stream (the tracker's client parses what jobsim encodes),
// without a server goroutine, so a run is a pure function of its seed.
//
// Faults: events may be dropped, and the connection can break at a chosen
// message, either before the dispatcher sees it (the command is lost) or
// after (the answer is lost).
type simConn struct {
	s *qmp.Session
	// feed holds the bytes written and not yet decoded; dec is one decoder
	// for the connection's life, as the server has (a decoder per message
	// would cost more than the command it carries).
	feed   bytes.Buffer
	dec    *qmp.Decoder
	out    bytes.Buffer
	closed bool
	// dropEvent, when set, decides whether an event line is lost.
	dropEvent func() bool
	// breakAt is the message number at which the connection breaks (0:
	// never); breakBefore chooses whether the dispatcher sees it.
	n           int
	breakAt     int
	breakBefore bool
	// onCommand is called with each command (after the break check,
	// before the dispatcher handles it).
	onCommand func(cmd string, args map[string]any)
	// idle, when set, stands for waiting: a Read with nothing to read
	// calls it (a watch test moves virtual time there) before timing out.
	idle func()
}

func newSimConn(d *qmp.Dispatcher) *simConn {
	c := &simConn{s: d.Connect()}
	c.dec = qmp.NewDecoder(&c.feed)
	c.pull()
	return c
}

func (c *simConn) pull() {
	for _, l := range c.s.Take() {
		if c.dropEvent != nil && bytes.HasPrefix(l, []byte(`{"timestamp"`)) && c.dropEvent() {
			continue
		}
		c.out.Write(l)
		c.out.WriteByte('\n')
	}
}

func (c *simConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	c.n++
	if c.n == c.breakAt && c.breakBefore {
		c.Close()
		return 0, net.ErrClosed
	}
	var req struct {
		Execute   string         `json:"execute"`
		Arguments map[string]any `json:"arguments"`
	}
	if c.onCommand != nil && json.Unmarshal(p, &req) == nil {
		c.onCommand(req.Execute, req.Arguments)
	}
	c.handle(p)
	c.pull()
	if c.n == c.breakAt {
		c.Close()
	}
	return len(p), nil
}

// handle gives the dispatcher the message in p. The tracker's client
// writes each message whole in one Write (or its newline alone), so one
// Next decodes it without reading past it; the feed is never read empty,
// which would end the decoder for good.
func (c *simConn) handle(p []byte) {
	if len(bytes.TrimSpace(p)) == 0 {
		return
	}
	c.feed.Write(p)
	v, err := c.dec.Next()
	if err != nil {
		// not one whole message: answer the error and start afresh, as the
		// server's reader would after a parse error
		c.s.HandleError(err)
		c.feed.Reset()
		c.dec = qmp.NewDecoder(&c.feed)
		return
	}
	c.s.Handle(v)
}

func (c *simConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, io.EOF
	}
	c.pull()
	if c.out.Len() == 0 && c.idle != nil {
		c.idle()
		c.pull()
	}
	if c.out.Len() == 0 {
		// nothing happens until the test moves time: a watch times out
		return 0, os.ErrDeadlineExceeded
	}
	return c.out.Read(p)
}

func (c *simConn) Close() error {
	if !c.closed {
		c.closed = true
		c.out.Reset()
		c.s.Close()
	}
	return nil
}

func (c *simConn) LocalAddr() net.Addr                { return simAddr{} }
func (c *simConn) RemoteAddr() net.Addr               { return simAddr{} }
func (c *simConn) SetDeadline(t time.Time) error      { return nil }
func (c *simConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *simConn) SetWriteDeadline(t time.Time) error { return nil }

type simAddr struct{}

func (simAddr) Network() string { return "sim" }
func (simAddr) String() string  { return "jobsim" }
