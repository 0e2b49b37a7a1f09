package qmp

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"
)

// ClockMode says how the server moves the simulator's virtual clock.
type ClockMode int

const (
	// ClockWall keeps virtual time equal to the wall time since start:
	// timers fire at real time, as in QEMU.
	ClockWall ClockMode = iota
	// ClockVirtual jumps to the next timer whenever nothing is runnable and
	// no client has spoken for Grace: the run is as fast as the CPU allows
	// and, for a client that reacts within Grace, gives the same transcript.
	ClockVirtual
)

// DefaultGrace is how long ClockVirtual waits for a client's reaction to
// the last message before jumping ahead. A scripted client answers in
// microseconds; the margin covers a loaded CI machine.
const DefaultGrace = time.Millisecond

// DefaultRate is ClockVirtual's speed bound: 10⁵ virtual seconds per wall
// second. A time-bound scenario (seconds of virtual time) needs
// milliseconds, while a job QEMU keeps running for decades (speed 1 on a
// 1 GiB node) still needs hours of wall time, so clients see it running.
const DefaultRate = 1e5

// ServerOptions configure a Server.
type ServerOptions struct {
	Options
	Clock ClockMode
	// Grace is ClockVirtual's quiet period (default DefaultGrace).
	Grace time.Duration
	// Rate bounds how much faster than the wall clock ClockVirtual may run
	// (default DefaultRate).
	Rate float64
}

// Server runs a Dispatcher in one goroutine (Run) and serves any number of
// connections, each its own monitor. Connections only parse and write;
// every command goes through one channel to the loop, so the simulator is
// never touched concurrently.
type Server struct {
	opts  ServerOptions
	d     *Dispatcher
	reqs  chan request
	mu    sync.Mutex
	conns map[*conn]bool
	done  chan struct{}
}

type reqKind int

const (
	reqConnect reqKind = iota
	reqMessage
	reqError
	reqClose
	reqCall // run fn on the loop (Server.Do)
)

type request struct {
	c    *conn
	kind reqKind
	msg  any
	err  error
	fn   func()
}

// conn is one connection: a reader goroutine feeding the loop and a writer
// goroutine draining an unbounded queue, so a slow client never blocks the
// simulator.
type conn struct {
	rw      io.ReadWriteCloser
	w       io.Writer
	sess    *Session
	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte
	closing bool
	flushed chan struct{}
}

// NewServer returns a server over a fresh simulator.
func NewServer(opts ServerOptions) *Server {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Now()
	}
	return &Server{
		opts:  opts,
		d:     NewDispatcher(opts.Options),
		reqs:  make(chan request, 64),
		conns: map[*conn]bool{},
		done:  make(chan struct{}),
	}
}

// Dispatcher returns the server's dispatcher; only the loop may use it
// while Run is active.
func (srv *Server) Dispatcher() *Dispatcher { return srv.d }

// Attach serves one connection (r for requests, w for responses). closer,
// when not nil, is closed when the connection ends.
func (srv *Server) Attach(r io.Reader, w io.Writer, closer io.Closer) {
	c := &conn{w: w, flushed: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	srv.mu.Lock()
	srv.conns[c] = true
	srv.mu.Unlock()
	go c.writer(closer)
	select {
	case srv.reqs <- request{c: c, kind: reqConnect}:
	case <-srv.done:
		c.close()
		return
	}
	go func() {
		dec := NewDecoder(r)
		for {
			v, err := dec.Next()
			var rq request
			switch {
			case err == nil:
				rq = request{c: c, kind: reqMessage, msg: v}
			case errors.Is(err, io.EOF) || isNetClosed(err):
				rq = request{c: c, kind: reqClose}
			case isParse(err):
				rq = request{c: c, kind: reqError, err: err}
			default:
				rq = request{c: c, kind: reqClose}
			}
			select {
			case srv.reqs <- rq:
			case <-srv.done:
				return
			}
			if rq.kind == reqClose {
				return
			}
		}
	}()
}

func isParse(err error) bool {
	var pe *ParseError
	var le *limitError
	return errors.As(err, &pe) || errors.As(err, &le)
}

func isNetClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)
}

func (c *conn) push(lines [][]byte) {
	if len(lines) == 0 {
		return
	}
	c.mu.Lock()
	c.queue = append(c.queue, lines...)
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *conn) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cond.Signal()
}

func (c *conn) writer(closer io.Closer) {
	defer close(c.flushed)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closing {
			c.cond.Wait()
		}
		q := c.queue
		c.queue = nil
		closing := c.closing
		c.mu.Unlock()
		var buf []byte
		for _, l := range q {
			buf = append(buf, l...)
			buf = append(buf, '\n')
		}
		if len(buf) > 0 {
			if _, err := c.w.Write(buf); err != nil {
				closing = true
			}
		}
		if closing {
			if closer != nil {
				_ = closer.Close()
			}
			return
		}
	}
}

// ServeUnix listens on a Unix socket; every accepted connection is a new
// monitor. It returns when the listener fails or the server stops.
func (srv *Server) ServeUnix(l net.Listener) error {
	go func() {
		<-srv.done
		_ = l.Close()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-srv.done:
				return nil
			default:
			}
			return err
		}
		srv.Attach(nc, nc, nc)
	}
}

// Run is the simulator's goroutine. It returns after quit, when ctx ends,
// or (with stopOnLastClose) when the last connection closed; queued output
// is flushed first.
func (srv *Server) Run(ctx context.Context, stopOnLastClose bool) error {
	d := srv.d
	m := d.m
	wall := srv.opts.Clock == ClockWall
	epoch := srv.opts.Epoch
	lastIO := time.Now()
	started := lastIO
	defer close(srv.done)
	flush := func() {
		srv.mu.Lock()
		for c := range srv.conns {
			if c.sess != nil && c.sess.Pending() {
				c.push(c.sess.Take())
				lastIO = time.Now()
			}
		}
		srv.mu.Unlock()
	}
	catchUp := func() {
		if !wall {
			return
		}
		target := int64(time.Since(epoch))
		if target > m.Now() {
			m.Advance(target - m.Now())
		}
	}
	live := 0
	// handle serves one request; it reports whether Run should return.
	handle := func(rq request) bool {
		lastIO = time.Now()
		catchUp()
		switch rq.kind {
		case reqCall:
			rq.fn()
		case reqConnect:
			rq.c.sess = d.Connect()
			live++
		case reqMessage:
			rq.c.sess.Handle(rq.msg)
		case reqError:
			rq.c.sess.HandleError(rq.err)
		case reqClose:
			flushOne(rq.c)
			rq.c.sess.Close()
			srv.mu.Lock()
			delete(srv.conns, rq.c)
			srv.mu.Unlock()
			rq.c.close()
			waitFlushed(rq.c)
			live--
			return stopOnLastClose && live == 0
		}
		return false
	}
	for {
		m.Settle()
		flush()
		if d.Quit() {
			break
		}
		var timer <-chan time.Time
		var t *time.Timer
		if due, ok := m.NextDue(); ok {
			var wait time.Duration
			if wall {
				wait = time.Until(epoch.Add(time.Duration(due)))
			} else {
				// Virtual time may jump to the next timer once the clients
				// have been quiet for Grace, but never runs more than Rate
				// times faster than the wall clock: a job that QEMU keeps
				// busy "forever" (speed 1) stays so, while time-bound jobs
				// finish at CPU speed.
				quiet := time.Since(lastIO)
				allow := allowance(time.Since(started), srv.opts.Rate)
				if quiet >= srv.opts.Grace && due <= allow {
					select {
					case rq := <-srv.reqs:
						if handle(rq) {
							srv.shutdown()
							return nil
						}
					default:
						m.Step()
					}
					continue
				}
				wait = srv.opts.Grace - quiet
				if ahead := time.Duration(float64(due-allow) / srv.opts.Rate); ahead > wait {
					wait = ahead
				}
			}
			if wait < 0 {
				wait = 0
			}
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			srv.shutdown()
			return ctx.Err()
		case <-timer:
			catchUp()
		case rq := <-srv.reqs:
			if t != nil {
				t.Stop()
			}
			if handle(rq) {
				srv.shutdown()
				return nil
			}
		}
	}
	srv.shutdown()
	return nil
}

// allowance is how far ClockVirtual may have moved after elapsed wall time
// at rate, saturating instead of overflowing int64.
func allowance(elapsed time.Duration, rate float64) int64 {
	f := float64(elapsed) * rate
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

func flushOne(c *conn) {
	if c.sess != nil && c.sess.Pending() {
		c.push(c.sess.Take())
	}
}

// shutdown flushes and closes every connection and waits for the writers.
func (srv *Server) shutdown() {
	srv.mu.Lock()
	var cs []*conn
	for c := range srv.conns {
		flushOne(c)
		c.close()
		cs = append(cs, c)
	}
	srv.conns = map[*conn]bool{}
	srv.mu.Unlock()
	for _, c := range cs {
		waitFlushed(c)
	}
}

// waitFlushed waits (boundedly: a client may have stopped reading) until
// the connection's writer has written everything and closed.
func waitFlushed(c *conn) {
	select {
	case <-c.flushed:
	case <-time.After(2 * time.Second):
	}
}
